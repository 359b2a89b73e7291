-- Unit: the per-user index (renewal, cap, purge, forget) on an in-memory store.
local userindex = require "userindex";
local up = require "unified_push";
local tokenKey = require "backends.backend".tokenKey;

local function keys(record)
	local list = {};
	for key in pairs(record) do list[#list + 1] = key; end
	return list;
end

local function sweep(index, now, users)
	local ended = {};
	local walk = index.sweep(now, up.slice_budget(users or 1000), function(err) ended[#ended + 1] = err or "done"; end);
	return walk, ended;
end

-- An issue callback handing out the given tokens in turn.
local function tokens(...)
	local list, n = { ... }, 0;
	return function() n = n + 1; return list[n]; end;
end

local function new_index(max, store)
	local dropped = {};
	local index = userindex.userIndex(store or up.memory_keyval(), max or 10, function(key) dropped[#dropped + 1] = key; end);
	return index, dropped;
end

describe("the user index", function()
	it("hands the same token to a renewal, with the new expiry and full JID", function()
		local index = new_index();
		local issue = tokens("t1", "t2");
		assert.same({ "t1", false }, { index.register("u", "u/phone", "A", "I", 100, 0, issue) });
		assert.same({ "t1", true }, { index.register("u", "u/tablet", "A", "I", 200, 50, issue) });
		local entry = index.entry("u", tokenKey("t1"));
		assert.equal(200, entry.e);
		assert.equal("u/tablet", entry.j);
	end);

	it("gives another application, instance or user a token of its own", function()
		local index = new_index();
		local issue = tokens("t1", "t2", "t3", "t4");
		assert.equal("t1", (index.register("u", "u/r", "A", "I", 100, 0, issue)));
		assert.equal("t2", (index.register("u", "u/r", "B", "I", 100, 0, issue)));
		assert.equal("t3", (index.register("u", "u/r", "A", "J", 100, 0, issue)));
		assert.equal("t4", (index.register("v", "v/r", "A", "I", 100, 0, issue)));
	end);

	it("never renews an expired endpoint: a new token, and the old one's record dropped", function()
		local index, dropped = new_index();
		local issue = tokens("old", "new");
		index.register("u", "u/r", "A", "I", 10, 0, issue);
		assert.same({ "new", false }, { index.register("u", "u/r", "A", "I", 30, 20, issue) });
		assert.same({ tokenKey("old") }, dropped);
		assert.is_nil((index.entry("u", tokenKey("old"))));
	end);

	it("never renews a forgotten (revoked) endpoint", function()
		local index, dropped = new_index();
		local issue = tokens("t1", "t2");
		index.register("u", "u/r", "A", "I", 100, 0, issue);
		assert.same({ true }, { (index.forget("u", tokenKey("t1"))) });
		assert.same({ tokenKey("t1") }, dropped);
		assert.same({ "t2", false }, { index.register("u", "u/r", "A", "I", 100, 1, issue) });
	end);

	it("does not renew entries written before endpoints were stable, and keeps them until they expire", function()
		local store = up.memory_keyval();
		store.data.u = { legacy = { a = "A", i = "I", e = 100 } };
		local index = new_index(10, store);
		assert.same({ "t1", false }, { index.register("u", "u/r", "A", "I", 100, 0, tokens("t1")) });
		assert.truthy(store.data.u.legacy);
	end);

	it("caps distinct apps per user but never renewals", function()
		local index = new_index(2);
		local issue = tokens("k1", "k2", "k3", "k4");
		assert.equal("k1", (index.register("u", "u/r", "A", "I", 100, 0, issue)));
		assert.equal("k2", (index.register("u", "u/r", "B", "I", 100, 0, issue)));
		local token, refusal, detail = index.register("u", "u/r", "C", "I", 100, 0, issue);
		assert.is_nil(token);
		assert.equal("limit", refusal);
		assert.equal("2 registrations", detail);
		assert.same({ "k1", true }, { index.register("u", "u/r", "A", "I", 200, 1, issue) });
		assert.equal("k3", (index.register("other", "other/r", "C", "I", 100, 0, issue)));
	end);

	it("sweeps every user's expired endpoints and removes empty records", function()
		local store = up.memory_keyval();
		local index, dropped = new_index(10, store);
		index.register("u", "u/r", "A", "I", 10, 0, tokens("a"));
		index.register("v", "v/r", "A", "I", 50, 0, tokens("b"));
		local walk, ended = sweep(index, 20);
		assert.equal(1, up.finish_walk(walk));
		assert.equal(1, walk.total());
		assert.same({ "done" }, ended);
		assert.same({ tokenKey("a") }, dropped);
		assert.is_nil(store.data.u);
		assert.truthy(store.data.v);
	end);

	it("sweeps in slices: every expired entry goes across several ticks, registrations served between them", function()
		local store = up.memory_keyval();
		local index, dropped = new_index(10, store);
		for n = 1, 6 do
			index.register("u" .. n, "u" .. n .. "/r", "A", "I", 10, 0, tokens("old" .. n));
			index.register("u" .. n, "u" .. n .. "/r", "B", "I", 50, 0, tokens("live" .. n));
		end
		local walk = sweep(index, 20, 2);
		assert.is_false(walk.step());
		assert.equal(2, #dropped, "one slice visits two users");
		-- Between two slices: a renewal of a user not yet swept, and a new user.
		assert.same({ "live5", true }, { index.register("u5", "u5/r", "B", "I", 90, 20, tokens()) });
		assert.same({ "new", false }, { index.register("w", "w/r", "A", "I", 90, 20, tokens("new")) });
		assert.equal(3, up.finish_walk(walk));
		assert.equal(5, walk.total(), "u5's expired entry went with its renewal");
		assert.equal(6, #dropped);
		for n = 1, 6 do
			assert.same({ tokenKey("live" .. n) }, keys(store.data["u" .. n]));
		end
		assert.equal(90, store.data.u5[tokenKey("live5")].e);
		assert.truthy(store.data.w[tokenKey("new")]);
	end);

	it("loses nothing to a restart in the middle of a sweep: the next one finishes the work", function()
		local store = up.memory_keyval();
		local index = new_index(10, store);
		for n = 1, 5 do
			index.register("u" .. n, "u" .. n .. "/r", "A", "I", 10, 0, tokens("old" .. n));
			index.register("u" .. n, "u" .. n .. "/r", "B", "I", 50, 0, tokens("live" .. n));
		end
		local walk = sweep(index, 20, 2);
		assert.is_false(walk.step());
		-- Restarted: the walk is gone, the store stays.
		local again = new_index(10, store);
		local next_walk = sweep(again, 20, 2);
		up.finish_walk(next_walk);
		assert.equal(3, next_walk.total(), "the users the first walk did not reach");
		for n = 1, 5 do
			assert.same({ tokenKey("live" .. n) }, keys(store.data["u" .. n]));
		end
	end);

	it("has no sweep where the store cannot list users, and reports a store that fails", function()
		local store = up.memory_keyval();
		store.users = nil;
		assert.is_nil((sweep(new_index(10, store), 20)));
		local failing = up.memory_keyval();
		failing.data.u = { k = { a = "A", i = "I", e = 1 } };
		failing.get = function() error("database gone"); end;
		local walk, ended = sweep(new_index(10, failing), 20);
		assert.equal(1, up.finish_walk(walk));
		assert.matches("database gone", ended[1]);
	end);

	it("forgets a revoked endpoint and removes the emptied record", function()
		local store = up.memory_keyval();
		local index = new_index(10, store);
		index.register("u", "u/r", "A", "I", 10, 0, tokens("a"));
		index.forget("u", "a");
		assert.truthy(store.data.u, "forgetting an unknown key changed the record");
		assert.same({ true }, { (index.forget("u", tokenKey("a"))) });
		assert.is_nil(store.data.u);
	end);

	it("refuses, without issuing, when the store cannot be read", function()
		local store = up.memory_keyval();
		store.get = function() return nil, "disk on fire"; end
		local issued = false;
		local index = new_index(10, store);
		local token, refusal, detail = index.register("u", "u/r", "A", "I", 10, 0, function() issued = true; return "x"; end);
		assert.is_nil(token);
		assert.equal("failed", refusal);
		assert.equal("disk on fire", detail);
		assert.is_false(issued);
		assert.same({ nil, "disk on fire" }, { index.entry("u", "k") });
		assert.same({ false, "disk on fire" }, { index.forget("u", "k") });
	end);

	it("keeps the old expiry when a renewal cannot be stored, and drops a new token's record", function()
		local store = up.memory_keyval();
		local index, dropped = new_index(10, store);
		index.register("u", "u/phone", "A", "I", 100, 0, tokens("t1"));
		store.set = function() return nil, "disk full"; end
		assert.same({ nil, "failed", "disk full" }, { index.register("u", "u/tablet", "A", "I", 200, 1, tokens()) });
		local entry = index.entry("u", tokenKey("t1"));
		assert.equal(100, entry.e);
		assert.equal("u/phone", entry.j);
		assert.same({ nil, "failed", "disk full" }, { index.register("u", "u/phone", "B", "I", 200, 1, tokens("t2")) });
		assert.same({ tokenKey("t2") }, dropped);
	end);
	it("removes a user whole, dropping every endpoint's record, and leaves others alone", function()
		local store = up.memory_keyval();
		local index, dropped = new_index(10, store);
		index.register("u", "u/r", "A", "I", 100, 0, tokens("a"));
		index.register("u", "u/r", "B", "I", 100, 0, tokens("b"));
		index.register("v", "v/r", "A", "I", 100, 0, tokens("c"));
		local entries = index.removeUser("u");
		assert.truthy(entries[tokenKey("a")]);
		assert.truthy(entries[tokenKey("b")]);
		table.sort(dropped);
		local expected = { tokenKey("a"), tokenKey("b") };
		table.sort(expected);
		assert.same(expected, dropped);
		assert.is_nil(store.data.u);
		assert.truthy(store.data.v);
		assert.same({ nil, nil }, { index.removeUser("nobody") });
	end);

	it("lists a user's entries, expired ones too until they are purged", function()
		local index = new_index();
		index.register("u", "u/r", "A", "I", 100, 0, tokens("a"));
		index.register("u", "u/r", "B", "I", 10, 0, tokens("b"));
		local entries = index.entries("u");
		assert.same({ a = "A", i = "I", e = 100, t = "a", j = "u/r" }, entries[tokenKey("a")]);
		assert.same({ a = "B", i = "I", e = 10, t = "b", j = "u/r" }, entries[tokenKey("b")]);
		assert.same({ nil, nil }, { index.entries("nobody") });
		local broken = new_index(10, { get = function() return nil, "disk on fire"; end });
		assert.same({ nil, "disk on fire" }, { broken.entries("u") });
	end);
end);
