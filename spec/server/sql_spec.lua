-- SQL storage (README "SQL storage"): the module on Prosody's `storage = "sql"`,
-- with SQLite3 (a file in Prosody's data directory) and with a real PostgreSQL
-- server (spec/helpers/postgres.lua), for every backend this Prosody supports:
-- registration, a push relayed, revocation, and across one restart the
-- endpoints, the revocations and the hourly purge of expired registrations,
-- each checked in the database's own tables.
local prosody = require "prosody";
local postgres = require "postgres";
local up = require "unified_push";
local loop = require "loop";
local lfs = require "lfs";

-- alice's host keeps the default registration TTL; bob's expires in a second,
-- for the purge.
local HOST = "example.test";
local SHORT = "short.test";
local USERS = { { "alice", HOST, "password" }, { "bob", SHORT, "password" } };
-- jwt needs a secret; 44 characters, like `openssl rand -base64 32`.
local SECRET = "c3FsIHNwZWMgc2VjcmV0LCBmb3IgdGVzdHMgb25seSEhIQ==";
-- A body with bytes that are not text, so the relay is checked byte for byte.
local BODY = "aes128gcm\0\1\2\255 payload";

local BACKENDS = {
	{ name = "storage", options = {} },
	{ name = "jwt", options = { unified_push_secret = SECRET }, stateless = true },
};
if prosody.major >= 13 then
	BACKENDS[#BACKENDS + 1] = { name = "paseto", options = {}, stateless = true };
end

-- Each engine: its `sql` option for a database named after the case, and a
-- luadbi connection to that database from the spec.
local cluster; -- PostgreSQL, started once for the engine's cases
local installed = postgres.installation();
local ENGINES = {
	{
		name = "SQLite3",
		start = function() end,
		stop = function() end,
		sql = function(name) return { driver = "SQLite3", database = name .. ".sqlite" }; end,
		connect = function(server, sql)
			-- A relative database is a file in Prosody's data directory.
			local db = assert(require "DBI".Connect("SQLite3", server.data_dir .. "/" .. sql.database));
			-- Prosody may be writing (mod_cron saves a task's run): wait for its lock.
			local pragma = assert(db:prepare("PRAGMA busy_timeout = 5000"));
			assert(pragma:execute());
			pragma:close();
			return db;
		end,
	},
	{
		name = "PostgreSQL" .. (installed and " " .. installed.version or ""),
		start = function() cluster = postgres.start(); end,
		stop = function() if cluster then cluster:cleanup(); end end,
		sql = function(name) return cluster:create_database(name); end,
		connect = function(_, sql) return cluster:connect(sql); end,
	},
};

-- Where the module keeps a token: records and index entries are named by a hash.
local function token_key(registration)
	return up.token_key(registration.token);
end

local function expiry_of(registration)
	return (assert(up.parse_utc(registration.expiration), "not a XEP-0082 datetime: " .. tostring(registration.expiration)));
end

for _, engine in ipairs(ENGINES) do
	describe("Prosody " .. prosody.version .. " with storage = \"sql\" on " .. engine.name, function()
		setup(engine.start);
		teardown(engine.stop);

		for _, backend in ipairs(BACKENDS) do
			describe("and the " .. backend.name .. " backend", function()
				local server, sql, alice, bob;
				-- Registrations made by the tests, used again after the restart.
				local kept, gone, quiet;

				-- Rows of Prosody's table for one store (and record, and key).
				local function rows(host, store, user, key)
					local db = assert(engine.connect(server, sql));
					local query = [[SELECT COUNT(*) FROM "prosody" WHERE "host" = ? AND "store" = ? AND "user" = ?]];
					local args = { host, store, user };
					if key then
						query = query .. [[ AND "key" = ?]];
						args[4] = key;
					end
					local statement = assert(db:prepare(query));
					assert(statement:execute(table.unpack(args)));
					local row = statement:fetch(false);
					statement:close();
					db:close();
					return tonumber(row[1]);
				end

				local function connect(user, host)
					return up.connect(server, { user = user, host = host });
				end

				-- POSTs to an endpoint; returns the response and the pushes the distributor got
				-- for it. The ping round trip makes that final: once its answer is back, every
				-- IQ the server sent before it has arrived.
				local function post(endpoint)
					local before = #alice.received;
					local response = assert(up.push(server, endpoint, BODY, { ["Content-Type"] = "application/octet-stream" }));
					local pong = up.ping(alice, HOST);
					assert(pong and pong.attr.type == "result", "no answer to the ping: " .. tostring(pong));
					local pushes = {};
					for _, push in ipairs(up.pushes(alice, before)) do
						pushes[#pushes + 1] = { from = push.from, application = push.application, instance = push.instance, body = push.body };
					end
					return response, pushes;
				end

				setup(function()
					-- A burst that lets one endpoint take the 130 pushes of the bucket case.
					-- The tables are read: what the journal holds goes to them at once.
					local config = { unified_push_backend = backend.name, sql = engine.sql(backend.name), unified_push_rate_burst = 200,
						unified_push_journal_delay = 0 };
					for k, v in pairs(backend.options) do config[k] = v; end
					sql = config.sql;
					server = prosody.start({
						hosts = { HOST, SHORT },
						users = USERS,
						modules = { "unified_push", "admin_shell" },
						storage = "sql",
						config = config,
						host_options = { [SHORT] = { unified_push_registration_ttl = 1 } },
					});
					-- mod_cron's first round (one second after start) is over before any
					-- registration, so only the round after the restart can purge.
					assert(server:wait_log("Running periodic tasks", 10));
					alice = connect("alice", HOST);
					bob = connect("bob", SHORT);
				end);

				teardown(function()
					for _, client in ipairs({ alice, bob }) do client:close(); end
					if server then server:cleanup(); end
					loop.clear();
				end);

				it("keeps registrations in the database's tables, not in files", function()
					quiet = { assert(up.register(bob, SHORT)), assert(up.register(bob, SHORT)) };
					kept = assert(up.register(alice, HOST));
					assert.equal(1, rows(HOST, "unified_push_users", "alice@" .. HOST, token_key(kept)),
						"alice's registration is not in the database");
					assert.equal(2, rows(SHORT, "unified_push_users", "bob@" .. SHORT));
					if not backend.stateless then
						-- One row per field of the record.
						assert.is_true(rows(HOST, "unified_push", token_key(kept)) > 0, "no record for the token");
						assert.equal(0, rows(HOST, "unified_push", kept.token), "the token itself is a key in the database");
					end
					for host in lfs.dir(server.data_dir) do
						for _, store in ipairs({ "unified_push", "unified_push_users" }) do
							local path = server.data_dir .. "/" .. host .. "/" .. store;
							assert.is_nil(lfs.attributes(path, "mode"), "a file store was used: " .. path);
						end
					end
				end);

				it("relays a push to the distributor, answered 201, with the body intact", function()
					local response, pushes = post(kept.endpoint);
					assert.equal(201, response.status, "POST answered " .. response.status .. " " .. tostring(response.body));
					assert.same({ { from = HOST, application = kept.application, instance = kept.instance, body = BODY } }, pushes);
				end);

				if backend.name == "storage" then
					it("keeps 130 messages in buckets of 100, cancels one in the second, and delivers the rest in order", function()
						local tablet = up.connect(server, { user = "alice", resource = "tablet" });
						local reg = assert(up.register(tablet, HOST));
						tablet:close();
						local locations = {};
						for i = 1, 130 do
							local res = assert(up.push(server, reg.endpoint, "m" .. i, { TTL = "600" }));
							assert.equal(201, res.status);
							locations[i] = res.headers["location"];
						end
						local function messages(what)
							local db = assert(engine.connect(server, sql));
							local statement = assert(db:prepare(([[SELECT COUNT(%s) FROM "prosodyarchive" WHERE "host" = ? AND "store" = ?]]):format(what)));
							assert(statement:execute(HOST, "unified_push_messages"));
							local row = statement:fetch(false);
							statement:close();
							db:close();
							return tonumber(row[1]);
						end
						assert.equal(130, messages("*"));
						assert.equal(2, messages([[DISTINCT "user"]]), "archives (buckets) for the endpoint");
						assert.equal(204, assert(up.push(server, locations[120], nil, nil, "DELETE")).status);
						tablet = up.connect(server, { user = "alice", resource = "tablet" });
						local bodies = {};
						loop.run_until(function()
							bodies = {};
							for _, push in ipairs(up.pushes(tablet)) do
								if push.application == reg.application then bodies[#bodies + 1] = push.body; end
							end
							return #bodies >= 129;
						end, 10);
						tablet:close();
						local expected = {};
						for i = 1, 130 do if i ~= 120 then expected[#expected + 1] = "m" .. i; end end
						assert.same(expected, bodies);
						assert.equal(0, messages("*"), "delivered messages left in the database");
					end);
				end

				it("answers 404 once the distributor says the app is gone, and asks it no more", function()
					gone = assert(up.register(alice, HOST));
					alice:on_iq("item-not-found");
					local response, pushes = post(gone.endpoint);
					alice:on_iq(nil);
					assert.equal(1, #pushes, "the distributor was not asked");
					assert.equal(404, response.status);
					response, pushes = post(gone.endpoint);
					assert.equal(404, response.status);
					assert.same({}, pushes, "the revoked endpoint still reaches the distributor");
					-- The endpoint's entry in alice's index is what keeps a token issued now alive.
					assert.equal(0, rows(HOST, "unified_push_users", "alice@" .. HOST, token_key(gone)),
						"the revoked endpoint is still in alice's index in the database");
					if not backend.stateless then
						assert.equal(0, rows(HOST, "unified_push", token_key(gone)), "the revoked record is still in the database");
					end
				end);

				it("restarts, and its hourly job deletes the expired registrations from the database", function()
					local latest = math.max(expiry_of(quiet[1]), expiry_of(quiet[2]));
					assert.is_true(loop.run_until(function() return os.time() > latest; end, 5), "the clock did not pass the expiry");
					-- Expired, and bob registers no more: nothing has removed them yet.
					assert.equal(2, rows(SHORT, "unified_push_users", "bob@" .. SHORT));
					if not backend.stateless then
						assert.is_true(rows(SHORT, "unified_push", token_key(quiet[1])) > 0);
						assert.is_true(rows(SHORT, "unified_push", token_key(quiet[2])) > 0);
					end

					up.make_hourly_due(server, SHORT);
					alice:close();
					bob:close();
					local mark = server:log_mark();
					server:restart();
					alice = connect("alice", HOST);
					local purged, why = server:wait_log_since(mark, "short%.test:unified_push\tdebug\tPurged %d+ expired push registrations", 10);
					assert.truthy(purged, why);
					assert.equal(2, tonumber(purged:match("Purged (%d+)")));

					assert.equal(0, rows(SHORT, "unified_push_users", "bob@" .. SHORT), "bob's index is still in the database");
					assert.equal(0, rows(SHORT, "unified_push", token_key(quiet[1])), "an expired record is still in the database");
					assert.equal(0, rows(SHORT, "unified_push", token_key(quiet[2])), "an expired record is still in the database");
					-- Live registrations stay.
					assert.equal(1, rows(HOST, "unified_push_users", "alice@" .. HOST, token_key(kept)));
				end);

				it("relays to an endpoint issued before the restart", function()
					local response, pushes = post(kept.endpoint);
					assert.equal(201, response.status, "POST answered " .. response.status .. " " .. tostring(response.body));
					assert.same({ { from = HOST, application = kept.application, instance = kept.instance, body = BODY } }, pushes);
				end);

				it("still answers 404 to the revoked endpoint after the restart, without asking the distributor", function()
					local response, pushes = post(gone.endpoint);
					assert.equal(404, response.status, "the revocation was lost in the restart");
					assert.same({}, pushes);
				end);

				it("leaves a clean log", function()
					server:assert_log_clean();
				end);
			end);
		end
	end);
end
