-- Unit: the journal (src/journal.ts) on stores in memory, its timers in the
-- spec's hands (up.journal): one record per turn, the fold into the stores in
-- slices, a restart that replays what was not folded, and stores that fail.
local up = require "unified_push";

-- A journal with a "users" store (`kit.users`, what it holds: `kit.users.data`),
-- opened and replayed; `options` go to up.journal (foldDelay default 10 here).
local function new_journal(options)
	options = options or {};
	if options.foldDelay == nil then options.foldDelay = 10; end
	local kit = up.journal(options);
	kit.users = options.users or up.memory_keyval();
	kit.store = kit.journal.open("users", kit.users);
	kit.replayed = kit.journal.replay();
	return kit;
end

-- The journal's records, by sequence number.
local function record_keys(records)
	local keys = {};
	for key in pairs(records.data) do keys[#keys + 1] = tonumber(key); end
	table.sort(keys);
	return keys;
end

-- Writes a value with a turn of its own: one record, unless nothing changed.
local function soon(kit, key, value)
	kit.store:setSoon(key, value);
	kit.run_later();
end

local function listed(store)
	local users = {};
	for user in store:users() do users[#users + 1] = user; end
	table.sort(users);
	return users;
end

describe("the journal", function()
	it("stores the writes of a turn as one record after it, tells each writer, and reads them back at once", function()
		local kit = new_journal();
		local told = {};
		for n = 1, 3 do
			kit.store:setSoon("u" .. n, { n = n }, function(ok) told[#told + 1] = ok; end);
		end
		kit.store:setSoon("u1", { n = 10 });
		assert.same({ n = 10 }, (kit.store:get("u1")), "a write is not read back before the turn ends");
		assert.same({}, record_keys(kit.records));
		kit.run_later();
		assert.same({ 1 }, record_keys(kit.records));
		assert.same({ true, true, true }, told);
		assert.same({ users = { set = { u1 = { n = 10 }, u2 = { n = 2 }, u3 = { n = 3 } } } }, kit.records.data["1"]);
		assert.same({}, kit.users.data, "the store was written before the fold");
	end);

	it("journals a map written again before the fold as the fields that changed, and replays it onto the store's", function()
		local users = up.memory_keyval();
		users.data.u = { old = { e = 1 }, kept = { e = 1 } };
		local kit = new_journal({ users = users });
		soon(kit, "u", { old = { e = 1 }, kept = { e = 1 }, new = { e = 2 } });
		soon(kit, "u", { kept = { e = 1 }, new = { e = 3 }, other = { e = 4 } });
		soon(kit, "u", { kept = { e = 1 }, new = { e = 3 }, other = { e = 4 } });
		assert.same({ set = { u = { old = { e = 1 }, kept = { e = 1 }, new = { e = 2 } } } }, kit.records.data["1"].users,
			"the first write since the fold is not whole");
		assert.same({ changed = { u = { old = false, new = { e = 3 }, other = { e = 4 } } } }, kit.records.data["2"].users);
		assert.is_nil(kit.records.data["3"], "a write that changed nothing was journaled");
		-- A restart after the first record was folded: the second applies to what the store holds.
		users.data.u = { old = { e = 1 }, kept = { e = 1 }, new = { e = 2 } };
		kit.records.data["1"] = nil;
		local after = new_journal({ records = kit.records, users = users });
		assert.is_nil(after.replayed);
		assert.same({ kept = { e = 1 }, new = { e = 3 }, other = { e = 4 } }, (after.store:get("u")));
		after.elapse();
		assert.same({ kept = { e = 1 }, new = { e = 3 }, other = { e = 4 } }, users.data.u);
	end);

	it("journals the fields that changed where the writer says what the store holds, and replays them onto it", function()
		local users = up.memory_keyval();
		users.data.u = { a = true, b = true };
		users.data.w = { y = true };
		local kit = new_journal({ users = users });
		kit.store:setSoon("u", { a = true, b = true, c = true }, nil, users.data.u);
		kit.store:setSoon("v", { x = true }, nil, {});
		kit.run_later();
		assert.same({ users = { changed = { u = { c = true }, v = { x = true } } } }, kit.records.data["1"]);
		-- What the store holds already: no record, nothing to fold, read from the store.
		kit.store:setSoon("w", { y = true }, nil, users.data.w);
		kit.run_later();
		assert.same({ 1 }, record_keys(kit.records));
		users.reads = 0;
		assert.same({ y = true }, (kit.store:get("w")));
		assert.equal(1, users.reads);
		kit.journal.close();
		local after = new_journal({ records = kit.records, users = users });
		assert.same({ a = true, b = true, c = true }, (after.store:get("u")));
		assert.same({ x = true }, (after.store:get("v")));
		after.elapse();
		assert.same({ u = { a = true, b = true, c = true }, v = { x = true }, w = { y = true } }, users.data);
	end);

	it("folds a map written again unchanged with the record that holds it", function()
		local kit = new_journal();
		soon(kit, "u", { a = { e = 1 } });
		soon(kit, "u", { a = { e = 2 } });
		soon(kit, "u", { a = { e = 2 } });
		kit.elapse();
		assert.same({ u = { a = { e = 2 } } }, kit.users.data);
		assert.same({}, record_keys(kit.records));
	end);

	it("folds the records into their stores after the delay, then drops them; a key it holds nothing of goes straight to the store", function()
		local kit = new_journal();
		soon(kit, "u", { n = 1 });
		kit.store:set("v", { n = 2 });
		assert.same({ n = 2 }, kit.users.data.v, "a write the journal need not hold waited for the fold");
		kit.store:set("u", nil);
		assert.same({ 1, 2 }, record_keys(kit.records));
		assert.equal(10, kit.timers[1].delay, "the fold is not due after the delay");
		kit.elapse();
		assert.same({ v = { n = 2 } }, kit.users.data);
		assert.same({}, record_keys(kit.records));
		assert.is_nil((kit.store:get("u")));
		assert.same({ n = 2 }, (kit.store:get("v")));
	end);

	it("with no delay, has a turn's writes in their stores when it tells the writers", function()
		local kit = new_journal({ foldDelay = 0 });
		local seen;
		kit.store:setSoon("u", { n = 1 }, function(ok) seen = { ok, kit.users.data.u }; end);
		kit.run_later();
		assert.same({ true, { n = 1 } }, seen);
		assert.same({}, record_keys(kit.records));
	end);

	it("folds a slice per tick, and a write meanwhile waits for the next fold", function()
		local kit = new_journal({ slice = 2 });
		for n = 1, 5 do kit.store:setSoon("u" .. n, { n = n }); end
		kit.run_later();
		-- The fold is due (10 s): its first slice runs at once.
		assert.equal(10, kit.step());
		assert.equal(0.02, kit.timers[1].delay, "a slice that is not the last did not ask for the next");
		local count = 0;
		for _ in pairs(kit.users.data) do count = count + 1; end
		assert.equal(2, count, "one slice wrote more or fewer than two records");
		kit.store:setSoon("u1", { n = 100 });
		kit.run_later();
		assert.same({ n = 100 }, (kit.store:get("u1")));
		kit.elapse();
		assert.same({ n = 100 }, kit.users.data.u1);
		assert.same({}, record_keys(kit.records));
	end);

	it("never folds a write of a turn not yet stored, which may still fail", function()
		local kit = new_journal({ slice = 1 });
		kit.store:setSoon("u", { n = 1 });
		kit.store:setSoon("v", { n = 1 });
		kit.run_later();
		assert.equal(10, kit.step());
		kit.store:setSoon("u", { n = 2 });
		kit.store:setSoon("v", { n = 2 });
		-- The fold runs on (slices of 0.02 s) while this turn's writes wait for its end (0 s).
		while kit.timers[1].delay == 0.02 do kit.step(); end
		assert.same({ u = { n = 1 }, v = { n = 1 } }, kit.users.data);
		kit.records.broken = true;
		kit.run_later();
		assert.same({ n = 1 }, (kit.store:get("u")), "a failed turn's write is read");
	end);

	it("loses nothing to a restart before the fold: the next start replays the records in order", function()
		local kit = new_journal();
		kit.store:setSoon("u", { n = 1 });
		kit.store:setSoon("v", { n = 1 });
		kit.run_later();
		kit.store:set("u", { n = 2 });
		kit.store:set("v", nil);
		kit.store:setSoon("w", { n = 1 });
		kit.journal.close();
		local after = new_journal({ records = kit.records, users = kit.users });
		assert.is_nil(after.replayed);
		assert.same({ n = 2 }, (after.store:get("u")));
		assert.is_nil((after.store:get("v")));
		assert.same({ n = 1 }, (after.store:get("w")), "a write of the last turn was not stored on unload");
		assert.same({ "u", "w" }, listed(after.store));
		after.store:set("x", { n = 1 });
		after.elapse();
		assert.same({ u = { n = 2 }, w = { n = 1 }, x = { n = 1 } }, kit.users.data);
		assert.same({}, record_keys(kit.records));
	end);

	it("lists the store's keys and those waiting for the fold, never one deleted meanwhile", function()
		local users = up.memory_keyval();
		users.data.a, users.data.b = { n = 1 }, { n = 1 };
		local kit = new_journal({ users = users });
		soon(kit, "b", nil);
		soon(kit, "c", { n = 1 });
		assert.same({ a = { n = 1 }, b = { n = 1 } }, users.data, "the store was written before the fold");
		assert.same({ "a", "c" }, listed(kit.store));
		local unlisted = up.memory_keyval();
		unlisted.users = nil;
		assert.is_nil(new_journal({ users = unlisted }).store.users);
	end);

	it("answers a failed record with the store's message, and each key holds what it held before", function()
		local kit = new_journal();
		soon(kit, "u", { n = 1 });
		kit.records.broken = true;
		local told = {};
		kit.store:setSoon("u", { n = 2 }, function(ok, err) told[#told + 1] = { ok, err }; end);
		kit.store:setSoon("v", { n = 2 });
		kit.run_later();
		assert.same({ { false, "disk full" } }, told);
		assert.same({ false, "disk full" }, { kit.store:set("u", { n = 3 }) });
		assert.same({ n = 1 }, (kit.store:get("u")));
		assert.is_nil((kit.store:get("v")));
		kit.records.broken = false;
		kit.elapse();
		assert.same({ u = { n = 1 } }, kit.users.data);
	end);

	it("keeps the records when a store fails in the fold, warns, and tries again later, not at once", function()
		local warnings = {};
		local kit = new_journal({ foldDelay = 0, log = function(level, message) warnings[#warnings + 1] = level .. " " .. message; end });
		kit.users.broken = true;
		soon(kit, "u", { n = 1 });
		assert.same({ 1 }, record_keys(kit.records));
		assert.same({ "warn Could not fold the journal into its stores: %s" }, warnings);
		assert.equal(30, kit.timers[1].delay, "a failed fold is tried again at once");
		kit.users.broken = false;
		kit.elapse();
		assert.same({ u = { n = 1 } }, kit.users.data);
		assert.same({}, record_keys(kit.records));
	end);

	it("drops folded records oldest first, and none after one it cannot drop", function()
		local kit = new_journal();
		for n = 1, 3 do soon(kit, "u", { n = n }); end
		local set = kit.records.set;
		kit.records.set = function(self, key, value)
			if key == "2" and value == nil then return nil, "disk full"; end
			return set(self, key, value);
		end
		assert.equal(10, kit.step());
		kit.run_later();
		assert.same({ 2, 3 }, record_keys(kit.records));
		-- Replayed after a restart, the records left still end with the latest value.
		local after = new_journal({ records = kit.records, users = kit.users });
		assert.same({ n = 3 }, (after.store:get("u")));
	end);

	it("folds at once when more writes wait than it may keep", function()
		local kit = new_journal({ maxUnfolded = 3 });
		for n = 1, 4 do kit.store:setSoon("u" .. n, { n = n }); end
		kit.run_later();
		assert.equal(4, #(function() local l = {}; for k in pairs(kit.users.data) do l[#l + 1] = k; end; return l; end)());
		assert.same({}, record_keys(kit.records));
	end);

	it("folds everything on unload where the journal cannot be listed, so cannot be replayed", function()
		local records = up.memory_keyval();
		records.users = nil;
		local kit = new_journal({ records = records });
		kit.store:set("u", { n = 1 });
		kit.store:setSoon("v", { n = 1 });
		kit.journal.close();
		assert.same({ u = { n = 1 }, v = { n = 1 } }, kit.users.data);
		assert.same({}, records.data, "the journal keeps records nobody will read");
	end);
end);
