-- Unit: the user index as storage (src/userindex.ts): records kept in memory,
-- copies handed out, writes through the real journal (src/journal.ts, its own
-- spec is journal_spec.lua), on an in-memory store. What the records mean is
-- endpoints_spec.lua's.
local up = require "unified_push";
local userindex = require "userindex";

-- An index over `store` (default: a new memory store) through a journal whose
-- end of turn comes when the spec says (kit.run_later()) and whose fold waits
-- for kit.elapse(); the journal's records count their writes.
local function new_index(options)
	options = options or {};
	local store = options.store or up.memory_keyval();
	local kit = up.journal({ foldDelay = 10 });
	kit.records.writes = 0;
	local set = kit.records.set;
	kit.records.set = function(...) kit.records.writes = kit.records.writes + 1; return set(...); end;
	local index = userindex.userIndex({ store = kit.journal.open("users", store), cacheSize = options.cacheSize or 16 });
	return index, store, kit;
end

local function entry(e, j) return { a = "A", i = "I", e = e, t = "t", j = j }; end

-- A stored-callback that records what it was told into `told`.
local function recorder(told)
	return function(ok, err) told[#told + 1] = { ok, err }; end;
end

describe("the user index", function()
	it("reads a record from the store once, then from memory, and a user without one too", function()
		local index, store = new_index();
		store.data.u = { k = entry(100, "u/r") };
		assert.equal(100, index.read("u").k.e);
		assert.equal(100, index.read("u").k.e);
		assert.is_nil((index.read("nobody")));
		assert.is_nil((index.read("nobody")));
		assert.equal(2, store.reads);
	end);

	it("hands out its own copy: changing it changes nothing stored until it is written", function()
		local index, store, kit = new_index();
		store.data.u = { k = entry(100, "u/r") };
		local record = index.read("u");
		record.k.e = 200;
		assert.same({ true, nil }, { index.write("u", record) });
		record.k.e = 300;
		kit.elapse();
		assert.equal(200, store.data.u.k.e, "the index's copy reached the store");
		assert.equal(300, index.read("u").k.e);
	end);

	it("stores the writes of a turn after it, in one journal record, and tells each writer", function()
		local index, store, kit = new_index();
		local told = {};
		for n = 1, 5 do
			local record = index.read("u") or {};
			record["k" .. n] = entry(100, "u/r");
			index.writeSoon("u", record, recorder(told));
		end
		index.writeSoon("v", { k = entry(100, "v/r") }, recorder(told));
		assert.equal(0, kit.records.writes);
		local read = {};
		for key in pairs(index.read("u")) do read[#read + 1] = key; end
		assert.equal(5, #read, "a read before the end of the turn missed a write");
		kit.run_later();
		assert.equal(1, kit.records.writes);
		assert.same({ { true }, { true }, { true }, { true }, { true }, { true } }, told);
		kit.elapse();
		assert.truthy(store.data.u.k5);
		assert.truthy(store.data.v.k);
	end);

	it("keeps a record that waits for the end of the turn, however many others are read meanwhile", function()
		local index, store, kit = new_index({ cacheSize = 1 });
		index.writeSoon("u", { k = entry(100, "u/r") }, function() end);
		for n = 1, 5 do store.data["other" .. n] = { k = entry(1, "x") }; index.read("other" .. n); end
		assert.equal(100, index.read("u").k.e);
		kit.run_later();
		for n = 1, 5 do index.read("other" .. n); end
		assert.equal(100, index.read("u").k.e, "a record waiting for the fold was lost");
		kit.elapse();
		assert.equal(100, store.data.u.k.e);
	end);

	it("tells every writer of a failed write why, and reads what is stored again", function()
		local index, store, kit = new_index();
		store.data.u = { k = entry(100, "u/r") };
		local record = index.read("u");
		record.k.e = 200;
		local told = {};
		index.writeSoon("u", record, recorder(told));
		index.writeSoon("u", record, recorder(told));
		kit.records.broken = true;
		kit.run_later();
		assert.same({ { false, "disk full" }, { false, "disk full" } }, told);
		assert.equal(100, index.read("u").k.e, "the failed write's record is still read");
		local again = index.read("u");
		again.k.e = 300;
		-- Held nowhere in the journal now, the write goes to the store: the disk is full there too.
		store.broken = true;
		assert.same({ false, "disk full" }, { index.write("u", again) });
		assert.equal(100, index.read("u").k.e);
	end);

	it("stores at once, with what waits for the end of the turn, when asked to write now", function()
		local index, _, kit = new_index();
		local told = {};
		index.writeSoon("u", { k = entry(100, "u/r") }, recorder(told));
		local record = index.read("u");
		record.k2 = entry(100, "u/r");
		assert.same({ true, nil }, { index.write("u", record) });
		assert.same({ { true } }, told);
		assert.equal(1, kit.records.writes);
		kit.run_later();
		assert.equal(1, kit.records.writes, "a write was repeated at the end of the turn");
	end);

	it("deletes an emptied record, and lists users where the store can", function()
		local index, store, kit = new_index();
		store.data.u = { k = entry(100, "u/r") };
		local record = index.read("u");
		record.k = nil;
		index.writeSoon("u", record, function() end);
		kit.run_later();
		assert.is_nil((index.read("u")));
		store.data.w = { k = entry(1, "w/r") };
		local users = {};
		for user in index.users() do users[#users + 1] = user; end
		assert.same({ "w" }, users, "a deleted record not yet folded is listed");
		kit.elapse();
		assert.is_nil(store.data.u);
		local unlisted = up.memory_keyval();
		unlisted.users = nil;
		assert.is_nil(new_index({ store = unlisted }).users);
	end);
end);
