-- Unit: the endpoint registry (stable endpoints, the resolved-token cache,
-- expiry and revocation) over a scripted backend and the real user index on an
-- in-memory store.
local up = require "unified_push";
local registry_module = require "registry";
local userindex = require "userindex";
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

local function new_registry()
	local backend, store, revocations = scripted_backend(), up.memory_keyval(), up.any_counters();
	local index = userindex.userIndex(store, 10, backend.dropRecord);
	return registry_module.endpointRegistry(backend, index, 16, revocations), backend, store, revocations;
end

describe("the endpoint registry", function()
	it("resolves a renewed token to the latest full JID until the new expiry", function()
		local registry = new_registry();
		local token = registry.register("u@h/phone", "A", "I", 100, 0);
		assert.same({ token, true }, { registry.register("u@h/tablet", "A", "I", 200, 50) });
		local registration = registry.resolve(token, 150);
		assert.equal("u@h/tablet", registration.sub);
		assert.equal("u@h", registration.user);
		assert.equal(200, registration.exp);
		assert.same({ nil, "expired" }, { registry.resolve(token, 201) });
	end);

	it("takes the target and expiry from the index after a restart (nothing cached)", function()
		local registry, backend, store = new_registry();
		local token = registry.register("u@h/phone", "A", "I", 100, 0);
		registry.register("u@h/tablet", "A", "I", 200, 50);
		local index = userindex.userIndex(store, 10, backend.dropRecord);
		local restarted = registry_module.endpointRegistry(backend, index, 16, up.any_counters());
		local registration = restarted.resolve(token, 150);
		assert.equal("u@h/tablet", registration.sub);
		assert.equal("u@h", registration.user);
		assert.equal(200, registration.exp);
	end);

	it("answers a push to a known token without the backend or the store", function()
		local registry, backend, store = new_registry();
		local token = registry.register("u@h/phone", "A", "I", 100, 0);
		registry.resolve(token, 1);
		local opens, reads = backend.opens, store.reads;
		for now = 2, 11 do assert.truthy((registry.resolve(token, now))); end
		assert.equal(opens, backend.opens);
		assert.equal(reads, store.reads);
	end);

	-- One canonical string per token (docs/design.md, "Backends and tokens").
	it("refuses variants of valid and revoked tokens before its cache or the backend sees them", function()
		local backend, store = scripted_backend(), up.memory_keyval();
		local index = userindex.userIndex(store, 10, backend.dropRecord);
		-- A cache of one: an entry made for a variant would push the genuine token out.
		local registry = registry_module.endpointRegistry(backend, index, 1, up.any_counters());
		local token = registry.register("u@h/phone", "A", "I", 100, 0);
		local revoked = registry.register("u@h/phone", "B", "I", 100, 0);
		assert.same({ true }, { registry.revoke(revoked, registry.resolve(revoked, 1), 1) });
		assert.truthy((registry.resolve(token, 1)));
		local opens, reads = backend.opens, store.reads;
		for _, base in ipairs({ token, revoked }) do
			for _, variant in ipairs({ base .. ".", base .. ".x", base .. "=", base .. "==", base .. "\0", " " .. base }) do
				assert.same({ nil, "invalid" }, { registry.resolve(variant, 2) });
			end
		end
		assert.equal(opens, backend.opens, "a variant reached the backend");
		assert.equal(reads, store.reads, "a variant reached the index");
		assert.truthy((registry.resolve(token, 3)));
		assert.equal(opens, backend.opens, "the genuine token left the cache");
	end);

	it("refuses a new endpoint whose token is longer than allowed, and forgets it; renewals are never refused", function()
		local registry, backend, store = new_registry();
		local token = registry.register("u@h/phone", "A", "I", 100, 0, 4); -- "tok1": 4 characters
		assert.equal("tok1", token);
		assert.same({ token, true }, { registry.register("u@h/phone", "A", "I", 200, 1, 3) });
		assert.same({ nil, "too-long", "4 characters" }, { registry.register("u@h/phone", "B", "I", 100, 1, 3) });
		assert.same({ tokenKey("tok2") }, backend.dropped);
		assert.is_nil(store.data["u@h"][tokenKey("tok2")], "the refused endpoint is still in the index");
		assert.same({ nil, "revoked" }, { registry.resolve("tok2", 2) });
	end);

	it("resolves a short token (the user only) from the user's index entry: target, app and expiry", function()
		local registry, backend, store = new_registry();
		local token = registry.register("u@h/phone", "A", "I", 100, 0);
		registry.register("u@h/tablet", "A", "I", 200, 50);
		-- What a short token opens to; a registry after a restart has nothing cached.
		backend.claims[token] = { u = "u@h" };
		backend.claims.unbound = { u = "u@h" };
		local restarted = registry_module.endpointRegistry(backend, userindex.userIndex(store, 10, backend.dropRecord), 16,
			up.any_counters());
		assert.same({ sub = "u@h/tablet", user = "u@h", key = tokenKey(token), application = "A", instance = "I", exp = 200,
			indexed = true }, (restarted.resolve(token, 150)));
		assert.same({ nil, "expired" }, { restarted.resolve(token, 201) });
		assert.same({ nil, "revoked" }, { restarted.resolve("unbound", 150) }, "a short token without an entry resolved");
	end);

	it("never caches a failure", function()
		local registry, backend = new_registry();
		assert.same({ nil, "invalid" }, { registry.resolve("nope", 1) });
		assert.same({ nil, "invalid" }, { registry.resolve("nope", 1) });
		assert.equal(2, backend.opens);
	end);

	it("revokes a bound token by forgetting its entry, and a renewal then gets a new token", function()
		local registry, backend, _, revocations = new_registry();
		local token = registry.register("u@h/phone", "A", "I", 100, 0);
		local registration = registry.resolve(token, 1);
		assert.same({ true }, { registry.revoke(token, registration, 1) });
		assert.equal(1, revocations.gone.n);
		assert.same({ nil, "revoked" }, { registry.resolve(token, 2) });
		assert.same({ tokenKey(token) }, backend.dropped);
		assert.is_nil(backend.revoked[token], "a bound token needs no revocation list entry");
		local renewed = registry.register("u@h/phone", "A", "I", 100, 3);
		assert.are_not.equal(token, renewed);
		assert.same({ nil, "revoked" }, { registry.resolve(token, 4) });
	end);

	it("resolves tokens without an index entry (earlier versions, the reference module) from their claims", function()
		local registry, backend = new_registry();
		backend.claims.legacy = { sub = "u@h/phone", application = "A", instance = "I", exp = 50 };
		assert.equal("u@h/phone", registry.resolve("legacy", 10).sub);
		assert.equal("u@h", registry.resolve("legacy", 10).user);
		assert.same({ nil, "expired" }, { registry.resolve("legacy", 51) });
		backend.claims.legacy2 = { sub = "u@h/phone", application = "A", instance = "I", exp = 50 };
		local registration = registry.resolve("legacy2", 10);
		assert.same({ true }, { registry.revoke("legacy2", registration, 10) });
		assert.is_true(backend.revoked.legacy2, "the backend was not asked to revoke");
		assert.same({ nil, "revoked" }, { registry.resolve("legacy2", 11) });
	end);

	it("reports the store's failure when a bound token's index entry cannot be read", function()
		local backend = scripted_backend();
		backend.claims.t = { sub = "u@h/phone", application = "A", instance = "I", exp = 100, indexed = true };
		local broken_store = { get = function() return nil, "disk on fire"; end };
		local registry = registry_module.endpointRegistry(backend, userindex.userIndex(broken_store, 10, function() end), 16,
			up.any_counters());
		assert.same({ nil, "failed", "disk on fire" }, { registry.resolve("t", 1) });
		assert.same({ nil, "failed", "disk on fire" }, { registry.resolve("t", 1) }, "a failure was cached");
	end);
	it("revokes every endpoint of a deleted account, those from before stable endpoints too", function()
		local registry, backend, store, revocations = new_registry();
		local a = registry.register("u@h/phone", "A", "I", 100, 0);
		local b = registry.register("u@h/phone", "B", "I", 100, 0);
		local other = registry.register("v@h/phone", "A", "I", 100, 0);
		-- An entry written by an earlier version: no token, and a token that lives on its claims.
		backend.claims.legacy = { sub = "u@h/phone", application = "C", instance = "I", exp = 100 };
		store.data["u@h"][tokenKey("legacy")] = { a = "C", i = "I", e = 100 };
		for _, token in ipairs({ a, b, "legacy" }) do assert.truthy((registry.resolve(token, 1))); end
		assert.same({ 3 }, { (registry.removeUser("u@h", 2)) });
		assert.same({ nil, "revoked" }, { registry.resolve(a, 3) });
		assert.same({ nil, "revoked" }, { registry.resolve(b, 3) });
		assert.is_true(backend.revoked[tokenKey("legacy")], "the legacy token was not revoked by its key");
		assert.same({ nil, "revoked" }, { registry.resolve("legacy", 3) }, "the cache still knew the legacy token");
		assert.is_nil(store.data["u@h"]);
		assert.truthy((registry.resolve(other, 3)), "another user's endpoint went too");
		assert.equal(3, revocations.account_deleted.n);
		assert.equal(0, revocations.gone.n + revocations.admin.n);
	end);

	it("counts a revocation only once it is stored", function()
		local registry, backend, _, revocations = new_registry();
		backend.claims.legacy = { sub = "u@h/phone", application = "A", instance = "I", exp = 50 };
		backend.revoke = function() return false, "disk full"; end
		assert.same({ false, "disk full" }, { registry.revoke("legacy", registry.resolve("legacy", 10), 10) });
		assert.equal(0, revocations.gone.n);
	end);

	describe("revokes for an admin", function()
		local function three_apps()
			local registry, backend, store, revocations = new_registry();
			local tokens = {
				registry.register("u@h/phone", "AAAAAAAAone", "I", 100, 0),
				registry.register("u@h/phone", "AAAAAAAAtwo", "I", 100, 0),
				(registry.register("u@h/tablet", "BBBBBBBBone", "I", 100, 0)),
			};
			local other = registry.register("v@h/phone", "AAAAAAAAone", "I", 100, 0);
			for _, token in ipairs(tokens) do assert.truthy((registry.resolve(token, 1))); end
			return registry, backend, store, revocations, tokens, other;
		end

		it("the applications whose hash starts with what is given", function()
			local registry, backend, _, revocations, tokens, other = three_apps();
			assert.same({ 2, nil }, { registry.revokeApps("u@h", "AAAAAAAA", 2) });
			assert.same({ nil, "revoked" }, { registry.resolve(tokens[1], 3) });
			assert.same({ nil, "revoked" }, { registry.resolve(tokens[2], 3) });
			assert.truthy((registry.resolve(tokens[3], 3)), "an application that does not match went too");
			assert.truthy((registry.resolve(other, 3)), "another user's endpoint went too");
			local dropped, expected = { table.unpack(backend.dropped) }, { tokenKey(tokens[1]), tokenKey(tokens[2]) };
			table.sort(dropped);
			table.sort(expected);
			assert.same(expected, dropped, "their records were not dropped");
			assert.equal(2, revocations.admin.n);
		end);

		it("every application of the user, and nothing of an unknown one", function()
			local registry, _, store, revocations, tokens = three_apps();
			assert.same({ 0, nil }, { registry.revokeApps("u@h", "ZZ", 2) });
			assert.same({ 3, nil }, { registry.revokeApps("u@h", nil, 2) });
			for _, token in ipairs(tokens) do assert.same({ nil, "revoked" }, { registry.resolve(token, 3) }); end
			assert.is_nil(store.data["u@h"], "the user's index record is still there");
			assert.same({ 0, nil }, { registry.revokeApps("nobody@h", nil, 2) });
			assert.equal(3, revocations.admin.n);
		end);

		it("lists the entries it would revoke", function()
			local registry = three_apps();
			local entries = registry.entries("u@h");
			local apps = {};
			for _, entry in pairs(entries) do apps[#apps + 1] = entry.a .. " " .. entry.j; end
			table.sort(apps);
			assert.same({ "AAAAAAAAone u@h/phone", "AAAAAAAAtwo u@h/phone", "BBBBBBBBone u@h/tablet" }, apps);
			assert.is_nil((registry.entries("nobody@h")));
		end);
	end);
end);
