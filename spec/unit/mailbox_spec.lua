-- Unit: the mailbox of store and forward (bounds, Topic, flushing in order and
-- in windows, cancel, expiry) over in-memory stores and a scripted pending table.
local up = require "unified_push";
local mailbox_module = require "mailbox";

local NS = "http://gultsch.de/xmpp/drafts/unified-push";

-- An archive store as Prosody's drivers behave for what the mailbox asks: items in
-- order per archive, find by key or with, delete by key, all, or all but the
-- newest `truncate`; a delete answers how many it removed (0 when none). `calls`
-- counts the calls of each kind, and `read` the items found.
local function memory_archive()
	local data, ids, calls = {}, 0, { append = 0, find = 0, delete = 0, read = 0 };
	local function matches(item, query)
		return not query or ((query.key == nil or query.key == item.key) and (query.with == nil or query.with == item.with));
	end
	return {
		data = data,
		calls = calls,
		append = function(_, user, key, value, when, with)
			calls.append = calls.append + 1;
			ids = ids + 1;
			local list = data[user] or {};
			data[user] = list;
			list[#list + 1] = { key = key or ("id" .. ids), value = value, when = when, with = with };
			return list[#list].key;
		end,
		find = function(_, user, query)
			calls.find = calls.find + 1;
			local found = {};
			for _, item in ipairs(data[user] or {}) do
				if matches(item, query) then found[#found + 1] = item; end
			end
			local i = 0;
			return function()
				i = i + 1;
				local item = found[i];
				if item then
					calls.read = calls.read + 1;
					return item.key, item.value, item.when, item.with;
				end
			end;
		end,
		delete = function(_, user, query)
			calls.delete = calls.delete + 1;
			local kept, removed = {}, 0;
			local list = data[user] or {};
			if query and query.truncate then
				for i, item in ipairs(list) do
					if i > #list - query.truncate then kept[#kept + 1] = item; else removed = removed + 1; end
				end
				data[user] = kept;
				return removed;
			end
			for _, item in ipairs(list) do
				if query and not matches(item, query) then kept[#kept + 1] = item; else removed = removed + 1; end
			end
			data[user] = kept;
			return removed;
		end,
	};
end

-- Records every push IQ sent; `settle(i, answer)` answers the i-th.
local function scripted_pending()
	local pending = { sent = {} };
	function pending.send(iq, user, settle, windowed)
		assert.falsy(windowed, "a flush waits for every answer: no window");
		pending.sent[#pending.sent + 1] = { iq = iq, user = user, settle = settle };
	end
	function pending.settle(i, answer) pending.sent[i].settle({ answer = answer, reason = answer }); end
	function pending.onRecovered(listener) pending.recovered = listener; end
	return pending;
end

local function body_of(sent) return require "util.encodings".base64.decode(sent.iq:get_child("push", NS):get_text()); end

local ENTRY = { a = "A", i = "I", e = 1000, t = "token", j = "u@h/phone" };

-- How many messages were removed for each reason, reasons with none left out.
local function removals(context)
	local found = {};
	for reason, counter in pairs(context.removed) do
		if counter.n ~= 0 then found[reason] = counter.n; end
	end
	return found;
end

-- What the record counts for an endpoint (messages and bytes; where its buckets are left out).
local function counted(context, user, key)
	local entry = (context.kept.data[user] or {})[key];
	return entry and { n = entry.n, b = entry.b };
end

-- Runs what the mailbox left for a later turn of the event loop; how many ran.
local function run_later(context)
	local calls = context.later_calls;
	context.later_calls = {};
	for _, callback in ipairs(calls) do callback(); end
	return #calls;
end

-- Sweeps every user at once (slices are specified below); how many messages went.
local function sweep(box)
	local walk = box.sweep(up.slice_budget(1000), function(err) assert.is_nil(err); end);
	up.finish_walk(walk);
	return walk.total();
end

local function new_mailbox(options)
	options = options or {};
	local clock = { now = options.now or 100 };
	local context = {
		messages = options.messages or memory_archive(),
		kept = options.kept or up.memory_keyval(),
		maxMessages = options.maxMessages or 10,
		maxBytes = options.maxBytes or 10000,
		maxPerEndpoint = options.maxPerEndpoint or 1000,
		service = "h",
		pending = scripted_pending(),
		revoked = {},
		newId = (function() local n = 0; return function() n = n + 1; return "iq" .. n; end; end)(),
		now = function() return clock.now; end,
		later_calls = {},
		log = function() end,
		removed = up.any_counters(),
	};
	-- The endpoints: every one's entry is `options.entry` (ENTRY unless told), an app
	-- gone is recorded in `revoked`, and `forget(user, key)` tells the mailbox one went.
	context.endpoints = {
		entry = function() return options.entry or ENTRY; end,
		revokeEntry = function(user, key)
			context.revoked[#context.revoked + 1] = user .. " " .. key;
			return true;
		end,
		onForgotten = function(listener) context.forget = listener; end,
	};
	-- Callbacks for a later turn of the event loop wait until the spec runs them (run_later).
	context.later = function(callback) context.later_calls[#context.later_calls + 1] = callback; end;
	return mailbox_module.mailbox(context), context, clock;
end

describe("the mailbox", function()
	it("keeps messages up to the per-user bounds, counted over all of the user's endpoints", function()
		local box = new_mailbox({ maxMessages = 3, maxBytes = 100 });
		assert.truthy((box.keep("u@h", "k1", "A", "I", "one", 60)));
		assert.truthy((box.keep("u@h", "k2", "A", "I", "two", 60)));
		assert.truthy((box.keep("u@h", "k1", "A", "I", "three", 60)));
		assert.same({ nil, "full", "3 messages kept" }, { box.keep("u@h", "k2", "A", "I", "four", 60) });
		assert.truthy((box.keep("v@h", "k3", "A", "I", "another user", 60)));
		local bytes = new_mailbox({ maxMessages = 10, maxBytes = 10 });
		assert.truthy((bytes.keep("u@h", "k1", "A", "I", "12345678", 60)));
		assert.same({ nil, "full", "8 bytes kept" }, { bytes.keep("u@h", "k1", "A", "I", "123", 60) });
	end);

	it("replaces a kept message with the same topic on the same endpoint, freeing its room", function()
		local box, context = new_mailbox({ maxMessages = 2 });
		box.keep("u@h", "k1", "A", "I", "first", 60, "news");
		box.keep("u@h", "k1", "A", "I", "other", 60, "mail");
		assert.truthy((box.keep("u@h", "k1", "A", "I", "second", 60, "news")), "the replaced message still counted");
		box.flush("u@h/phone");
		local bodies = {};
		for _, sent in ipairs(context.pending.sent) do bodies[#bodies + 1] = body_of(sent); end
		assert.same({ "other", "second" }, bodies);
		assert.same({ replaced = 1 }, removals(context));
		assert.same({ 2, 11 }, { box.totals() });
	end);

	it("sends oldest first, a window at a time, and forgets only what was delivered", function()
		local box, context = new_mailbox({ maxMessages = 20 });
		for i = 1, 10 do box.keep("u@h", "k1", "A", "I", "m" .. i, 60); end
		box.flush("u@h/phone");
		local pending = context.pending;
		assert.equal(8, #pending.sent, "the first window");
		for i = 1, 8 do assert.equal("m" .. i, body_of(pending.sent[i])); end
		pending.settle(1, "delivered");
		assert.equal(9, #pending.sent);
		pending.settle(2, "unavailable"); -- stops the flush: nothing more is sent
		for i = 3, 9 do pending.settle(i, "delivered"); end
		assert.equal(9, #pending.sent);
		assert.equal("u@h/phone", pending.sent[1].iq.attr.to);
		assert.equal("u@h", pending.sent[1].user);
		-- m2 (refused) and m10 (never sent) are still kept, in order.
		local again = #pending.sent;
		box.flush("u@h/phone");
		assert.equal("m2", body_of(pending.sent[again + 1]));
		assert.equal("m10", body_of(pending.sent[again + 2]));
		assert.same({ n = 2, b = 5 }, counted(context, "u@h", "k1"));
		assert.same({ delivered = 8 }, removals(context));
		assert.same({ 2, 5 }, { box.totals() });
	end);

	it("does not flush an endpoint twice at once, nor for another full JID", function()
		local box, context = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "once", 60);
		box.flush("u@h/tablet");
		assert.equal(0, #context.pending.sent);
		box.flush("u@h/phone");
		box.flush("u@h/phone");
		assert.equal(1, #context.pending.sent);
	end);

	it("revokes the endpoint when the distributor says the app is gone", function()
		local box, context = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "gone", 60);
		box.flush("u@h/phone");
		context.pending.settle(1, "gone");
		assert.same({ "u@h k1" }, context.revoked);
		assert.same({}, removals(context), "removed before the endpoint went");
	end);

	it("neither sends nor keeps an expired message", function()
		local box, context, clock = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "short", 10);
		box.keep("u@h", "k1", "A", "I", "long", 600);
		clock.now = clock.now + 11;
		box.flush("u@h/phone");
		assert.equal(1, #context.pending.sent);
		assert.equal("long", body_of(context.pending.sent[1]));
		context.pending.settle(1, "delivered");
		assert.is_nil(context.kept.data["u@h"]);
		assert.same({}, context.messages.data.k1);
		assert.same({ expired = 1, delivered = 1 }, removals(context));
		assert.same({ 0, 0 }, { box.totals() });
	end);

	it("cancels a kept message once, and not an expired one", function()
		local box, context, clock = new_mailbox();
		local id = box.keep("u@h", "k1", "A", "I", "cancel me", 60);
		assert.same({ true }, { (box.cancel("k1", id)) });
		assert.same({ false }, { (box.cancel("k1", id)) });
		assert.is_nil(context.kept.data["u@h"]);
		local stale = box.keep("u@h", "k1", "A", "I", "stale", 10);
		clock.now = clock.now + 11;
		assert.same({ false }, { (box.cancel("k1", stale)) });
		assert.same({ cancelled = 1, expired = 1 }, removals(context));
		assert.same({ 0, 0 }, { box.totals() });
	end);

	it("sweeps expired messages of every user", function()
		local box, context, clock = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "short", 10);
		box.keep("v@h", "k2", "A", "I", "long", 600);
		clock.now = clock.now + 11;
		assert.equal(1, sweep(box));
		assert.is_nil(context.kept.data["u@h"]);
		assert.same({ n = 1, b = 4 }, counted(context, "v@h", "k2"));
		assert.same({ expired = 1 }, removals(context));
		assert.same({ 1, 4 }, { box.totals() });
	end);

	it("drops what an endpoint keeps when it is gone, and when flushing finds it gone", function()
		local box, context = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "x", 60);
		box.keep("u@h", "k1", "A", "I", "yz", 60);
		context.forget("u@h", "k1"); -- the endpoint is forgotten
		assert.is_nil(context.kept.data["u@h"]);
		assert.same({}, context.messages.data.k1);
		assert.same({ endpoint_gone = 2 }, removals(context));
		assert.same({ 0, 0 }, { box.totals() });
		local orphan, orphan_context = new_mailbox({ entry = false });
		orphan_context.endpoints.entry = function() return nil; end;
		orphan.keep("u@h", "k1", "A", "I", "y", 60);
		orphan.flush("u@h/phone");
		assert.equal(0, #orphan_context.pending.sent);
		assert.is_nil(orphan_context.kept.data["u@h"]);
		assert.same({ endpoint_gone = 1 }, removals(orphan_context));
	end);

	it("does not keep a message it could not count", function()
		local box, context = new_mailbox();
		context.kept.broken = true;
		assert.same({ nil, "failed", "could not update the count of kept messages" },
			{ box.keep("u@h", "k1", "A", "I", "x", 60) });
		assert.same({}, context.messages.data.k1);
		assert.same({ 0, 0 }, { box.totals() });
	end);

	it("starts its totals from what every user keeps, where the store lists users", function()
		local kept = up.memory_keyval();
		kept.data["u@h"] = { k1 = { n = 2, b = 10 }, k2 = { n = 1, b = 5 } };
		kept.data["v@h"] = { k3 = { n = 4, b = 100 } };
		local box = new_mailbox({ kept = kept });
		assert.same({ 0, 0 }, { box.totals() }, "counted before serving");
		assert.equal(3, up.finish_walk(box.count(up.slice_budget(1))));
		assert.same({ 7, 115 }, { box.totals() });
		box.keep("v@h", "k3", "A", "I", "12345", 60);
		assert.same({ 8, 120 }, { box.totals() });
		kept.users = nil;
		local unlisted = new_mailbox({ kept = kept });
		assert.is_nil(unlisted.count(up.slice_budget(1)));
		assert.same({ 0, 0 }, { unlisted.totals() }, "counted without listing users");
	end);

	it("counts at load in slices: a user changed or pushed to before the count reaches it is counted once, in order", function()
		local kept = up.memory_keyval();
		kept.data["u@h"] = { k1 = { n = 2, b = 10 } };
		kept.data["v@h"] = { k2 = { n = 1, b = 5 } };
		kept.data["w@h"] = { k3 = { n = 4, b = 100 } };
		local box = new_mailbox({ kept = kept });
		local count = box.count(up.slice_budget(1));
		assert.is_false(count.step());
		assert.same({ 2, 10 }, { box.totals() }, "one user per slice");
		-- Between two slices: w@h, not counted yet, has kept messages, so a newer push queues behind them.
		assert.is_true(box.hasKept("w@h", "k3"));
		assert.is_false(box.hasKept("w@h", "k9"));
		-- v@h gets a message before the count reaches it.
		assert.truthy((box.keep("v@h", "k2", "A", "I", "123", 60)));
		assert.same({ 2 + 4 + 2, 10 + 100 + 8 }, { box.totals() });
		up.finish_walk(count);
		assert.same({ 8, 118 }, { box.totals() }, "nobody counted twice");
		box.keep("u@h", "k1", "A", "I", "z", 60);
		assert.same({ 9, 119 }, { box.totals() });
	end);

	it("sweeps in slices: every expired message goes across several ticks, pushes kept between them", function()
		local box, context, clock = new_mailbox();
		for n = 1, 5 do
			box.keep("u" .. n .. "@h", "k" .. n, "A", "I", "short", 10);
			box.keep("u" .. n .. "@h", "k" .. n, "A", "I", "long", 600);
		end
		clock.now = clock.now + 11;
		local walk = box.sweep(up.slice_budget(2), function(err) assert.is_nil(err); end);
		assert.is_false(walk.step());
		assert.equal(2, walk.total(), "one slice visits two users");
		-- Between two slices: a push kept for a user not yet swept, and for a new one.
		assert.truthy((box.keep("u5@h", "k5", "A", "I", "newer", 600)));
		assert.truthy((box.keep("x@h", "k9", "A", "I", "new user", 600)));
		assert.equal(2, up.finish_walk(walk));
		assert.equal(5, walk.total());
		for n = 1, 5 do
			assert.same({ n = n == 5 and 2 or 1, b = n == 5 and 9 or 4 }, counted(context, "u" .. n .. "@h", "k" .. n));
		end
		assert.same({ 6 + 1, 5 * 4 + 5 + 8 }, { box.totals() });
		assert.same({ expired = 5 }, removals(context));
	end);

	it("loses nothing to a restart in the middle of a sweep: the next one finishes the work", function()
		local box, context, clock = new_mailbox();
		for n = 1, 4 do
			box.keep("u" .. n .. "@h", "k" .. n, "A", "I", "short", 10);
			box.keep("u" .. n .. "@h", "k" .. n, "A", "I", "long", 600);
		end
		clock.now = clock.now + 11;
		local walk = box.sweep(up.slice_budget(1), function() end);
		assert.is_false(walk.step());
		-- Restarted over the same stores: the walk is gone.
		local box2, context2 = new_mailbox({ kept = context.kept, messages = context.messages, now = clock.now });
		up.finish_walk(box2.count(up.slice_budget(1)));
		assert.same({ 4 + 3, 4 * 4 + 3 * 5 }, { box2.totals() }, "what is stored, counted after the restart");
		local next_walk = box2.sweep(up.slice_budget(1), function(err) assert.is_nil(err); end);
		up.finish_walk(next_walk);
		assert.equal(3, next_walk.total(), "the users the first walk did not reach");
		for n = 1, 4 do
			assert.same({ n = 1, b = 4 }, counted(context, "u" .. n .. "@h", "k" .. n));
			assert.equal(1, #context.messages.data["k" .. n]);
		end
		assert.same({ 4, 16 }, { box2.totals() });
		assert.same({ expired = 3 }, removals(context2));
	end);

	it("tells what each endpoint of a user keeps", function()
		local box, context = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "abc", 60);
		box.keep("u@h", "k1", "A", "I", "de", 60);
		assert.same({ n = 2, b = 5 }, counted(context, "u@h", "k1"));
		assert.equal(2, (box.keptBy("u@h")).k1.n);
		assert.is_nil((box.keptBy("v@h")));
	end);

	it("keeps at most the per-endpoint bound for one endpoint, leaving room for the user's other apps", function()
		local box = new_mailbox({ maxMessages = 10, maxPerEndpoint = 2 });
		assert.truthy((box.keep("u@h", "k1", "A", "I", "one", 60)));
		assert.truthy((box.keep("u@h", "k1", "A", "I", "two", 60)));
		assert.same({ nil, "full", "2 messages kept for the endpoint" }, { box.keep("u@h", "k1", "A", "I", "three", 60) });
		assert.truthy((box.keep("u@h", "k2", "A", "I", "other app", 60)));
	end);

	it("does not flush a held copy, and settles it: delivered goes, refused stays for the next flush", function()
		local box, context = new_mailbox();
		local delivered = box.keep("u@h", "k1", "A", "I", "held 1", 60, nil, true);
		local refused = box.keep("u@h", "k1", "A", "I", "held 2", 60, nil, true);
		assert.is_true(box.hasKept("u@h", "k1"));
		box.flush("u@h/phone");
		assert.equal(0, #context.pending.sent, "a held copy was sent");
		box.settleHeld("u@h", "k1", delivered, 6, true);
		box.settleHeld("u@h", "k1", refused, 6, false);
		assert.same({ n = 1, b = 6 }, counted(context, "u@h", "k1"));
		box.flush("u@h/phone");
		assert.equal(1, #context.pending.sent);
		assert.equal("held 2", body_of(context.pending.sent[1]));
		context.pending.settle(1, "delivered");
		assert.is_nil(context.kept.data["u@h"]);
		assert.is_false(box.hasKept("u@h", "k1"));
		assert.same({ delivered = 2 }, removals(context));
		assert.same({ 0, 0 }, { box.totals() });
	end);

	it("loses nothing to a DELETE during a flush: the refused message comes on the next one, counts end at 0", function()
		local box, context = new_mailbox();
		local first = box.keep("u@h", "k1", "A", "I", "m1", 60);
		box.keep("u@h", "k1", "A", "I", "m2", 60);
		box.keep("u@h", "k1", "A", "I", "m3", 60);
		box.flush("u@h/phone");
		assert.equal(3, #context.pending.sent);
		assert.same({ true }, { (box.cancel("k1", first)) });
		context.pending.settle(1, "delivered");
		context.pending.settle(2, "delivered");
		context.pending.settle(3, "unavailable");
		assert.same({ n = 1, b = 2 }, counted(context, "u@h", "k1"));
		box.flush("u@h/phone");
		assert.equal("m3", body_of(context.pending.sent[4]));
		context.pending.settle(4, "delivered");
		assert.is_nil(context.kept.data["u@h"]);
		assert.same({}, context.messages.data.k1);
		assert.same({ cancelled = 1, delivered = 2 }, removals(context));
		assert.same({ 0, 0 }, { box.totals() });
	end);

	it("loses nothing to the sweep during a flush", function()
		local box, context, clock = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "short", 10);
		box.keep("u@h", "k1", "A", "I", "long", 600);
		box.flush("u@h/phone");
		clock.now = clock.now + 11;
		assert.equal(0, sweep(box), "the sweep took a message a flush has in hand");
		context.pending.settle(1, "delivered");
		context.pending.settle(2, "unavailable");
		assert.same({ n = 1, b = 4 }, counted(context, "u@h", "k1"));
		assert.equal(0, sweep(box));
		box.flush("u@h/phone");
		assert.equal("long", body_of(context.pending.sent[3]));
		assert.same({ delivered = 1 }, removals(context));
		assert.same({ 1, 4 }, { box.totals() });
	end);

	it("heals a wrong count from the store on the next flush, and on the sweep", function()
		local box, context = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "abc", 60);
		context.kept.data["u@h"].k1 = { n = 7, b = 999 };
		box.flush("u@h/phone");
		assert.same({ n = 1, b = 3 }, counted(context, "u@h", "k1"), "not corrected when read");
		context.pending.settle(1, "delivered");
		assert.is_nil(context.kept.data["u@h"]);
		-- An endpoint counted with nothing stored: the sweep forgets it.
		context.kept.data["v@h"] = { k9 = { n = 3, b = 30 } };
		sweep(box);
		assert.is_nil(context.kept.data["v@h"]);
		-- One whose messages and count went behind its back: newer pushes stop queueing behind it.
		box.keep("u@h", "k2", "A", "I", "gone", 60);
		assert.is_true(box.hasKept("u@h", "k2"));
		context.messages.data.k2 = {};
		box.flush("u@h/phone");
		assert.is_false(box.hasKept("u@h", "k2"));
		assert.is_nil(context.kept.data["u@h"]);
	end);

	it("flushes to the full JID a renewal moved the endpoint to, while a flush to the old one hangs", function()
		local entry = { a = "A", i = "I", e = 1000, t = "token", j = "u@h/phone" };
		local box, context = new_mailbox({ entry = entry });
		box.keep("u@h", "k1", "A", "I", "for the tablet", 60);
		box.flush("u@h/phone");
		assert.equal(1, #context.pending.sent);
		entry.j = "u@h/tablet";
		box.flush("u@h/tablet");
		assert.equal(2, #context.pending.sent);
		assert.equal("u@h/tablet", context.pending.sent[2].iq.attr.to);
		context.pending.settle(2, "delivered");
		context.pending.settle(1, "unavailable");
		assert.is_nil(context.kept.data["u@h"]);
		assert.same({ delivered = 1 }, removals(context));
	end);

	it("sends a message kept during a flush after the ones before it, in the same flush", function()
		local box, context = new_mailbox();
		box.keep("u@h", "k1", "A", "I", "old", 60);
		box.flush("u@h/phone");
		box.keep("u@h", "k1", "A", "I", "new", 60);
		context.pending.settle(1, "delivered");
		assert.equal(2, #context.pending.sent);
		assert.equal("new", body_of(context.pending.sent[2]));
		context.pending.settle(2, "delivered");
		assert.is_nil(context.kept.data["u@h"]);
		assert.same({}, context.messages.data.k1);
	end);

	-- Store work grows with the messages, never with their square: a flush reads each
	-- bucket (100 messages) once, drops a delivered bucket whole, and truncates the last.
	it("flushes 10, 100 or 1,000 messages with store work linear in them", function()
		local work = {};
		for _, n in ipairs({ 10, 100, 1000 }) do
			local box, context = new_mailbox({ maxMessages = n, maxBytes = 10 * n });
			for i = 1, n do box.keep("u@h", "k1", "A", "I", "m" .. i, 60); end
			local calls = context.messages.calls;
			local find, delete, read = calls.find, calls.delete, calls.read;
			box.flush("u@h/phone");
			for i = 1, n do context.pending.settle(i, "delivered"); end
			assert.equal(n, #context.pending.sent);
			assert.equal("m" .. n, body_of(context.pending.sent[n]));
			for name, list in pairs(context.messages.data) do assert.same({}, list, name); end
			assert.is_nil(context.kept.data["u@h"]);
			work[#work + 1] = { find = calls.find - find, delete = calls.delete - delete, read = calls.read - read };
		end
		assert.same({
			{ find = 2, delete = 1, read = 10 },
			{ find = 2, delete = 1, read = 100 },
			{ find = 11, delete = 10, read = 1000 },
		}, work);
	end);

	it("keeps at most 100 messages a bucket, and cancels one in any bucket by the id it gave", function()
		local box, context = new_mailbox({ maxMessages = 250, maxBytes = 10000 });
		local ids = {};
		for i = 1, 250 do ids[i] = assert((box.keep("u@h", "k1", "A", "I", "m" .. i, 60))); end
		assert.equal(100, #context.messages.data.k1);
		assert.equal(100, #context.messages.data["k1#1"]);
		assert.equal(50, #context.messages.data["k1#2"]);
		local find = context.messages.calls.find;
		assert.same({ true }, { (box.cancel("k1", ids[230])) });
		assert.same({ false }, { (box.cancel("k1", ids[230])) });
		assert.equal(2, context.messages.calls.find - find, "each cancel reads one bucket");
		local bytes = 0;
		for i = 1, 250 do bytes = bytes + #("m" .. i); end
		assert.same({ n = 249, b = bytes - #"m230" }, counted(context, "u@h", "k1"));
	end);

	it("replaces a topic's message in the bucket the record names, reading no other", function()
		local box, context = new_mailbox({ maxMessages = 300, maxBytes = 10000 });
		for i = 1, 150 do box.keep("u@h", "k1", "A", "I", "m" .. i, 60); end
		box.keep("u@h", "k1", "A", "I", "old news", 60, "news");
		for i = 151, 250 do box.keep("u@h", "k1", "A", "I", "m" .. i, 60); end
		local find, read = context.messages.calls.find, context.messages.calls.read;
		assert.truthy((box.keep("u@h", "k1", "A", "I", "new news", 60, "news")));
		assert.equal(1, context.messages.calls.find - find);
		assert.equal(1, context.messages.calls.read - read);
		assert.equal(251, counted(context, "u@h", "k1").n);
		box.flush("u@h/phone");
		for i = 1, 251 do context.pending.settle(i, "delivered"); end
		local bodies = {};
		for _, sent in ipairs(context.pending.sent) do bodies[#bodies + 1] = body_of(sent); end
		assert.equal(251, #bodies);
		assert.equal("m150", bodies[150]);
		assert.equal("m151", bodies[151]);
		assert.equal("new news", bodies[251]);
		assert.is_nil(context.kept.data["u@h"]);
	end);

	it("delivers what a record from before buckets kept before what came after, in order", function()
		local box, context = new_mailbox();
		-- Bucket 0 as an older version kept it: the archive named by the key alone, a record without buckets.
		for i = 1, 3 do box.keep("u@h", "k1", "A", "I", "old" .. i, 60); end
		context.kept.data["u@h"].k1 = { n = 3, b = 12 };
		box.keep("u@h", "k1", "A", "I", "new", 60);
		assert.equal(3, #context.messages.data.k1, "an older bucket 0 is taken as full");
		assert.equal(1, #context.messages.data["k1#1"]);
		box.flush("u@h/phone");
		for i = 1, 4 do context.pending.settle(i, "delivered"); end
		local bodies = {};
		for _, sent in ipairs(context.pending.sent) do bodies[#bodies + 1] = body_of(sent); end
		assert.same({ "old1", "old2", "old3", "new" }, bodies);
		assert.is_nil(context.kept.data["u@h"]);
		assert.same({ 0, 0 }, { box.totals() });
	end);

	it("sends what arrives in the last bucket during a flush, after the rest, once", function()
		local box, context = new_mailbox({ maxMessages = 300, maxBytes = 10000 });
		for i = 1, 150 do box.keep("u@h", "k1", "A", "I", "m" .. i, 60); end
		box.flush("u@h/phone");
		for i = 151, 260 do box.keep("u@h", "k1", "A", "I", "m" .. i, 60); end
		for i = 1, 260 do
			if context.pending.sent[i] then context.pending.settle(i, "delivered"); end
		end
		local bodies = {};
		for i, sent in ipairs(context.pending.sent) do
			bodies[i] = body_of(sent);
			assert.equal("m" .. i, bodies[i]);
		end
		assert.equal(260, #bodies);
		assert.is_nil(context.kept.data["u@h"]);
	end);

	it("starts one endpoint's flush a turn when a user's distributor returns to several", function()
		local box, context = new_mailbox({ maxMessages = 300, maxBytes = 10000 });
		for _, key in ipairs({ "k1", "k2", "k3" }) do
			for i = 1, 100 do box.keep("u@h", key, "A", "I", key .. "-" .. i, 60); end
		end
		local read = context.messages.calls.read;
		box.flush("u@h/phone");
		assert.equal(100, context.messages.calls.read - read, "more than one bucket read in one turn");
		assert.equal(8, #context.pending.sent);
		assert.is_true(box.hasKept("u@h", "k2") and box.hasKept("u@h", "k3"));
		box.flush("u@h/phone"); -- a second bind meanwhile starts nothing twice
		assert.equal(8, #context.pending.sent);
		assert.equal(2, run_later(context));
		assert.equal(24, #context.pending.sent);
		for i = 1, 300 do context.pending.settle(i, "delivered"); end
		assert.equal(300, #context.pending.sent);
		assert.equal(0, run_later(context));
		assert.is_nil(context.kept.data["u@h"]);
	end);

	it("sweeps expired messages across buckets and starts from the first bucket with any", function()
		local box, context, clock = new_mailbox({ maxMessages = 300, maxBytes = 10000 });
		for i = 1, 150 do box.keep("u@h", "k1", "A", "I", "m" .. i, 10); end
		for i = 151, 220 do box.keep("u@h", "k1", "A", "I", "m" .. i, 600); end
		clock.now = clock.now + 60;
		assert.equal(150, sweep(box));
		assert.same({ n = 70, b = 70 * 4 }, counted(context, "u@h", "k1"));
		assert.equal(1, context.kept.data["u@h"].k1.f);
		local find = context.messages.calls.find;
		box.flush("u@h/phone");
		assert.equal(1, context.messages.calls.find - find, "the emptied bucket 0 is not read again");
		assert.equal("m151", body_of(context.pending.sent[1]));
	end);
end);
