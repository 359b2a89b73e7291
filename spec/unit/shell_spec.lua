-- Unit: what the admin shell's unified_push commands print and do (src/shell.ts),
-- over the real endpoints module and user index on in-memory stores. The
-- commands inside a real `prosodyctl shell` are in operability_spec.lua.
local up = require "unified_push";
local shell = require "shell";
local datetime = require "util.datetime";

-- A base64 application hash as distributors send them (44 characters).
local function app(prefix) return prefix .. ("x"):rep(43 - #prefix) .. "="; end

local NOW = 1700000000;

-- A shell context over endpoints with alice's three registrations (one expired,
-- one with messages kept) and bob's one.
local function context()
	local issued = 0;
	local backend = {
		issue = function() issued = issued + 1; return "secret-token-" .. issued; end,
		open = function() return nil, "invalid"; end,
		revokeKey = function() return true; end,
		dropRecord = function() end,
	};
	local revocations = up.any_counters();
	local kit = up.endpoints({ backend = backend, revocations = revocations });
	local tokens = {
		phone = kit.register("alice@example.test/phone", app("Phone1AB"), app("i1"), NOW + 3600, NOW),
		tablet = kit.register("alice@example.test/tablet", app("Tablet2C"), app("i2"), NOW + 7200, NOW),
		old = kit.register("alice@example.test/phone", app("Old3DEFG"), app("i3"), NOW - 10, NOW - 100),
		bob = kit.register("bob@example.test/phone", app("Phone1AB"), app("i4"), NOW + 3600, NOW),
	};
	local kept = { ["alice@example.test"] = { [require "backends.backend".tokenKey(tokens.tablet)] = { n = 2, b = 10 } } };
	local ctx = {
		endpoints = kit.endpoints,
		keptBy = function(user) return kept[user]; end,
		read = function() return nil; end,
		now = function() return NOW; end,
	};
	return ctx, tokens, revocations, kit.forgotten;
end

local function printed()
	local lines = {};
	return lines, function(line) lines[#lines + 1] = line; end;
end

describe("unified_push:list(jid)", function()
	it("prints each registration: application prefix, full JID, expiry, stored messages", function()
		local ctx, tokens = context();
		local lines, print = printed();
		assert.same({ true, "3 push registrations of alice@example.test" }, { shell.listCommand(ctx, print, "alice@example.test") });
		assert.equal(4, #lines);
		assert.truthy(lines[1]:match("^App%s+JID%s+Expires%s+Stored messages$"), lines[1]);
		local rows = { table.unpack(lines, 2) };
		assert.truthy(rows[1]:match("^Old3DEFG  alice@example%.test/phone%s+" .. datetime.datetime(NOW - 10):gsub("%-", "%%-")
			.. " %(expired%)%s+0$"), rows[1]);
		assert.truthy(rows[2]:match("^Phone1AB  alice@example%.test/phone%s+" .. datetime.datetime(NOW + 3600):gsub("%-", "%%-")
			.. "%s+0$"), rows[2]);
		assert.truthy(rows[3]:match("^Tablet2C  alice@example%.test/tablet%s+" .. datetime.datetime(NOW + 7200):gsub("%-", "%%-")
			.. "%s+2$"), rows[3]);
		for _, line in ipairs(lines) do
			for _, token in pairs(tokens) do assert.is_nil(line:find(token, 1, true), "a whole token: " .. line); end
			assert.is_nil(line:find("xxxx", 1, true), "more than the application's first 8 characters: " .. line);
		end
	end);

	it("takes a full JID for its account, and says when there is nothing", function()
		local ctx = context();
		assert.same({ true, "1 push registration of bob@example.test" },
			{ shell.listCommand(ctx, function() end, "bob@example.test/laptop") });
		local lines, print = printed();
		assert.same({ true, "0 push registrations of carol@example.test" }, { shell.listCommand(ctx, print, "carol@example.test") });
		assert.same({}, lines);
	end);

	it("refuses what is not a user's JID", function()
		local ctx = context();
		local _, print = printed();
		for _, bad in ipairs({ "example.test", "@@", 42 }) do
			local ok, message = shell.listCommand(ctx, print, bad);
			assert.is_false(ok);
			assert.is_string(message);
		end
	end);
end);

describe("unified_push:revoke(jid [, application])", function()
	it("revokes the registrations whose application starts with what is given", function()
		local ctx, _, revocations = context();
		assert.same({ true, "Revoked 1 push registration of alice@example.test for applications starting with Phone1AB" },
			{ shell.revokeCommand(ctx, "alice@example.test", "Phone1AB") });
		local lines, print = printed();
		shell.listCommand(ctx, print, "alice@example.test");
		assert.equal(3, #lines, "the phone's registration is still listed");
		assert.equal(1, revocations.admin.n);
		shell.listCommand(ctx, print, "bob@example.test");
		assert.truthy(lines[#lines]:match("^Phone1AB  bob@"), "bob's registration of the same application went too");
	end);

	it("revokes every registration of the user without one", function()
		local ctx, _, revocations, dropped = context();
		assert.same({ true, "Revoked 3 push registrations of alice@example.test" }, { shell.revokeCommand(ctx, "alice@example.test") });
		assert.equal(3, #dropped);
		assert.same({ true, "0 push registrations of alice@example.test" }, { shell.listCommand(ctx, function() end, "alice@example.test") });
		assert.equal(3, revocations.admin.n);
	end);

	it("refuses a bad JID or application", function()
		local ctx = context();
		assert.is_false((shell.revokeCommand(ctx, "example.test")));
		assert.is_false((shell.revokeCommand(ctx, "alice@example.test", "")));
		assert.is_false((shell.revokeCommand(ctx, "alice@example.test", 8)));
	end);
end);

describe("unified_push:stats()", function()
	local function reader(readings) return function() return readings; end; end

	it("prints every host's readings, one line each", function()
		local lines, print = printed();
		local hosts = {
			{ "a.test", reader({ { name = "pushes", values = { { "delivered", 3 }, { "gone", 1 } } } }) },
			{ "b.test", reader({ { name = "push_answer", values = { { "count", 2 }, { "sum", 0.0123456789 } } } }) },
		};
		assert.same({ true, "2 hosts" }, { shell.statsCommand(hosts, print) });
		assert.same({ "a.test", "  pushes: delivered 3, gone 1", "b.test", "  push_answer: count 2, sum 0.0123457" }, lines);
	end);

	it("says how to turn statistics on when Prosody keeps none", function()
		local ok, message = shell.statsCommand({ { "a.test", reader(nil) } }, function() end);
		assert.is_false(ok);
		assert.truthy(message:find('statistics = "internal"', 1, true), message);
	end);
end);
