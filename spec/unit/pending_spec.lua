-- Unit: pushes waiting for their distributor's answer, with one timer for all
-- timeouts. The timer and clock are stand-ins driven by the test, following
-- module:add_timer's contract: the callback runs after `delay` seconds, and
-- again after the number of seconds it returns.
local st = require "util.stanza";
local pending_lib = require "pending";
local jid_bare = require "util.jid".bare;

local SERVICE = "example.test";

local function harness(timeout, window)
	local h = { now = 100, sent = {}, timers = {}, settled = {}, answered = {}, waited = {}, late = {},
		sessions = {}, recovered = {} };
	h.pending = pending_lib.pendingPushes({
		send = function(stanza) table.insert(h.sent, stanza); end,
		addTimer = function(delay, callback)
			local timer = { due = h.now + delay, callback = callback };
			function timer.stop() timer.stopped = true; end
			table.insert(h.timers, timer);
			return timer;
		end,
		clock = function() return h.now; end,
		timeout = timeout,
		window = window or 2,
		hasSession = function(jid) return h.sessions[jid] == true; end,
	});
	h.pending.onRecovered(function(jid) h.recovered[#h.recovered + 1] = jid; end);
	-- Sends a push to `to` with id `id` (with an answer window if `windowed`);
	-- what it settles with lands in h.settled[id], a "late" in h.late[id].
	function h.push(id, to, windowed)
		local iq = st.iq({ type = "set", from = SERVICE, to = to, id = id });
		h.pending.send(iq, jid_bare(to), function(settlement, waited)
			if settlement.answer == "late" then
				assert.is_nil(h.late[id], "late twice: " .. id);
				assert.is_nil(h.settled[id], "late after settling: " .. id);
				h.late[id] = waited;
				return;
			end
			assert.is_nil(h.settled[id], "settled twice: " .. id);
			h.settled[id] = settlement.answer .. "/" .. settlement.reason;
			h.answered[id] = settlement.answered;
			h.waited[id] = waited;
		end, windowed and "window" or nil);
	end
	-- Moves the clock to `t`, running the timers that are due by then.
	function h.advance(t)
		h.now = t;
		for _, timer in ipairs(h.timers) do
			while not timer.stopped and not timer.done and timer.due <= t do
				local again = timer.callback(h.now);
				if again == nil then timer.done = true; else timer.due = h.now + again; end
			end
		end
	end
	function h.armed()
		local n = 0;
		for _, timer in ipairs(h.timers) do
			if not timer.stopped and not timer.done then n = n + 1; end
		end
		return n;
	end
	return h;
end

local function reply(id, from, kind, condition)
	local iq = st.iq({ type = kind, from = from, to = SERVICE, id = id });
	if condition then iq:tag("error", { type = "cancel" }):tag(condition, { xmlns = "urn:ietf:params:xml:ns:xmpp-stanzas" }); end
	return iq;
end

describe("pending pushes", function()
	it("sends each push and settles it with the distributor's answer", function()
		local h = harness(20);
		h.push("a", "u@example.test/d");
		h.push("b", "u@example.test/d");
		h.push("c", "u@example.test/d");
		h.push("d", "v@example.test/d");
		assert.equal(4, #h.sent);
		assert.equal(3, h.pending.countFor("u@example.test"));
		assert.equal(4, h.pending.total());
		assert.is_true(h.pending.answer(reply("a", "u@example.test/d", "result")));
		assert.is_true(h.pending.answer(reply("b", "u@example.test/d", "error", "item-not-found")));
		assert.is_true(h.pending.answer(reply("c", "u@example.test/d", "error", "service-unavailable")));
		assert.same({
			a = "delivered/result",
			b = "gone/item-not-found",
			c = "unavailable/service-unavailable",
		}, h.settled);
		assert.same({ a = true, b = true, c = true }, h.answered);
		assert.equal(0, h.pending.countFor("u@example.test"));
		assert.equal(1, h.pending.total());
	end);

	-- The distributor's error condition -> what the push settles as (the HTTP status
	-- each becomes is relay_spec's; that a real IQ gets there, push_spec's).
	local conditions = {
		{ "item-not-found", "gone" },
		{ "feature-not-implemented", "gone" },
		{ "service-unavailable", "unavailable" },
		{ "recipient-unavailable", "unavailable" },
		{ "internal-server-error", "unavailable" },
		{ "resource-constraint", "unavailable" },
	};
	for _, case in ipairs(conditions) do
		it("settles an error answer of " .. case[1] .. " as " .. case[2], function()
			local h = harness(20);
			h.push("a", "u@example.test/d");
			assert.is_true(h.pending.answer(reply("a", "u@example.test/d", "error", case[1])));
			assert.same({ a = case[2] .. "/" .. case[1] }, h.settled);
			assert.same({ a = true }, h.answered);
		end);
	end

	-- Answers no distributor should send (the fuzz spec's once, through a server):
	-- only a result delivers, only a gone condition in the stanzas namespace revokes.
	local STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
	local odd_answers = {
		{ "a result with a payload", "result", function(iq) iq:tag("x", { xmlns = "urn:example" }); end, "delivered/result" },
		{ "an error of a condition no RFC names", "error",
			function(iq) iq:tag("error", { type = "bogus" }):tag("no-such-condition", { xmlns = STANZAS }); end,
			"unavailable/no-such-condition" },
		{ "item-not-found in another namespace", "error",
			function(iq) iq:tag("error", { type = "cancel" }):tag("item-not-found", { xmlns = "urn:example" }); end,
			"unavailable/undefined-condition" },
		{ "an error with a text and no condition", "error",
			function(iq) iq:tag("error", { type = "wait" }):text_tag("text", "no condition", { xmlns = STANZAS }); end,
			"unavailable/undefined-condition" },
	};
	for _, case in ipairs(odd_answers) do
		it("settles " .. case[1] .. " as " .. case[4], function()
			local h = harness(20);
			h.push("a", "u@example.test/d");
			local answer = reply("a", "u@example.test/d", case[2]);
			case[3](answer);
			assert.is_true(h.pending.answer(answer));
			assert.same({ a = case[4] }, h.settled);
		end);
	end

	it("ignores answers from anyone but the distributor asked, and repeated answers", function()
		local h = harness(20);
		h.push("a", "u@example.test/d");
		assert.is_false(h.pending.answer(reply("a", "u@example.test/other", "result")));
		assert.is_false(h.pending.answer(reply("unknown", "u@example.test/d", "result")));
		assert.is_nil(h.settled.a);
		assert.is_true(h.pending.answer(reply("a", "u@example.test/d", "result")));
		assert.is_false(h.pending.answer(reply("a", "u@example.test/d", "result")));
	end);

	it("times out each unanswered push at its own deadline with a single timer", function()
		local h = harness(20);
		h.push("a", "u@example.test/d"); -- due at 120
		h.advance(105);
		h.push("b", "u@example.test/d"); -- due at 125
		h.push("c", "v@example.test/d"); -- due at 125, answered in time
		h.advance(110);
		h.push("d", "v@example.test/d"); -- due at 130
		assert.equal(1, #h.timers, "one timer serves every push");
		h.pending.answer(reply("c", "v@example.test/d", "result"));

		h.advance(119.9);
		assert.same({ c = "delivered/result" }, h.settled);
		h.advance(120);
		assert.equal("unavailable/timeout", h.settled.a);
		assert.is_nil(h.settled.b);
		h.advance(125);
		assert.equal("unavailable/timeout", h.settled.b);
		assert.is_nil(h.settled.d);
		assert.equal(1, h.armed());
		h.advance(130);
		assert.equal("unavailable/timeout", h.settled.d);
		assert.equal(0, h.armed(), "the timer stops once nothing waits");
		assert.equal(0, h.pending.countFor("u@example.test"));
		assert.equal(0, h.pending.countFor("v@example.test"));
		assert.same({ a = false, b = false, c = true, d = false }, h.answered, "a timeout is no answer");
		-- From sending to settling: c was answered at 110 (sent at 105), the rest timed out.
		assert.same({ a = 20, b = 20, c = 5, d = 20 }, h.waited);
		assert.equal(0, h.pending.total());
	end);

	it("arms the timer again for pushes sent after it stopped", function()
		local h = harness(5);
		h.push("a", "u@example.test/d");
		h.pending.answer(reply("a", "u@example.test/d", "result"));
		h.advance(105); -- the timer finds nothing waiting and stops
		assert.equal(0, h.armed());
		h.push("b", "u@example.test/d");
		assert.equal(1, h.armed());
		h.advance(109.9);
		assert.is_nil(h.settled.b);
		h.advance(110);
		assert.equal("unavailable/timeout", h.settled.b);
	end);

	it("does not time out pushes answered before their deadline, however many", function()
		local h = harness(20);
		for i = 1, 1000 do h.push("p" .. i, "u@example.test/d"); end
		for i = 1, 1000 do h.pending.answer(reply("p" .. i, "u@example.test/d", "result")); end
		h.advance(110);
		h.push("late", "u@example.test/d"); -- due at 130
		h.advance(120);
		for i = 1, 1000 do assert.equal("delivered/result", h.settled["p" .. i]); end
		assert.is_nil(h.settled.late, "a push sent later keeps its own deadline");
		h.advance(130);
		assert.equal("unavailable/timeout", h.settled.late);
	end);

	it("settles the pushes of a distributor that goes offline, and only those", function()
		local h = harness(20);
		h.push("a", "u@example.test/phone");
		h.push("b", "u@example.test/laptop");
		h.push("c", "u@example.test/phone");
		h.pending.dropTarget("u@example.test/phone");
		assert.same({ a = "unavailable/offline", c = "unavailable/offline" }, h.settled);
		assert.same({ a = false, c = false }, h.answered, "going offline is no answer");
		assert.equal(1, h.pending.countFor("u@example.test"));
		h.advance(120);
		assert.equal("unavailable/timeout", h.settled.b);
	end);

	it("settles everything and stops its timer on unload", function()
		local h = harness(20);
		h.push("a", "u@example.test/d");
		h.push("b", "v@example.test/d");
		h.pending.dropAll();
		assert.same({ a = "unavailable/unload", b = "unavailable/unload" }, h.settled);
		assert.equal(0, h.armed());
		assert.equal(0, h.pending.countFor("u@example.test"));
	end);

	it("settles a windowed push \"late\" once its window closes unanswered, then for good on its answer", function()
		local h = harness(20, 2);
		h.sessions["u@example.test/d"] = true;
		h.push("a", "u@example.test/d", true);
		h.push("b", "u@example.test/d", true);
		h.push("c", "u@example.test/d"); -- no window
		h.advance(101);
		assert.is_true(h.pending.answer(reply("b", "u@example.test/d", "result")));
		h.advance(102);
		assert.same({ a = 2 }, h.late);
		assert.same({ b = "delivered/result" }, h.settled);
		assert.is_true(h.pending.stalled("u@example.test/d"));
		assert.is_false(h.pending.stalled("v@example.test/d"));
		-- The held push outlives the timeout while its target has a session; the other does not.
		h.advance(125);
		assert.is_nil(h.settled.a);
		assert.equal("unavailable/timeout", h.settled.c);
		h.advance(500);
		assert.is_nil(h.settled.a);
		assert.equal(1, h.pending.countFor("u@example.test"));
		-- Its late result settles it, ends the stall and says so.
		assert.is_true(h.pending.answer(reply("a", "u@example.test/d", "result")));
		assert.equal("delivered/result", h.settled.a);
		assert.equal(400, h.waited.a);
		assert.is_false(h.pending.stalled("u@example.test/d"));
		assert.same({ "u@example.test/d" }, h.recovered);
	end);

	it("gives a held push up at its timeout once its target has no session", function()
		local h = harness(20, 2);
		h.push("a", "u@example.test/d", true);
		h.advance(102);
		assert.same({ a = 2 }, h.late);
		h.advance(120);
		assert.equal("unavailable/timeout", h.settled.a);
	end);

	it("ends a stall without a flush on an error answer, and on the target going offline", function()
		local h = harness(20, 2);
		h.sessions["u@example.test/d"] = true;
		h.push("a", "u@example.test/d", true);
		h.push("b", "u@example.test/e", true);
		h.advance(103);
		assert.is_true(h.pending.answer(reply("a", "u@example.test/d", "error", "service-unavailable")));
		assert.is_false(h.pending.stalled("u@example.test/d"));
		h.pending.dropTarget("u@example.test/e");
		assert.is_false(h.pending.stalled("u@example.test/e"));
		assert.equal("unavailable/offline", h.settled.b);
		assert.same({}, h.recovered);
	end);

	it("stops both timers on unload", function()
		local h = harness(20, 2);
		h.push("a", "u@example.test/d", true);
		assert.equal(2, h.armed());
		h.pending.dropAll();
		assert.equal(0, h.armed());
		assert.equal("unavailable/unload", h.settled.a);
		assert.same({}, h.late);
	end);
end);
