-- Store and forward (docs/design.md, "Store and forward"): a push for a
-- distributor that is offline is kept for its TTL and sent when the
-- registration's full JID comes back (resource bind, directed presence to the
-- push service, a renewal), oldest first, exactly once; Topic replaces, DELETE
-- cancels, bounds refuse with 429, item-not-found on delivery revokes. On internal
-- storage and on SQL (SQLite3 and PostgreSQL). TTL 0 (201 with TTL: 0, kept
-- nowhere): conformance_spec and relay_spec; a message whose TTL ran out, and what a
-- flush does when a DELETE, the sweep or a renewal comes in the middle of it or a
-- count is wrong: mailbox_spec (unit).
local prosody = require "prosody";
local up = require "unified_push";
local loop = require "loop";
local st = require "util.stanza";
local postgres = require "postgres";

local HOST = "example.test";
local USERS = { { "alice", HOST, "password" } };
-- Small bounds, so a test can reach them: 5 messages, or 5000 bytes, per user.
local MAX_MESSAGES, MAX_BYTES = 5, 5000;
local MESSAGE_TTL = 3600;

-- Each storage: Prosody's `storage` option, and what else its configuration needs.
local cluster; -- PostgreSQL, for its case only
local STORAGES = {
	{ name = "internal", storage = "internal", config = function() return {}; end },
	{
		name = "SQLite3", storage = "sql",
		config = function() return { sql = { driver = "SQLite3", database = "unified_push.sqlite" } }; end,
	},
	{
		name = "PostgreSQL", storage = "sql",
		config = function() cluster = postgres.start(); return { sql = cluster.sql }; end,
		stop = function() if cluster then cluster:cleanup(); end end,
	},
};

for _, storage in ipairs(STORAGES) do
	describe("store and forward on " .. storage.name .. " storage", function()
		local server, phone;

		-- alice, as a phone by default. options: resource, policy (how it answers IQs).
		local function connect(options)
			return up.connect(server, options);
		end

		-- Registers fresh apps (one, or `n`) from the phone, then takes the phone offline.
		local function offline_endpoint(n)
			phone = phone or connect();
			local regs = {};
			for i = 1, n or 1 do regs[i] = assert(up.register(phone, HOST)); end
			phone:close();
			phone = nil;
			return table.unpack(regs);
		end

		local function push(reg, body, headers)
			return assert(up.push(server, reg.endpoint, body, headers));
		end

		-- The bodies of the pushes `client` received for `reg`, in arrival order.
		local function bodies_for(client, reg)
			local list = {};
			for _, p in ipairs(up.pushes(client)) do
				if p.application == reg.application and p.instance == reg.instance then list[#list + 1] = p.body; end
			end
			return list;
		end

		-- Comes back online; waits (bounded) until `n` pushes for `reg` have arrived.
		local function come_back(reg, n, options)
			phone = connect(options);
			loop.run_until(function() return #bodies_for(phone, reg) >= n; end, 5);
			return bodies_for(phone, reg);
		end

		setup(function()
			local config = {
				unified_push_max_stored_messages = MAX_MESSAGES,
				unified_push_max_stored_bytes = MAX_BYTES,
				unified_push_message_ttl = MESSAGE_TTL,
			};
			for k, v in pairs(storage.config()) do config[k] = v; end
			server = prosody.start({ users = USERS, modules = { "unified_push" }, storage = storage.storage,
				config = config });
		end);

		teardown(function()
			if phone then phone:close(); end
			if server then server:cleanup(); end
			if storage.stop then storage.stop(); end
			loop.clear();
		end);

		-- What the store's driver does not change (the flush's logic, the options, the
		-- routes), proven once, on internal storage.
		local function it_once(title, run)
			if storage.name == "internal" then it(title, run); end
		end

		after_each(function()
			-- Each test starts with the phone offline and nothing kept for it.
			if phone then phone:close(); phone = nil; end
		end);

		it("keeps a push for an offline distributor and delivers it on reconnect", function()
			local reg = offline_endpoint();
			local res = push(reg, "while you were away", { TTL = "600" });
			assert.equal(201, res.status);
			local ttl = tonumber(res.headers["ttl"]);
			assert.is_true(ttl ~= nil and ttl > 0 and ttl <= 600, "TTL header: " .. tostring(res.headers["ttl"]));
			assert.truthy(res.headers["location"], "no Location");
			assert.same({ "while you were away" }, come_back(reg, 1));
		end);

		it("keeps an empty push and delivers it as an empty <push/>", function()
			local reg = offline_endpoint();
			local res = push(reg, "");
			assert.equal(201, res.status);
			assert.equal(tostring(MESSAGE_TTL), res.headers["ttl"]);
			assert.same({ "" }, come_back(reg, 1));
		end);

		it_once("keeps an absent TTL for the configured longest time, and caps a longer one", function()
			local reg = offline_endpoint();
			assert.equal(tostring(MESSAGE_TTL), push(reg, "no TTL").headers["ttl"]);
			assert.equal(tostring(MESSAGE_TTL), push(reg, "a long TTL", { TTL = "99999999" }).headers["ttl"]);
			assert.same({ "no TTL", "a long TTL" }, come_back(reg, 2));
		end);

		it("delivers several kept messages oldest first, exactly once", function()
			local reg = offline_endpoint();
			for i = 1, 4 do assert.equal(201, push(reg, "message " .. i, { TTL = "600" }).status); end
			assert.same({ "message 1", "message 2", "message 3", "message 4" }, come_back(reg, 4));
			-- A second chance (directed presence, another bind) sends nothing again.
			phone:send(st.presence({ to = HOST }));
			assert(up.ping(phone, HOST));
			phone:close();
			assert.same({}, come_back(reg, 1));
		end);

		it_once("keeps what the distributor did not accept, and sends it on its directed presence", function()
			local reg = offline_endpoint();
			assert.equal(201, push(reg, "try again", { TTL = "600" }).status);
			-- It comes back, but refuses pushes for now: the message stays.
			phone = connect({ policy = "service-unavailable" });
			assert.is_true(loop.run_until(function() return #bodies_for(phone, reg) >= 1; end, 5), "no delivery attempt");
			phone:on_iq("result");
			phone:send(st.presence({ to = HOST }));
			assert.is_true(loop.run_until(function() return #bodies_for(phone, reg) >= 2; end, 5),
				"nothing sent on the directed presence");
			assert.same({ "try again", "try again" }, bodies_for(phone, reg));
		end);

		it_once("sends kept messages to the full JID a renewal moved the endpoint to", function()
			local reg = offline_endpoint();
			assert.equal(201, push(reg, "for the tablet", { TTL = "600" }).status);
			local tablet = connect({ resource = "tablet" });
			local renewed = assert(up.register(tablet, HOST, { application = reg.application, instance = reg.instance }));
			assert.equal(reg.endpoint, renewed.endpoint);
			assert.is_true(loop.run_until(function() return #bodies_for(tablet, reg) >= 1; end, 5), "nothing sent after the renewal");
			assert.same({ "for the tablet" }, bodies_for(tablet, reg));
			tablet:close();
		end);

		it("replaces a kept message with a newer one of the same Topic", function()
			local reg = offline_endpoint();
			assert.equal(201, push(reg, "inbox: 1 new", { TTL = "600", Topic = "inbox" }).status);
			assert.equal(201, push(reg, "other", { TTL = "600", Topic = "other" }).status);
			assert.equal(201, push(reg, "inbox: 2 new", { TTL = "600", Topic = "inbox" }).status);
			assert.same({ "other", "inbox: 2 new" }, come_back(reg, 2));
		end);

		it("cancels a kept message on DELETE at its Location, once", function()
			local reg = offline_endpoint();
			local kept = push(reg, "cancel me", { TTL = "600" });
			assert.equal(201, push(reg, "keep me", { TTL = "600" }).status);
			local location = assert(kept.headers["location"]);
			assert.equal(204, assert(up.push(server, location, nil, nil, "DELETE")).status);
			assert.equal(404, assert(up.push(server, location, nil, nil, "DELETE")).status);
			assert.same({ "keep me" }, come_back(reg, 1));
		end);

		it_once("answers 404 to a DELETE of a message that was delivered, or never existed", function()
			phone = connect();
			local reg = assert(up.register(phone, HOST));
			local delivered = push(reg, "delivered at once");
			assert.equal(201, delivered.status);
			assert.equal("0", delivered.headers["ttl"]);
			assert.equal(404, assert(up.push(server, assert(delivered.headers["location"]), nil, nil, "DELETE")).status);
			local made_up = up.endpoint_for(delivered.headers["location"], string.rep("0", 32) .. "AAAAAAAAAAAAAAAA");
			assert.equal(404, assert(up.push(server, made_up, nil, nil, "DELETE")).status);
		end);

		it("refuses with 429 and Retry-After beyond the per-user bounds, and delivers every 201 once", function()
			local reg, other = offline_endpoint(2);
			local accepted, refused = {}, 0;
			for i = 1, MAX_MESSAGES + 3 do
				local res = push(reg, "bounded " .. i, { TTL = "600" });
				if res.status == 201 then
					accepted[#accepted + 1] = "bounded " .. i;
				else
					assert.equal(429, res.status);
					assert.truthy(tonumber(res.headers["retry-after"]), "no Retry-After");
					refused = refused + 1;
				end
			end
			assert.equal(MAX_MESSAGES, #accepted);
			assert.equal(3, refused);
			assert.same(accepted, come_back(reg, MAX_MESSAGES));
			-- Bytes: 5000 per user; two messages of 2000 fit, the third does not.
			phone:close();
			phone = nil;
			local big = string.rep("x", 2000);
			assert.equal(201, push(other, big .. "1", { TTL = "600" }).status);
			assert.equal(201, push(other, big .. "2", { TTL = "600" }).status);
			assert.equal(429, push(other, big .. "3", { TTL = "600" }).status);
			assert.same({ big .. "1", big .. "2" }, come_back(other, 2));
		end);

		it_once("revokes the endpoint when the distributor answers item-not-found to a kept message", function()
			local reg = offline_endpoint();
			assert.equal(201, push(reg, "to an uninstalled app", { TTL = "600" }).status);
			assert.equal(201, push(reg, "and another", { TTL = "600" }).status);
			local delivered = come_back(reg, 1, { policy = "item-not-found" });
			assert.equal("to an uninstalled app", delivered[1]);
			up.sync(phone); -- its answers are in
			assert.equal(404, push(reg, "after revocation", { TTL = "600" }).status);
		end);

		it("keeps messages across a restart", function()
			local reg = offline_endpoint();
			assert.equal(201, push(reg, "before the restart", { TTL = "600" }).status);
			server:restart();
			assert.truthy(server:wait_log(up.load_line() .. ".-" .. up.load_line(), 10), "the module did not load again");
			assert.same({ "before the restart" }, come_back(reg, 1));
		end);

		it("leaves a clean log", function()
			server:assert_log_clean();
		end);
	end);
end
