-- Unit: an endpoint's life (src/endpoints.ts): registration and renewal (stable
-- endpoints, the per-user cap), resolution (the resolved-token cache, expiry,
-- one canonical token), revocation, account deletion and the sweep, over a
-- scripted backend and the real user index on an in-memory store (up.endpoints).
-- The index's own caching and batching are in userindex_spec.lua.
local up = require "unified_push";
local tokenKey = require "backends.backend".tokenKey;

-- A backend whose tokens are "tok<n>" (its grammar: letters and digits only) and
-- whose claims live in a table; counts opens.
local function scripted_backend()
	local backend = { name = "scripted", claims = {}, revoked = {}, dropped = {}, opens = 0, issued = 0 };
	function backend.wellFormed(token) return token:find("^%w+$") ~= nil; end
	function backend.issue(claims)
		backend.issued = backend.issued + 1;
		local token = "tok" .. backend.issued;
		backend.claims[token] = claims;
		return token;
	end
	function backend.open(token)
		backend.opens = backend.opens + 1;
		if backend.revoked[token] or backend.revoked[tokenKey(token)] then return nil, "revoked"; end
		local claims = backend.claims[token];
		if not claims then return nil, "invalid"; end
		return claims;
	end
	function backend.revoke(token) backend.revoked[token] = true; return true; end
	function backend.revokeKey(key) backend.revoked[key] = true; return true; end
	function backend.dropRecord(key) backend.dropped[#backend.dropped + 1] = key; end
	return backend;
end

-- up.endpoints over a scripted backend (or `backend`), on `store` if given; the
-- kit gets `backend` and `revocations` too.
local function new_endpoints(options)
	options = options or {};
	local backend = options.backend or scripted_backend();
	local kit = up.endpoints({ backend = backend, store = options.store, records = options.records,
		maxPerUser = options.maxPerUser, cacheSize = options.cacheSize, revocations = up.any_counters() });
	kit.backend = backend;
	return kit, kit.endpoints;
end

-- The same stores and backend after a restart: nothing cached.
local function restarted(kit)
	return new_endpoints({ backend = kit.backend, store = kit.store, records = kit.records });
end

local function sorted(list)
	local copy = { table.unpack(list) };
	table.sort(copy);
	return copy;
end

local function keys(record)
	local list = {};
	for key in pairs(record or {}) do list[#list + 1] = key; end
	return sorted(list);
end

describe("registering", function()
	it("hands the same token to a renewal, with the new expiry and full JID, resolved until then", function()
		local kit, endpoints = new_endpoints();
		local token = kit.register("u@h/phone", "A", "I", 100, 0);
		assert.same({ token, true }, { kit.register("u@h/tablet", "A", "I", 200, 50) });
		local registration = endpoints.resolve(token, 150);
		assert.equal("u@h/tablet", registration.sub);
		assert.equal("u@h", registration.user);
		assert.equal(200, registration.exp);
		assert.same({ nil, "expired" }, { endpoints.resolve(token, 201) });
		local entry = kit.store.data["u@h"][tokenKey(token)];
		assert.same({ 200, "u@h/tablet" }, { entry.e, entry.j });
	end);

	it("gives another application, instance or user a token of its own", function()
		local kit = new_endpoints();
		local tokens = {
			(kit.register("u@h/r", "A", "I", 100, 0)), (kit.register("u@h/r", "B", "I", 100, 0)),
			(kit.register("u@h/r", "A", "J", 100, 0)), (kit.register("v@h/r", "A", "I", 100, 0)),
		};
		assert.same({ "tok1", "tok2", "tok3", "tok4" }, tokens);
	end);

	it("never renews an expired endpoint: a new token, and the old one forgotten", function()
		local kit, endpoints = new_endpoints();
		local old = kit.register("u@h/r", "A", "I", 10, 0);
		assert.same({ "tok2", false }, { kit.register("u@h/r", "A", "I", 30, 20) });
		assert.same({ tokenKey(old) }, kit.forgotten);
		assert.same({ tokenKey(old) }, kit.backend.dropped);
		assert.same({ nil, "revoked" }, { endpoints.resolve(old, 20) });
		assert.same({ tokenKey("tok2") }, keys(kit.store.data["u@h"]));
	end);

	it("does not renew entries written before endpoints were stable, and keeps them until they expire", function()
		local store = up.memory_keyval();
		store.data["u@h"] = { legacy = { a = "A", i = "I", e = 100 } };
		local kit = new_endpoints({ store = store });
		assert.same({ "tok1", false }, { kit.register("u@h/r", "A", "I", 100, 0) });
		assert.truthy(store.data["u@h"].legacy);
	end);

	it("caps distinct apps per user but never renewals", function()
		local kit = new_endpoints({ maxPerUser = 2 });
		kit.register("u@h/r", "A", "I", 100, 0);
		kit.register("u@h/r", "B", "I", 100, 0);
		assert.same({ nil, "limit", "2 registrations" }, { kit.register("u@h/r", "C", "I", 100, 0) });
		assert.same({ "tok1", true }, { kit.register("u@h/r", "A", "I", 200, 1) });
		assert.same({ "tok3", false }, { kit.register("v@h/r", "C", "I", 100, 0) });
	end);

	it("refuses a new endpoint whose token is longer than allowed, leaving nothing behind; renewals are never refused", function()
		local kit, endpoints = new_endpoints();
		local token = kit.register("u@h/phone", "A", "I", 100, 0, 4); -- "tok1": 4 characters
		assert.equal("tok1", token);
		assert.same({ token, true }, { kit.register("u@h/phone", "A", "I", 200, 1, 3) });
		assert.same({ nil, "too-long", "4 characters" }, { kit.register("u@h/phone", "B", "I", 100, 1, 3) });
		assert.same({ tokenKey("tok2") }, kit.backend.dropped);
		assert.same({ tokenKey("tok1") }, keys(kit.store.data["u@h"]));
		assert.same({ nil, "revoked" }, { endpoints.resolve("tok2", 2) });
	end);

	it("answers once the index has stored the registration, with the other registrations of the turn", function()
		local kit, endpoints = new_endpoints();
		local sets = 0;
		local set = kit.store.set;
		kit.store.set = function(...) sets = sets + 1; return set(...); end;
		local answers = {};
		for n, app in ipairs({ "A", "B", "C", "D", "E" }) do
			endpoints.register("u@h/phone", app, "I", 100, 0, math.huge, function(token) answers[n] = token; end);
		end
		assert.same({}, answers, "answered before the index stored anything");
		assert.equal(0, sets);
		kit.run_later();
		assert.same({ "tok1", "tok2", "tok3", "tok4", "tok5" }, answers);
		assert.equal(1, sets, "one write for the user's five registrations");
		assert.equal(5, #keys(kit.store.data["u@h"]));
	end);

	it("refuses without issuing when the index cannot be read", function()
		local store = up.memory_keyval();
		store.get = function() return nil, "disk on fire"; end
		local kit, endpoints = new_endpoints({ store = store });
		assert.same({ nil, "failed", "disk on fire" }, { kit.register("u@h/r", "A", "I", 10, 0) });
		assert.equal(0, kit.backend.issued);
		assert.same({ nil, "disk on fire" }, { endpoints.entry("u@h", "k") });
		assert.same({ nil, "disk on fire" }, { endpoints.entries("u@h") });
	end);

	it("keeps the old expiry when a renewal cannot be stored, and drops a new token's record", function()
		local kit, endpoints = new_endpoints();
		local token = kit.register("u@h/phone", "A", "I", 100, 0);
		kit.fail_writes(true);
		assert.same({ nil, "failed", "disk full" }, { kit.register("u@h/tablet", "A", "I", 200, 1) });
		local entry = endpoints.entry("u@h", tokenKey(token));
		assert.same({ 100, "u@h/phone" }, { entry.e, entry.j });
		assert.equal("u@h/phone", endpoints.resolve(token, 2).sub, "the failed renewal was cached");
		assert.same({ nil, "failed", "disk full" }, { kit.register("u@h/phone", "B", "I", 200, 1) });
		assert.same({ tokenKey("tok2") }, kit.backend.dropped);
		assert.is_nil(endpoints.entry("u@h", tokenKey("tok2")));
	end);
end);

describe("resolving", function()
	it("takes the target and expiry from the index after a restart (nothing cached)", function()
		local kit = new_endpoints();
		local token = kit.register("u@h/phone", "A", "I", 100, 0);
		kit.register("u@h/tablet", "A", "I", 200, 50);
		local registration = select(2, restarted(kit)).resolve(token, 150);
		assert.same({ "u@h/tablet", "u@h", 200 }, { registration.sub, registration.user, registration.exp });
	end);

	it("answers a push to a known token without the backend or the store", function()
		local kit, endpoints = new_endpoints();
		local token = kit.register("u@h/phone", "A", "I", 100, 0);
		endpoints.resolve(token, 1);
		local opens, reads = kit.backend.opens, kit.store.reads;
		for now = 2, 11 do assert.truthy((endpoints.resolve(token, now))); end
		assert.same({ opens, reads }, { kit.backend.opens, kit.store.reads });
	end);

	-- One canonical string per token (docs/design.md, "Backends and tokens").
	it("refuses variants of valid and revoked tokens before its cache or the backend sees them", function()
		-- A cache of one: an entry made for a variant would push the genuine token out.
		local kit, endpoints = new_endpoints({ cacheSize = 1 });
		local token = kit.register("u@h/phone", "A", "I", 100, 0);
		local revoked = kit.register("u@h/phone", "B", "I", 100, 0);
		assert.same({ true }, { endpoints.revoke(revoked, endpoints.resolve(revoked, 1), 1) });
		assert.truthy((endpoints.resolve(token, 1)));
		local opens, reads = kit.backend.opens, kit.store.reads;
		for _, base in ipairs({ token, revoked }) do
			for _, variant in ipairs({ base .. ".", base .. ".x", base .. "=", base .. "==", base .. "\0", " " .. base }) do
				assert.same({ nil, "invalid" }, { endpoints.resolve(variant, 2) });
			end
		end
		assert.equal(opens, kit.backend.opens, "a variant reached the backend");
		assert.equal(reads, kit.store.reads, "a variant reached the index");
		assert.truthy((endpoints.resolve(token, 3)));
		assert.equal(opens, kit.backend.opens, "the genuine token left the cache");
	end);

	it("resolves a short token (the user only) from the user's index entry: target, app and expiry", function()
		local kit = new_endpoints();
		local token = kit.register("u@h/phone", "A", "I", 100, 0);
		kit.register("u@h/tablet", "A", "I", 200, 50);
		-- What a short token opens to.
		kit.backend.claims[token] = { u = "u@h" };
		kit.backend.claims.unbound = { u = "u@h" };
		local _, after = restarted(kit);
		assert.same({ sub = "u@h/tablet", user = "u@h", key = tokenKey(token), application = "A", instance = "I", exp = 200,
			indexed = true }, (after.resolve(token, 150)));
		assert.same({ nil, "expired" }, { after.resolve(token, 201) });
		assert.same({ nil, "revoked" }, { after.resolve("unbound", 150) }, "a short token without an entry resolved");
	end);

	it("resolves tokens without an index entry (earlier versions, the reference module) from their claims", function()
		local kit, endpoints = new_endpoints();
		kit.backend.claims.legacy = { sub = "u@h/phone", application = "A", instance = "I", exp = 50 };
		assert.same({ "u@h/phone", "u@h" }, { endpoints.resolve("legacy", 10).sub, endpoints.resolve("legacy", 10).user });
		assert.same({ nil, "expired" }, { endpoints.resolve("legacy", 51) });
		kit.backend.claims.legacy2 = { sub = "u@h/phone", application = "A", instance = "I", exp = 50 };
		assert.same({ true }, { endpoints.revoke("legacy2", endpoints.resolve("legacy2", 10), 10) });
		assert.is_true(kit.backend.revoked.legacy2, "the backend was not asked to revoke");
		assert.same({ nil, "revoked" }, { endpoints.resolve("legacy2", 11) });
	end);

	it("never caches a failure, the store's included", function()
		local kit, endpoints = new_endpoints();
		assert.same({ nil, "invalid" }, { endpoints.resolve("nope", 1) });
		assert.same({ nil, "invalid" }, { endpoints.resolve("nope", 1) });
		assert.equal(2, kit.backend.opens);
		local store = up.memory_keyval();
		store.get = function() return nil, "disk on fire"; end
		local broken, on_broken = new_endpoints({ store = store });
		broken.backend.claims.t = { sub = "u@h/phone", application = "A", instance = "I", exp = 100, indexed = true };
		assert.same({ nil, "failed", "disk on fire" }, { on_broken.resolve("t", 1) });
		assert.same({ nil, "failed", "disk on fire" }, { on_broken.resolve("t", 1) }, "a failure was cached");
	end);
end);

describe("revoking", function()
	it("revokes a bound token by forgetting its entry, and a renewal then gets a new token", function()
		local kit, endpoints = new_endpoints();
		local token = kit.register("u@h/phone", "A", "I", 100, 0);
		assert.same({ true }, { endpoints.revoke(token, endpoints.resolve(token, 1), 1) });
		assert.equal(1, kit.revocations.gone.n);
		assert.same({ nil, "revoked" }, { endpoints.resolve(token, 2) });
		assert.same({ tokenKey(token) }, kit.forgotten);
		assert.same({ tokenKey(token) }, kit.backend.dropped);
		assert.is_nil(kit.backend.revoked[token], "a bound token needs no revocation list entry");
		assert.is_nil(kit.stored("u@h"), "the emptied record is still stored");
		assert.are_not.equal(token, (kit.register("u@h/phone", "A", "I", 100, 3)));
		assert.same({ nil, "revoked" }, { endpoints.resolve(token, 4) });
	end);

	it("revokes an entry whose app is gone, and reports a store that fails", function()
		local kit, endpoints = new_endpoints();
		local token = kit.register("u@h/phone", "A", "I", 100, 0);
		local key = tokenKey(token);
		kit.fail_writes(true);
		assert.same({ false, "disk full" }, { endpoints.revokeEntry("u@h", key, endpoints.entry("u@h", key)) });
		assert.same({}, kit.forgotten);
		kit.fail_writes(false);
		assert.same({ true }, { endpoints.revokeEntry("u@h", key, endpoints.entry("u@h", key)) });
		assert.same({ key }, kit.forgotten);
		assert.same({ nil, "revoked" }, { endpoints.resolve(token, 1) });
		assert.equal(1, kit.revocations.gone.n);
	end);

	it("counts a revocation only once it is stored", function()
		local kit, endpoints = new_endpoints();
		kit.backend.claims.legacy = { sub = "u@h/phone", application = "A", instance = "I", exp = 50 };
		kit.backend.revoke = function() return false, "disk full"; end
		assert.same({ false, "disk full" }, { endpoints.revoke("legacy", endpoints.resolve("legacy", 10), 10) });
		assert.equal(0, kit.revocations.gone.n);
	end);

	it("revokes every endpoint of a deleted account, those from before stable endpoints too", function()
		local store = up.memory_keyval();
		-- An entry written by an earlier version: no token, and a token that lives on its claims.
		store.data["u@h"] = { [tokenKey("legacy")] = { a = "C", i = "I", e = 100 } };
		local kit, endpoints = new_endpoints({ store = store });
		kit.backend.claims.legacy = { sub = "u@h/phone", application = "C", instance = "I", exp = 100 };
		local a = kit.register("u@h/phone", "A", "I", 100, 0);
		local b = kit.register("u@h/phone", "B", "I", 100, 0);
		local other = kit.register("v@h/phone", "A", "I", 100, 0);
		for _, token in ipairs({ a, b, "legacy" }) do assert.truthy((endpoints.resolve(token, 1))); end
		assert.same({ 3 }, { (endpoints.removeUser("u@h", 2)) });
		for _, token in ipairs({ a, b, "legacy" }) do assert.same({ nil, "revoked" }, { endpoints.resolve(token, 3) }); end
		assert.is_true(kit.backend.revoked[tokenKey("legacy")], "the legacy token was not revoked by its key");
		assert.same(sorted({ tokenKey(a), tokenKey(b), tokenKey("legacy") }), sorted(kit.forgotten));
		assert.is_nil(kit.stored("u@h"));
		assert.truthy((endpoints.resolve(other, 3)), "another user's endpoint went too");
		assert.same({ 3, 0, 0 }, { kit.revocations.account_deleted.n, kit.revocations.gone.n, kit.revocations.admin.n });
		assert.same({ 0, nil }, { endpoints.removeUser("nobody@h", 3) });
	end);

	describe("for an admin", function()
		local function three_apps()
			local kit, endpoints = new_endpoints();
			local tokens = {
				(kit.register("u@h/phone", "AAAAAAAAone", "I", 100, 0)),
				(kit.register("u@h/phone", "AAAAAAAAtwo", "I", 100, 0)),
				(kit.register("u@h/tablet", "BBBBBBBBone", "I", 100, 0)),
			};
			local other = kit.register("v@h/phone", "AAAAAAAAone", "I", 100, 0);
			for _, token in ipairs(tokens) do assert.truthy((endpoints.resolve(token, 1))); end
			return kit, endpoints, tokens, other;
		end

		it("the applications whose hash starts with what is given", function()
			local kit, endpoints, tokens, other = three_apps();
			assert.same({ 2, nil }, { endpoints.revokeApps("u@h", "AAAAAAAA", 2) });
			assert.same({ nil, "revoked" }, { endpoints.resolve(tokens[1], 3) });
			assert.same({ nil, "revoked" }, { endpoints.resolve(tokens[2], 3) });
			assert.truthy((endpoints.resolve(tokens[3], 3)), "an application that does not match went too");
			assert.truthy((endpoints.resolve(other, 3)), "another user's endpoint went too");
			assert.same(sorted({ tokenKey(tokens[1]), tokenKey(tokens[2]) }), sorted(kit.forgotten));
			assert.equal(2, kit.revocations.admin.n);
		end);

		it("every application of the user, and nothing of an unknown one", function()
			local kit, endpoints, tokens = three_apps();
			assert.same({ 0, nil }, { endpoints.revokeApps("u@h", "ZZ", 2) });
			assert.same({ 3, nil }, { endpoints.revokeApps("u@h", nil, 2) });
			for _, token in ipairs(tokens) do assert.same({ nil, "revoked" }, { endpoints.resolve(token, 3) }); end
			assert.is_nil(kit.stored("u@h"), "the user's index record is still there");
			assert.same({ 0, nil }, { endpoints.revokeApps("nobody@h", nil, 2) });
			assert.equal(3, kit.revocations.admin.n);
		end);

		it("lists the entries it would revoke, expired ones too until they are purged", function()
			local _, endpoints = three_apps();
			local apps = {};
			for _, entry in pairs(endpoints.entries("u@h")) do apps[#apps + 1] = entry.a .. " " .. entry.j; end
			assert.same({ "AAAAAAAAone u@h/phone", "AAAAAAAAtwo u@h/phone", "BBBBBBBBone u@h/tablet" }, sorted(apps));
			assert.same({ nil, nil }, { endpoints.entries("nobody@h") });
		end);
	end);
end);

describe("the sweep", function()
	-- Users u1@h … u<count>@h, each with an app expired at 10 and one live until 50;
	-- the live apps' tokens, by user.
	local function expired_and_live(kit, count)
		local live = {};
		for n = 1, count do
			kit.register("u" .. n .. "@h/r", "A", "I", 10, 0);
			live[n] = kit.register("u" .. n .. "@h/r", "B", "I", 50, 0);
		end
		return live;
	end

	-- Each of those users keeps just its live app.
	local function assert_only_live(kit, live)
		for n, token in ipairs(live) do
			assert.same({ tokenKey(token) }, keys(kit.stored("u" .. n .. "@h")));
		end
	end

	local function sweep(endpoints, now, users)
		local ended = {};
		local walk = endpoints.sweep(now, up.slice_budget(users or 1000), function(err) ended[#ended + 1] = err or "done"; end);
		return walk, ended;
	end

	it("drops every user's expired endpoints and removes empty records", function()
		local kit, endpoints = new_endpoints();
		local a = kit.register("u@h/r", "A", "I", 10, 0);
		kit.register("v@h/r", "A", "I", 50, 0);
		local walk, ended = sweep(endpoints, 20);
		assert.equal(1, up.finish_walk(walk));
		assert.equal(1, walk.total());
		assert.same({ "done" }, ended);
		assert.same({ tokenKey(a) }, kit.forgotten);
		assert.is_nil(kit.stored("u@h"));
		assert.truthy(kit.stored("v@h"));
	end);

	it("goes in slices: every expired entry goes across several ticks, registrations served between them", function()
		local kit, endpoints = new_endpoints();
		local live = expired_and_live(kit, 6);
		local walk = sweep(endpoints, 20, 2);
		assert.is_false(walk.step());
		assert.equal(2, #kit.forgotten, "one slice visits two users");
		-- Between two slices: a renewal of a user not yet swept, and a new user.
		assert.same({ live[5], true }, { kit.register("u5@h/r", "B", "I", 90, 20) });
		local new = kit.register("w@h/r", "A", "I", 90, 20);
		assert.equal(3, up.finish_walk(walk));
		assert.equal(5, walk.total(), "u5's expired entry went with its renewal");
		assert.equal(6, #kit.forgotten);
		assert_only_live(kit, live);
		assert.equal(90, kit.stored("u5@h")[tokenKey(live[5])].e);
		assert.truthy(kit.stored("w@h")[tokenKey(new)]);
	end);

	it("loses nothing to a restart in the middle: the next sweep finishes the work", function()
		local kit, endpoints = new_endpoints();
		local live = expired_and_live(kit, 5);
		assert.is_false(sweep(endpoints, 20, 2).step());
		-- Restarted: the walk is gone, the stores and the journal stay.
		local after, endpoints_after = restarted(kit);
		local next_walk = sweep(endpoints_after, 20, 2);
		up.finish_walk(next_walk);
		assert.equal(3, next_walk.total(), "the users the first walk did not reach");
		assert_only_live(after, live);
	end);

	it("is not there where the store cannot list users, and reports a store that fails", function()
		local store = up.memory_keyval();
		store.users = nil;
		assert.is_nil((sweep(select(2, new_endpoints({ store = store })), 20)));
		local failing = up.memory_keyval();
		failing.data.u = { k = { a = "A", i = "I", e = 1 } };
		failing.get = function() error("database gone"); end;
		local walk, ended = sweep(select(2, new_endpoints({ store = failing })), 20);
		assert.equal(1, up.finish_walk(walk));
		assert.matches("database gone", ended[1]);
	end);
end);
