-- Operability (README "Metrics", "Admin shell", "Account deletion") on a real
-- Prosody: known traffic, then the counts an operator scrapes from /metrics with
-- Prosody's own mod_http_openmetrics; the unified_push:list/revoke/stats commands
-- through a real `prosodyctl shell` (Prosody 13; 0.12's shell takes no commands
-- from modules, and the module says so); and an account deleted (prosodyctl
-- deluser on 13, the admin shell on 0.12), which leaves none of its data in any
-- store the module uses.
-- Two servers per Prosody version (internal storage, then SQLite3 for the deletion),
-- and on 13 one with the module on a component; the cases of each build on each
-- other, in order.
local prosody = require "prosody";
local up = require "unified_push";

local HOST = "example.test";
-- A host whose users alice's host does not let register (unified_push_acl).
local OTHER = "other.test";
local ON_13 = prosody.major >= 13;

-- A body of known length, for the stored bytes.
local KEPT_BODY = "kept for later";

-- Account deletion: what the module keeps of alice, given her live registrations
-- and the one with a stored message, is in every store before...
local function assert_account_kept(storage, live, stored)
	local alice = "alice@" .. HOST;
	assert.is_true(storage:entries(HOST, "unified_push_users", alice) > 0, "no index of alice's registrations");
	for name, reg in pairs(live) do
		assert.is_true(storage:entries(HOST, "unified_push", up.token_key(reg.token)) > 0, "no record of " .. name);
	end
	assert.same({ up.token_key(stored.token) }, storage:archives(HOST, "unified_push_messages"));
	assert.is_true(storage:entries(HOST, "unified_push_kept", alice) > 0, "no count of alice's stored messages");
end

-- ...and deleting the account leaves none of it; its endpoints answer 404. On 13,
-- `prosodyctl deluser` deletes it through the running server's admin shell; on
-- 0.12 it would delete the account behind the server's back, so the admin shell's
-- user:delete() does it there (what the README tells operators).
local function assert_account_deleted(f, storage, regs)
	local alice = "alice@" .. HOST;
	local live = 0;
	for _ in pairs(regs) do live = live + 1; end
	local mark = f.server:log_mark();
	local ok, output;
	if ON_13 then
		ok, output = f.server:prosodyctl({ "deluser", alice });
	else
		ok, output = f.server:shell(("user:delete(%q)"):format(alice));
	end
	assert.is_true(ok and output:find("User deleted", 1, true) ~= nil, output);
	assert.truthy(f.server:wait_log_since(mark, "Removed " .. live .. " push endpoints of a deleted account", 5, true));

	assert.equal(0, storage:entries(HOST, "unified_push_users", alice), "alice's index is left");
	for name, reg in pairs(regs) do
		assert.equal(0, storage:entries(HOST, "unified_push", up.token_key(reg.token)), name .. "'s record is left");
	end
	assert.same({}, storage:archives(HOST, "unified_push_messages"), "stored messages are left");
	assert.equal(0, storage:entries(HOST, "unified_push_kept", alice), "alice's count of stored messages is left");
	for name, reg in pairs(regs) do
		assert.equal(404, f:push(reg.endpoint, "to a deleted account").status, name);
	end
end

describe("operability on Prosody " .. prosody.version, function()
	local f = up.fixture({
		hosts = { HOST, OTHER },
		users = { { "alice", HOST, "password" }, { "bob", HOST, "password" }, { "mallory", OTHER, "password" } },
		modules = { "unified_push", "admin_shell", "http_openmetrics" },
		config = {
			statistics = "internal",
			statistics_interval = "manual",
			-- The storage backend, so that records of its own are in the stores too.
			unified_push_backend = "storage",
			-- The stores are read: what the journal holds goes to them at once.
			unified_push_journal_delay = 0,
			unified_push_iq_timeout = 2,
			unified_push_max_in_flight = 1,
			unified_push_max_registrations = 3,
		},
	});

	-- Alice's registrations, made in the first case: `phone` (delivered to, renewed),
	-- `gone` (the app is gone), `tablet` (its distributor went offline: one message stored).
	local regs = {};

	local function metric(name, labels)
		labels = labels or {};
		labels.host = labels.host or HOST;
		return up.scrape(f.server):value("prosody_mod_unified_push__" .. name, labels);
	end

	-- { label value = count } of one counter family on alice's host.
	local function counts(family, label, values)
		local scraped = up.scrape(f.server);
		local found = {};
		for _, value in ipairs(values) do
			found[value] = scraped:value("prosody_mod_unified_push__" .. family .. "_total", { host = HOST, [label] = value });
		end
		return found;
	end

	local PUSH_OUTCOMES = { "delivered", "stored", "gone", "unavailable", "limited", "bad_request", "unknown_endpoint", "failed" };
	local REGISTRATION_OUTCOMES = { "new", "renewed", "forbidden", "bad_request", "limited", "failed" };

	it("counts registrations by outcome", function()
		regs.phone = f:register();
		regs.gone = f:register();
		local tablet = f:connect({ resource = "tablet" });
		regs.tablet = f:register(nil, tablet);
		local renewed = f:register({ application = regs.phone.application, instance = regs.phone.instance });
		assert.equal(regs.phone.endpoint, renewed.endpoint);
		regs.phone = renewed;

		local _, refused = up.register(f.client, HOST);
		assert.equal("policy-violation", select(2, up.error_of(refused)), "a fourth app was registered");
		local bad = f.client:request(up.register_iq(HOST, "not base64", up.hash()));
		assert.equal("bad-request", select(2, up.error_of(bad)));
		local mallory = f:connect("mallory@" .. OTHER .. "/phone");
		local _, forbidden = up.register(mallory, HOST);
		assert.equal("forbidden", select(2, up.error_of(forbidden)));

		assert.same({ new = 3, renewed = 1, forbidden = 1, bad_request = 1, limited = 1, failed = 0 },
			counts("registrations", "outcome", REGISTRATION_OUTCOMES));
		-- The other host has series of its own, untouched.
		assert.equal(0, metric("registrations_total", { host = OTHER, outcome = "new" }));

		tablet:close();
	end);

	it("counts pushes by outcome, and times those the distributor answered", function()
		for i = 1, 3 do
			local response = f:post(regs.phone.endpoint, "delivered " .. i);
			assert.equal(201, response.status);
		end
		assert.equal(404, f:push(up.tamper(regs.phone.endpoint), "to nobody").status);
		assert.equal(400, f:push(regs.phone.endpoint, "when?", { TTL = "soon" }).status);

		f.client:on_iq(up.answering_pushes("item-not-found"));
		assert.equal(404, f:push(regs.gone.endpoint, "for an app that is gone").status);

		-- One push waits unanswered (unified_push_max_in_flight = 1): the next is refused.
		f.client:on_iq(up.answering_pushes(nil));
		-- TTL 0: it cannot be kept, so it waits for the timeout (one that can be kept
		-- would be kept after the answer window: spec/server/mobile_links_spec.lua).
		local waiting = up.push_later(f.server, regs.phone.endpoint, "never answered", { TTL = "0" });
		assert.is_true(up.iq_arrives(f.client, 5), "the push never reached the distributor");
		local refused = f:push(regs.phone.endpoint, "one too many");
		assert.equal(429, refused.status);
		assert.is_true(up.wait({ waiting }), "no answer to the unanswered push");
		assert.equal(503, waiting.response.status);

		-- The tablet is offline: its push is stored.
		local stored = f:push(regs.tablet.endpoint, KEPT_BODY, { TTL = "3600" });
		assert.equal(201, stored.status);
		assert.equal("3600", stored.headers.ttl);

		assert.same({ delivered = 3, stored = 1, gone = 1, unavailable = 1, limited = 1, bad_request = 1, unknown_endpoint = 1,
			failed = 0 }, counts("pushes", "outcome", PUSH_OUTCOMES));
		-- Answered: three results and the item-not-found, not the one that timed out.
		local scraped = up.scrape(f.server);
		assert.equal(4, scraped:value("prosody_mod_unified_push__push_answer_seconds_count", { host = HOST }));
		assert.equal(4, scraped:value("prosody_mod_unified_push__push_answer_seconds_bucket", { host = HOST, le = "+Inf" }));
		local sum = scraped:value("prosody_mod_unified_push__push_answer_seconds_sum", { host = HOST });
		assert.is_true(sum > 0 and sum < 4, "answer times add up to " .. sum .. " s");
		assert.equal(1, scraped:value("prosody_mod_unified_push__revocations_total", { host = HOST, reason = "gone" }));
	end);

	it("sets the gauges when scraped: pushes in flight, messages and bytes stored", function()
		assert.equal(0, metric("pushes_in_flight"));
		assert.equal(1, metric("stored_messages"));
		assert.equal(#KEPT_BODY, metric("stored_bytes"));
		f.client:on_iq(up.answering_pushes(nil));
		local waiting = up.push_later(f.server, regs.phone.endpoint, "in flight", { TTL = "0" });
		assert.is_true(up.iq_arrives(f.client, 5), "the push never reached the distributor");
		assert.equal(1, metric("pushes_in_flight"));
		assert.is_true(up.wait({ waiting }));
		assert.equal(0, metric("pushes_in_flight"));
	end);

	it("serves the metrics in the OpenMetrics text format", function()
		local text = up.scrape(f.server).text;
		assert.truthy(text:find("# TYPE prosody_mod_unified_push__pushes counter\n", 1, true));
		assert.truthy(text:find("# TYPE prosody_mod_unified_push__push_answer_seconds histogram\n", 1, true));
		assert.truthy(text:find("# UNIT prosody_mod_unified_push__push_answer_seconds seconds\n", 1, true));
		assert.truthy(text:find("# TYPE prosody_mod_unified_push__stored_bytes gauge\n", 1, true));
		assert.truthy(text:find("# EOF\n$"));
	end);

	if ON_13 then
		describe("through prosodyctl shell", function()
			local function shell(line)
				local ok, output = f.server:shell(line);
				assert.is_true(ok, line .. ":\n" .. output);
				assert.is_false(up.traceback_in(output), output);
				return output;
			end

			it("shows its commands' section in the shell's help", function()
				local output = shell("help");
				assert.truthy(output:find("| Push registrations and counts of mod_unified_push", 1, true), output);
			end);

			it("lists a user's registrations without a whole token or endpoint", function()
				local output = shell(('unified_push:list(%q)'):format("alice@" .. HOST));
				local lines = {};
				for line in output:gmatch("[^\n]+") do lines[#lines + 1] = line; end
				assert.truthy(lines[1]:match("^App%s+JID%s+Expires%s+Stored messages$"), output);
				local rows = {};
				for i = 2, #lines - 1 do rows[lines[i]:sub(1, 8)] = lines[i]; end
				local phone = rows[regs.phone.application:sub(1, 8)];
				local tablet = rows[regs.tablet.application:sub(1, 8)];
				assert.truthy(phone, "the phone's registration is not listed:\n" .. output);
				assert.truthy(tablet, "the tablet's registration is not listed:\n" .. output);
				assert.is_nil(rows[regs.gone.application:sub(1, 8)], "a revoked registration is listed");
				assert.truthy(phone:find("alice@" .. HOST .. "/phone  ", 1, true), phone);
				assert.truthy(phone:find(regs.phone.expiration, 1, true), "not the renewed expiry: " .. phone);
				assert.truthy(phone:match("%s0$"), phone);
				assert.truthy(tablet:find("alice@" .. HOST .. "/tablet", 1, true), tablet);
				assert.truthy(tablet:find(regs.tablet.expiration, 1, true), tablet);
				assert.truthy(tablet:match("%s1$"), "the stored message is not counted: " .. tablet);
				assert.equal("OK: 2 push registrations of alice@" .. HOST, lines[#lines]);
				for _, reg in pairs(regs) do
					assert.is_nil(output:find(reg.token, 1, true), "a whole token was printed");
					assert.is_nil(output:find(reg.endpoint, 1, true), "an endpoint was printed");
					assert.is_nil(output:find(up.parse_endpoint(reg.endpoint).query_part, 1, true), "the token's rest was printed");
				end
			end);

			it("revokes one application's registrations, then all of a user's: their endpoints answer 404", function()
				local bob = f:connect({ user = "bob" });
				local first, second = f:register(nil, bob), f:register(nil, bob);
				local bob_tablet = f:connect({ user = "bob", resource = "tablet" });
				local third = f:register(nil, bob_tablet);
				bob_tablet:close();
				assert.equal(201, f:push(third.endpoint, "stored for bob", { TTL = "60" }).status);
				assert.equal(2, metric("stored_messages"));

				local prefix = first.application:sub(1, 8);
				assert.truthy(shell(('unified_push:revoke(%q, %q)'):format("bob@" .. HOST, prefix))
					:find("OK: Revoked 1 push registration of bob@" .. HOST .. " for applications starting with " .. prefix, 1, true));
				local before = #bob.received;
				assert.equal(404, f:push(first.endpoint, "after revoke").status);
				assert.equal(0, #up.new_pushes(bob, before), "the distributor was asked after the revocation");
				assert.equal(201, (f:post(second.endpoint, "still here", nil, bob)).status);

				assert.truthy(shell(('unified_push:revoke(%q)'):format("bob@" .. HOST))
					:find("OK: Revoked 2 push registrations of bob@" .. HOST, 1, true));
				assert.equal(404, f:push(second.endpoint, "after revoke").status);
				assert.equal(404, f:push(third.endpoint, "after revoke").status);
				-- Its stored message went with it.
				assert.equal(1, metric("stored_messages"));
				assert.equal(1, metric("stored_messages_removed_total", { reason = "endpoint_gone" }));
				assert.equal(3, metric("revocations_total", { reason = "admin" }));
				for _, name in ipairs(f.server:storage():archives(HOST, "unified_push_messages")) do
					assert.are_not.equal(up.token_key(third.token), name, "bob's stored message is left");
				end
				assert.equal(0, f.server:storage():entries(HOST, "unified_push_users", "bob@" .. HOST), "bob's index is left");
			end);

			it("prints the counts of every host, as /metrics has them", function()
				local output = shell("unified_push:stats()");
				-- Lines under each host's name.
				local blocks, current = {}, nil;
				for line in output:gmatch("[^\n]+") do
					if line:match("^%S") and not line:match("^OK:") then
						current = {};
						blocks[line] = current;
					elseif current and line:match("^  ") then
						current[#current + 1] = line;
					end
				end
				assert.truthy(blocks[OTHER], "no counts of " .. OTHER .. ":\n" .. output);
				assert.truthy(output:find("\nOK: 2 hosts", 1, true), output);

				local scraped = up.scrape(f.server);
				local function line(family, label, values, suffix)
					local parts = {};
					for _, value in ipairs(values) do
						local v = scraped:value("prosody_mod_unified_push__" .. family .. (suffix or "_total"), { host = HOST, [label] = value });
						parts[#parts + 1] = value .. " " .. string.format("%.6g", v);
					end
					return "  " .. family .. ": " .. table.concat(parts, ", ");
				end
				local answered = scraped:value("prosody_mod_unified_push__push_answer_seconds_count", { host = HOST });
				local answer_time = scraped:value("prosody_mod_unified_push__push_answer_seconds_sum", { host = HOST });
				assert.same({
					line("pushes", "outcome", PUSH_OUTCOMES),
					("  push_answer: count %d, sum %s"):format(answered, string.format("%.6g", answer_time)),
					line("registrations", "outcome", REGISTRATION_OUTCOMES),
					line("revocations", "reason", { "gone", "admin", "account_deleted" }),
					"  pushes_in_flight: pushes 0",
					"  stored: messages 1, bytes " .. #KEPT_BODY,
					line("stored_messages_removed", "reason", { "delivered", "expired", "cancelled", "replaced", "endpoint_gone" }),
				}, blocks[HOST]);
				-- What the cases before did, as the shell shows it.
				assert.equal("  pushes: delivered 4, stored 2, gone 1, unavailable 2, limited 1, bad_request 1, unknown_endpoint 4, failed 0",
					blocks[HOST][1]);
				assert.equal("  revocations: gone 1, admin 3, account_deleted 0", blocks[HOST][4]);
			end);

			it("keeps its commands and counts while the module is unloaded, loaded or reloaded on a host", function()
				local name = f.server.module_name;
				local before = shell("unified_push:stats()");
				-- Whichever host's stats() the shell runs, it stays while one host is left.
				for _, host in ipairs({ OTHER, HOST }) do
					local unloaded = shell(("module:unload(%q, %q)"):format(name, host));
					assert.truthy(unloaded:find("Module unloaded from 1 host", 1, true), unloaded);
					local left = shell("unified_push:stats()");
					assert.is_nil(left:find(host .. "\n", 1, true), "stats() of an unloaded host:\n" .. left);
					assert.truthy(left:find("OK: 1 host", 1, true), left);
					local loaded = shell(("module:load(%q, %q)"):format(name, host));
					assert.truthy(loaded:find("Loaded", 1, true), loaded);
					assert.equal(before, shell("unified_push:stats()"), "after loading it again on " .. host);
				end
				local reloaded = shell(("module:reload(%q, %q)"):format(name, HOST));
				assert.truthy(reloaded:find("Module reloaded on 1 host", 1, true), reloaded);
				assert.equal(before, shell("unified_push:stats()"), "after a reload");
				assert.truthy(shell(("unified_push:list(%q)"):format("alice@" .. HOST)):find("OK: 2 push registrations", 1, true));
			end);
		end);
	else
		it("goes without admin shell commands, says so in its debug log, and leaves the shell working", function()
			local said = f.server:log_lines("debug", HOST .. ":unified_push");
			local found = false;
			for _, line in ipairs(said) do
				if line:find("unified_push:list(), revoke() and stats() are not available", 1, true) then found = true; end
			end
			assert.is_true(found, "no debug line saying the shell commands are not available");
			local ok, output = f.server:shell(('unified_push:list(%q)'):format("alice@" .. HOST));
			assert.is_nil(output:find("push registration", 1, true), output);
			assert.is_true(not ok or output:find("nil value", 1, true) ~= nil, output);
			ok, output = f.server:shell(("module:list(%q)"):format(HOST));
			assert.is_true(ok, output);
			assert.truthy(output:find("unified_push", 1, true), output);
			for _, line in ipairs(f.server:warnings()) do
				assert.is_nil(line:find("shell", 1, true), line);
			end
		end);
	end

	describe("when an account is deleted", function()
		local storage, bob, bob_reg;

		setup(function()
			storage = f.server:storage();
			bob = f:connect({ user = "bob", resource = "laptop" });
			bob_reg = f:register(nil, bob);
		end);

		it("holds alice's data before", function()
			assert_account_kept(storage, { phone = regs.phone, tablet = regs.tablet }, regs.tablet);
			assert.equal(0, storage:entries(HOST, "unified_push", up.token_key(regs.gone.token)), "a revoked record is left");
		end);

		it("removes its registrations, index, records and stored messages, and its endpoints answer 404", function()
			assert_account_deleted(f, storage, { phone = regs.phone, tablet = regs.tablet });
			assert.equal(404, f:push(regs.gone.endpoint, "to a deleted account").status);
			assert.equal(2, metric("revocations_total", { reason = "account_deleted" }));
			assert.equal(0, metric("stored_messages"));
			assert.equal(0, metric("stored_bytes"));
		end);

		it("leaves other users alone", function()
			assert.is_true(storage:entries(HOST, "unified_push_users", "bob@" .. HOST) > 0);
			assert.equal(201, (f:post(bob_reg.endpoint, "for bob", nil, bob)).status);
			assert.is_nil(f.server:log():find("stack traceback", 1, true));
			f.server:assert_log_clean();
		end);
	end);
end);

if ON_13 then
	describe("the admin shell with the module on a component", function()
		local f = up.fixture({
			users = { { "alice", HOST, "password" } },
			modules = { "admin_shell" },
			components = { ["push." .. HOST] = { module = "unified_push", options = {
				http_host = HOST,
				modules_enabled = { "disco" },
			} } },
			service = "push." .. HOST,
		});

		it("finds a user of its parent domain by her JID, to list and to revoke", function()
			local reg = f:register();
			local ok, output = f.server:shell(("unified_push:list(%q)"):format("alice@" .. HOST));
			assert.is_true(ok, output);
			assert.truthy(output:find("\n" .. reg.application:sub(1, 8) .. "  alice@" .. HOST .. "/phone ", 1, true), output);
			ok, output = f.server:shell(("unified_push:revoke(%q)"):format("alice@" .. HOST));
			assert.is_true(ok and output:find("OK: Revoked 1 push registration of alice@" .. HOST, 1, true) ~= nil, output);
			assert.equal(404, f:push(reg.endpoint, "after revoke").status);
		end);
	end);
end

describe("account deletion with storage = \"sql\" (SQLite3) on Prosody " .. prosody.version, function()
	local DATABASE = "prosody.sqlite";
	local f = up.fixture({
		users = { { "alice", HOST, "password" }, { "bob", HOST, "password" } },
		modules = { "unified_push", "admin_shell" },
		storage = "sql",
		config = { sql = { driver = "SQLite3", database = DATABASE }, unified_push_backend = "storage",
			unified_push_journal_delay = 0 },
	});

	it("leaves none of the account's rows in the module's stores, and its endpoints answer 404", function()
		local phone = f:register();
		local tablet = f:connect({ resource = "tablet" });
		local stored = f:register(nil, tablet);
		tablet:close();
		assert.equal(201, f:push(stored.endpoint, KEPT_BODY, { TTL = "3600" }).status);
		local bob = f:connect({ user = "bob" });
		local bob_reg = f:register(nil, bob);

		local storage = f.server:storage({ sql_database = DATABASE });
		assert_account_kept(storage, { phone = phone, tablet = stored }, stored);
		assert_account_deleted(f, storage, { phone = phone, tablet = stored });
		assert.is_true(storage:entries(HOST, "unified_push_users", "bob@" .. HOST) > 0, "bob's index went too");
		assert.equal(201, (f:post(bob_reg.endpoint, "for bob", nil, bob)).status);
		f.server:assert_log_clean();
	end);
end);
