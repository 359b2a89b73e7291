-- Unit: lists of a store's users in shards (src/userlist.ts), kept through the
-- real journal on stores in memory: the first walk goes over the store's own
-- listing and fills the list, later walks go by the list, writes keep it, and a
-- list that failed is walked over the store again.
local up = require "unified_push";

-- A store listed as "users" (`kit.store`; the store itself `kit.users`, whose
-- own listings are counted in `kit.listings`) and its list's store (`kit.lists`).
-- `options`: users, lists, records (the stores), maxUnfolded (the journal's).
local function new_lists(options)
	options = options or {};
	local kit = up.journal({ foldDelay = 10, records = options.records, maxUnfolded = options.maxUnfolded });
	kit.users = options.users or up.memory_keyval();
	kit.lists = options.lists or up.memory_keyval();
	kit.listings = 0;
	local list_users = kit.users.users;
	kit.users.users = function(self)
		kit.listings = kit.listings + 1;
		return list_users(self);
	end;
	local lists = require "userlist".userLists(kit.journal.open("lists", kit.lists));
	kit.store = lists.listed("users", kit.journal.open("users", kit.users));
	assert.is_nil(kit.journal.replay());
	return kit;
end

-- Every user a walk over `store` gives, sorted; fails on a user given twice.
local function walked(store)
	local users, seen = {}, {};
	for user in store:users() do
		assert.is_nil(seen[user], user .. " was given twice");
		seen[user] = true;
		users[#users + 1] = user;
	end
	table.sort(users);
	return users;
end

describe("the lists of users", function()
	it("go over the store's own listing once, filling the list, then by the list", function()
		local users = up.memory_keyval();
		for n = 1, 3 do users.data["u" .. n] = { n = n }; end
		local kit = new_lists({ users = users });
		assert.same({ "u1", "u2", "u3" }, walked(kit.store));
		assert.equal(1, kit.listings);
		kit.run_later();
		assert.same({ "u1", "u2", "u3" }, walked(kit.store));
		assert.same({ "u1", "u2", "u3" }, walked(kit.store));
		assert.equal(1, kit.listings, "a walk went over the store's listing again");
		-- The list and its marker reach their store with the fold, in shards.
		kit.elapse();
		assert.same({ complete = true }, kit.lists.data["users.complete"]);
		local shards, listed = 0, {};
		for key, shard in pairs(kit.lists.data) do
			if key ~= "users.complete" then
				shards = shards + 1;
				assert.matches("^users%.%d+$", key);
				for user in pairs(shard) do listed[#listed + 1] = user; end
			end
		end
		table.sort(listed);
		assert.same({ "u1", "u2", "u3" }, listed);
		assert.is_true(shards >= 1 and shards <= 3);
	end);

	it("are kept by the store's writes: a user is listed from the write that gives a value, unlisted by the one that removes it", function()
		local kit = new_lists();
		assert.same({}, walked(kit.store));
		kit.run_later();
		assert.same({ true }, { kit.store:set("a", { n = 1 }) });
		kit.store:setSoon("b", { n = 1 });
		kit.store:setSoon("c", { n = 1 });
		kit.run_later();
		kit.store:set("c", nil);
		assert.same({ "a", "b" }, walked(kit.store));
		assert.equal(1, kit.listings);
		-- A restart finds the same list (the journal replays what was not folded).
		kit.journal.close();
		local after = new_lists({ users = kit.users, lists = kit.lists, records = kit.records });
		assert.same({ "a", "b" }, walked(after.store));
		assert.equal(0, after.listings, "the restarted list went over the store");
	end);

	it("list a user with the same journal record as the value that a setSoon writes", function()
		local kit = new_lists();
		walked(kit.store);
		kit.run_later();
		local records_before = 0;
		for _ in pairs(kit.records.data) do records_before = records_before + 1; end
		kit.store:setSoon("a", { n = 1 });
		kit.run_later();
		local records = {};
		for key in pairs(kit.records.data) do records[#records + 1] = tonumber(key); end
		table.sort(records);
		assert.equal(records_before + 1, #records);
		local last = kit.records.data[tostring(records[#records])];
		assert.same({ n = 1 }, last.users.set.a);
		local found = false;
		for _, shard in pairs(last.lists.set or {}) do if shard.a then found = true; end end
		for _, changes in pairs(last.lists.changed or {}) do if changes.a then found = true; end end
		assert.is_true(found, "the record that stores the value does not list the user");
	end);

	it("heal when read: a listed user whose value is gone leaves the list, one whose value reached the store some other way joins it", function()
		local kit = new_lists();
		walked(kit.store);
		kit.store:set("a", { n = 1 });
		kit.store:set("b", { n = 1 });
		kit.run_later();
		kit.elapse();
		-- Behind the list's back (an older version of the module, a script).
		kit.users.data.a = nil;
		kit.users.data.c = { n = 1 };
		assert.same({ "a", "b" }, walked(kit.store));
		assert.is_nil((kit.store:get("a")));
		assert.same({ n = 1 }, (kit.store:get("c")));
		kit.run_later();
		assert.same({ "b", "c" }, walked(kit.store));
		assert.equal(1, kit.listings);
	end);

	it("walk many users in shards, each once, and fill a shard in place within a turn", function()
		local users = up.memory_keyval();
		for n = 1, 3000 do users.data["user" .. n .. "@example.com"] = { n = n }; end
		local kit = new_lists({ users = users, maxUnfolded = 100000 });
		assert.equal(3000, #walked(kit.store));
		kit.run_later();
		local records = 0;
		for _ in pairs(kit.records.data) do records = records + 1; end
		assert.equal(1, records, "filling the list took more than the turn's one record");
		kit.elapse();
		local shards, largest = 0, 0;
		for key, shard in pairs(kit.lists.data) do
			if key ~= "users.complete" then
				shards = shards + 1;
				local size = 0;
				for _ in pairs(shard) do size = size + 1; end
				largest = math.max(largest, size);
			end
		end
		-- 4,096 shards: most of them hold a user or two.
		assert.is_true(shards > 2000, "only " .. shards .. " shards for 3000 users");
		assert.is_true(largest < 10, "shards are uneven: one holds " .. largest);
		assert.equal(3000, #walked(kit.store));
		assert.equal(1, kit.listings);
	end);

	it("are walked over the store again once a shard could not be read, until a walk has seen everyone", function()
		local lists = up.memory_keyval();
		local kit = new_lists({ lists = lists });
		walked(kit.store);
		kit.run_later();
		kit.elapse();
		local get = lists.get;
		lists.get = function() return nil, "disk on fire"; end;
		-- A new user: its shard cannot be read, so the list may miss it.
		kit.store:set("a", { n = 1 });
		kit.run_later();
		lists.get = get;
		assert.same({ "a" }, walked(kit.store));
		assert.equal(2, kit.listings);
		kit.run_later();
		assert.same({ "a" }, walked(kit.store));
		assert.equal(2, kit.listings, "the list was not complete again after a whole walk");
	end);
end);
