-- Unit: the per-user registration index (cap, renewals, purge) on an in-memory store.
local registrations = require "registrations";

local function memory_store()
	local data = {};
	return {
		data = data,
		get = function(_, key) return data[key]; end,
		set = function(_, key, value) data[key] = value; return true; end,
		users = function() return next, data, nil; end,
	};
end

local function issuer(key) return function() return key; end; end

describe("the registration index", function()
	it("caps distinct apps per user but never renewals", function()
		local store, dropped = memory_store(), {};
		local index = registrations.registrationIndex(store, 2, function(key) dropped[#dropped + 1] = key; end);
		assert.equal("k1", index.register("u", "A", "I", 100, 0, issuer("k1")));
		assert.equal("k2", index.register("u", "B", "I", 100, 0, issuer("k2")));
		local key, refusal = index.register("u", "C", "I", 100, 0, issuer("k3"));
		assert.is_nil(key);
		assert.equal("limit", refusal);
		assert.equal("k4", index.register("u", "A", "I", 200, 1, issuer("k4")));
		assert.equal("k5", index.register("other", "C", "I", 100, 0, issuer("k5")));
	end);

	it("drops the user's expired endpoints on the next registration", function()
		local store, dropped = memory_store(), {};
		local index = registrations.registrationIndex(store, 10, function(key) dropped[#dropped + 1] = key; end);
		index.register("u", "A", "I", 10, 0, issuer("old"));
		index.register("u", "A", "I", 30, 20, issuer("new"));
		assert.same({ "old" }, dropped);
		assert.is_nil(store.data.u.old);
		assert.truthy(store.data.u.new);
	end);

	it("sweeps every user's expired endpoints and removes empty records", function()
		local store, dropped = memory_store(), {};
		local index = registrations.registrationIndex(store, 10, function(key) dropped[#dropped + 1] = key; end);
		index.register("u", "A", "I", 10, 0, issuer("a"));
		index.register("v", "A", "I", 50, 0, issuer("b"));
		assert.equal(1, index.sweep(20));
		assert.same({ "a" }, dropped);
		assert.is_nil(store.data.u);
		assert.truthy(store.data.v);
	end);

	it("forgets a revoked endpoint", function()
		local store = memory_store();
		local index = registrations.registrationIndex(store, 10, function() end);
		index.register("u", "A", "I", 10, 0, issuer("a"));
		index.forget("u", "a");
		assert.is_nil(store.data.u);
	end);

	it("refuses, without issuing, when the store fails", function()
		local store = memory_store();
		store.get = function() return nil, "disk on fire"; end
		local issued = false;
		local index = registrations.registrationIndex(store, 10, function() end);
		local key, refusal, detail = index.register("u", "A", "I", 10, 0, function() issued = true; return "x"; end);
		assert.is_nil(key);
		assert.equal("failed", refusal);
		assert.equal("disk on fire", detail);
		assert.is_false(issued);
	end);
end);
