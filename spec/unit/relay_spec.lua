-- Unit: the push resource (src/relay.ts) through its RelayContext, with scripted
-- doubles for the endpoints, the pending pushes, the mailbox, the rate limiter and
-- the clocks; Prosody's real util.error and util.stanza. Every row of
-- docs/design.md "HTTP semantics" that relayPush and http.ts's cancelMessage answer; the
-- routes themselves (GET discovery, 405) are the server's (push_spec.lua).
local up = require "unified_push";
local relay = require "relay";
-- http.ts's routes answer through net.http.server (httpanswer.ts), whose net.server
-- refuses to load outside a running Prosody 0.12; cancelMessage uses none of it.
package.loaded["net.http.server"] = package.loaded["net.http.server"] or {};
local http = require "http";
local base64 = require "util.encodings".base64;
local sha256 = require "util.hashes".sha256;
local jid_bare = require "util.jid".bare;

local NS = "http://gultsch.de/xmpp/drafts/unified-push";
local SERVICE = "push.example.test";
local SUB = "alice@example.test/phone";
local APPLICATION = base64.encode(("a"):rep(32));
local INSTANCE = base64.encode(("i"):rep(32));
-- Distinctive enough that any log line holding them is found.
local TOKEN = "TOKENxSECRETxq1w2e3r4t5y6u7i8o9p0";
local BODY = "BODYxSECRETx{\"message\":\"hello\"}";
local NOW, CLOCK, MESSAGE_TTL, MAX_IN_FLIGHT = 1700000000, 4321.5, 86400, 4;

local OUTCOMES = { "delivered", "stored", "gone", "unavailable", "limited", "bad_request", "unknown_endpoint", "failed" };

-- The 32 hex digits the stores key an endpoint by (docs/design.md "Backends and tokens").
local function key_of(token) return sha256(token, true):sub(1, 32); end

local function registration(overrides)
	-- The endpoint outlives any message (a message is never kept past its endpoint's expiry).
	local r = { sub = SUB, application = APPLICATION, instance = INSTANCE, exp = NOW + 2 * MESSAGE_TTL, indexed = true };
	for k, v in pairs(overrides or {}) do r[k] = v; end
	if r.indexed == false then r.indexed = nil; end
	-- The endpoints module works out the bare JID once, when it resolves the token.
	r.user = r.user or jid_bare(r.sub);
	r.key = r.key or key_of(TOKEN);
	return r;
end

-- A context whose doubles follow `script`:
--   resolve = registration table, or { nil, failure, detail };  revoke = { ok, reason }
--   offline = set of full JIDs away (no session, or hibernating);  stalled = set of full JIDs
--   silent past an answer window;  has_kept = the mailbox keeps messages for the endpoint
--   in_flight = number the pending table reports for the user
--   wait = the limiter's answer;  keep = { id } or { nil, refusal, detail };  cancel = { found, err }
local function harness(script)
	script = script or {};
	local h = { logs = {}, sent = {}, kept = {}, cancels = {}, revoked = {}, takes = {}, resolved = {}, counted = {}, ids = 0,
		held = {}, flushed = {} };
	h.pushes = up.counters(OUTCOMES);
	h.answer_times = {};
	h.context = {
		service = SERVICE,
		endpoints = {
			resolve = function(token, now)
				h.resolved[#h.resolved + 1] = { token, now };
				local r = script.resolve or registration();
				if r[1] == nil and r[2] then return nil, r[2], r[3]; end
				return r;
			end,
			revoke = function(token, reg, now)
				h.revoked[#h.revoked + 1] = { token = token, registration = reg, now = now };
				local answer = script.revoke or { true };
				return answer[1], answer[2];
			end,
		},
		pending = {
			send = function(iq, user, settle, windowed)
				h.sent[#h.sent + 1] = { iq = iq, user = user, settle = settle, windowed = windowed };
			end,
			stalled = function(jid) return (script.stalled or {})[jid] == true; end,
			countFor = function(user)
				h.counted[#h.counted + 1] = user;
				return script.in_flight or 0;
			end,
		},
		mailbox = {
			keep = function(...)
				h.kept[#h.kept + 1] = { ... };
				local answer = script.keep or { "id1" };
				return answer[1], answer[2], answer[3];
			end,
			cancel = function(key, id)
				h.cancels[#h.cancels + 1] = { key, id };
				local answer = script.cancel or { true };
				return answer[1], answer[2];
			end,
			hasKept = function() return script.has_kept == true; end,
			settleHeld = function(...) h.held[#h.held + 1] = { ... }; end,
			flush = function(jid) h.flushed[#h.flushed + 1] = jid; end,
		},
		messageTtl = script.message_ttl or MESSAGE_TTL,
		limiter = {
			take = function(key, now)
				h.takes[#h.takes + 1] = { key, now };
				return script.wait or 0;
			end,
		},
		maxInFlight = MAX_IN_FLIGHT,
		isAway = function(jid) return (script.offline or {})[jid] == true; end,
		locationFor = function(id) return "https://push.example.test/push/message/" .. id; end,
		keptLocationFor = function(key, id) return "https://push.example.test/push/message/kept/" .. key .. id; end,
		newId = function() h.ids = h.ids + 1; return "push" .. h.ids; end,
		now = function() return NOW; end,
		clock = function() return CLOCK; end,
		log = up.recording_log(h.logs),
		pushes = h.pushes,
		answerTime = { sample = function(_, seconds) h.answer_times[#h.answer_times + 1] = seconds; end },
	};
	return h;
end

local function counted(h) return up.counted(h.pushes, OUTCOMES); end

local function lines_at(h, level) return up.lines_at(h.logs, level); end

-- The HTTP status an outcome becomes (a number, a util.error's code, or a string body with the status set).
local function status_of(outcome, response)
	if type(outcome) == "number" then return outcome; end
	if type(outcome) == "table" then return outcome.code; end
	return response.status_code;
end

local function new_response() return { status_code = 200, headers = {} }; end

-- A POST whose answer waits for the distributor: what relayPush handed its reply, once it has.
local waiting_mt = {};
local function is_waiting(x) return getmetatable(x) == waiting_mt; end

-- POSTs through relayPush; returns the outcome (a waiting handle when the answer
-- waits for the distributor) and the response.
local function post(h, options)
	options = options or {};
	local response = new_response();
	local body = BODY;
	if options.body ~= nil then body = options.body or nil; end
	local waiting = setmetatable({ replies = 0 }, waiting_mt);
	local outcome = relay.relayPush(h.context, options.token or TOKEN, { body = body, headers = options.headers or {} }, response,
		function(answered, value)
			assert.equal(response, answered, "the reply did not get the response it answers");
			waiting.value, waiting.replies = value, waiting.replies + 1;
		end);
	if outcome == relay.LATER then return waiting, response; end
	assert.equal(0, waiting.replies, "an answer given at once was also sent to the reply");
	return outcome, response;
end

-- The answer a waiting POST was given, exactly once.
local function value_of(waiting)
	assert.is_true(is_waiting(waiting), "relayPush did not wait for the distributor");
	assert.equal(1, waiting.replies, "the answer was not given exactly once");
	return waiting.value;
end

-- POSTs, then settles the one push IQ sent with `settlement` after `waited` seconds.
local function post_and_settle(h, settlement, waited, options)
	local p, response = post(h, options);
	assert.equal(1, #h.sent, "no push IQ sent");
	h.sent[1].settle(settlement, waited or 0.25);
	return value_of(p), response;
end

local harnesses = {};
local function tracked(script)
	local h = harness(script);
	harnesses[#harnesses + 1] = h;
	return h;
end

-- Whatever a test did, the log never held the token or the body.
after_each(function()
	for _, h in ipairs(harnesses) do
		for _, entry in ipairs(h.logs) do
			assert.is_nil(entry.line:find(TOKEN, 1, true), "the token was logged: " .. entry.line);
			assert.is_nil(entry.line:find(BODY, 1, true), "the body was logged: " .. entry.line);
			assert.is_nil(entry.line:find(base64.encode(BODY), 1, true), "the encoded body was logged: " .. entry.line);
		end
	end
	harnesses = {};
end);

describe("a push refused before anything is sent", function()
	local TTL = "TTL must be a whole number of seconds";
	local URGENCY = "Urgency must be very-low, low, normal or high";
	local TOPIC = "Topic must be 1 to 32 characters of the base64url alphabet";
	-- name, script, request options, status, Retry-After, counted as, the endpoints consulted
	local cases = {
		{ "a token longer than 1024 characters", {}, { token = ("x"):rep(1025) }, 404, nil, "unknown_endpoint", false },
		{ "an invalid (unknown or tampered) token", { resolve = { nil, "invalid" } }, {}, 404, nil, "unknown_endpoint", true },
		{ "an expired token", { resolve = { nil, "expired" } }, {}, 404, nil, "unknown_endpoint", true },
		{ "a revoked token", { resolve = { nil, "revoked" } }, {}, 404, nil, "unknown_endpoint", true },
		{ "a token whose backend cannot be read", { resolve = { nil, "failed", "disk on fire" } }, {}, 500, nil, "failed", true },
		{ "a body of 4097 bytes", {}, { body = ("b"):rep(4097) }, 413, nil, "bad_request", true },
		{ "a malformed TTL", {}, { headers = { ttl = "soon" } }, 400, nil, "bad_request", true, TTL },
		{ "a malformed Urgency", {}, { headers = { urgency = "asap" } }, 400, nil, "bad_request", true, URGENCY },
		{ "a malformed Topic", {}, { headers = { topic = "not a topic!" } }, 400, nil, "bad_request", true, TOPIC },
		{ "a push over the endpoint's rate", { wait = 7 }, {}, 429, "7", "limited", true },
		{ "a user with the most pushes in flight", { in_flight = MAX_IN_FLIGHT }, {}, 429, "1", "limited", true },
		{ "a user with more than the most pushes in flight", { in_flight = MAX_IN_FLIGHT + 3 }, {}, 429, "1", "limited", true },
	};
	for _, case in ipairs(cases) do
		local name, script, options, status, retry_after, label, consulted, reason = table.unpack(case, 1, 8);
		it(("answers %d to %s"):format(status, name), function()
			local h = tracked(script);
			local outcome, response = post(h, options);
			assert.is_false(is_waiting(outcome), "waited for a distributor");
			assert.equal(status, status_of(outcome, response));
			assert.equal(retry_after, response.headers.retry_after);
			assert.same({ [label] = 1 }, counted(h));
			assert.equal(0, #h.sent, "a push IQ was sent");
			assert.equal(0, #h.kept, "the message was kept");
			assert.same({}, h.answer_times);
			assert.equal(consulted and 1 or 0, #h.resolved);
			if reason then
				assert.equal(reason, outcome);
				assert.equal("text/plain; charset=utf-8", response.headers.content_type);
			else
				assert.is_nil(response.headers.content_type);
			end
		end);
	end

	it("asks the endpoints with the token and the time, and the limiter with the endpoint's key and the clock", function()
		local h = tracked({ wait = 2 });
		post(h);
		assert.same({ { TOKEN, NOW } }, h.resolved);
		assert.same({ { key_of(TOKEN), CLOCK } }, h.takes);
	end);

	it("counts the in-flight pushes of the distributor's bare JID", function()
		local h = tracked({ in_flight = MAX_IN_FLIGHT });
		post(h);
		assert.same({ "alice@example.test" }, h.counted);
	end);

	it("logs a warning with the store's message when the backend cannot be read", function()
		local h = tracked({ resolve = { nil, "failed", "disk on fire" } });
		post(h);
		local warnings = lines_at(h, "warn");
		assert.equal(1, #warnings);
		assert.truthy(warnings[1]:find("disk on fire", 1, true));
	end);

	it("takes a token of exactly 1024 characters to the endpoints", function()
		local h = tracked({ resolve = { nil, "invalid" } });
		local outcome = post(h, { token = ("x"):rep(1024) });
		assert.equal(404, outcome.code);
		assert.equal(1, #h.resolved);
	end);

	it("relays a body of exactly 4096 bytes", function()
		local h = tracked();
		post(h, { body = ("b"):rep(4096) });
		assert.equal(1, #h.sent);
	end);

	-- Several problems at once: the first row of the table wins.
	local order = {
		{ "unknown with an empty body", { resolve = { nil, "invalid" } }, { body = "" }, 404 },
		{ "storage down with a bad TTL", { resolve = { nil, "failed", "down" } }, { headers = { ttl = "x" } }, 500 },
		{ "an empty one with a bad Topic, over the rate", { wait = 3 }, { body = "", headers = { topic = "!" } }, 400 },
		{ "too large with a bad Urgency", {}, { body = ("b"):rep(5000), headers = { urgency = "now" } }, 413 },
		{ "a bad TTL over the rate", { wait = 3 }, { headers = { ttl = "-1" } }, 400 },
		{ "over the rate with the distributor offline", { wait = 3, offline = { [SUB] = true } }, {}, 429 },
		{ "over the rate at the in-flight limit", { wait = 3, in_flight = MAX_IN_FLIGHT }, {}, 429 },
		{ "offline at the in-flight limit (kept, not refused)", { offline = { [SUB] = true }, in_flight = MAX_IN_FLIGHT }, {}, 201 },
	};
	for _, case in ipairs(order) do
		it("answers the first problem of a push that has several: " .. case[1], function()
			local h = tracked(case[2]);
			local outcome, response = post(h, case[3]);
			assert.equal(case[4], status_of(outcome, response));
			assert.equal(0, #h.sent);
		end);
	end

	it("takes from the rate limiter only once the request is well-formed", function()
		for _, options in ipairs({ { body = ("b"):rep(4097) }, { headers = { ttl = "x" } } }) do
			local h = tracked();
			post(h, options);
			assert.same({}, h.takes);
		end
	end);
end);

describe("a push for a distributor that is offline", function()
	local offline = { [SUB] = true };
	-- name, TTL header, the TTL it is kept for
	local kept = {
		{ "without a TTL is kept for the longest time", nil, MESSAGE_TTL },
		{ "with a TTL of 1 is kept for 1 second", "1", 1 },
		{ "with a shorter TTL is kept for that TTL", "3600", 3600 },
		{ "with a TTL above the longest is kept for the longest", "999999", MESSAGE_TTL },
	};
	for _, case in ipairs(kept) do
		it(case[1] .. ": 201 with TTL and the kept message's Location", function()
			local h = tracked({ offline = offline, keep = { "msg42" } });
			local outcome, response = post(h, { headers = { ttl = case[2], topic = "inbox" } });
			assert.equal(201, outcome);
			assert.equal(tostring(case[3]), response.headers.ttl);
			assert.equal("https://push.example.test/push/message/kept/" .. key_of(TOKEN) .. "msg42", response.headers.location);
			assert.same({ { "alice@example.test", key_of(TOKEN), APPLICATION, INSTANCE, BODY, case[3], "inbox", false } }, h.kept);
			assert.equal(0, #h.sent);
			assert.same({ stored = 1 }, counted(h));
		end);
	end

	it("keeps it without a Topic when none is given", function()
		local h = tracked({ offline = offline });
		post(h);
		assert.equal(1, #h.kept);
		assert.is_nil(h.kept[1][7]);
	end);

	-- name, script, request options (RFC 8030 §5.2: a message with no time left expires at once)
	local expired = {
		{ "with TTL 0", { offline = offline }, { headers = { ttl = "0" } } },
		{ "when nothing may be kept (unified_push_message_ttl 0)", { offline = offline, message_ttl = 0 }, {} },
		{ "for an endpoint that expires now", { offline = offline, resolve = registration({ exp = NOW }) }, {} },
	};
	for _, case in ipairs(expired) do
		it("is answered 201 with TTL: 0 and kept nowhere " .. case[1], function()
			local h = tracked(case[2]);
			local outcome, response = post(h, case[3]);
			assert.equal(201, outcome);
			assert.equal("0", response.headers.ttl);
			assert.equal("https://push.example.test/push/message/push1", response.headers.location);
			assert.is_nil(response.headers.retry_after);
			assert.equal(0, #h.kept, "kept anyway");
			assert.equal(0, #h.sent, "sent anyway");
			assert.same({ unavailable = 1 }, counted(h));
		end);
	end

	it("is refused with 503 and Retry-After: 60 for an endpoint from before store and forward (no indexed claim)", function()
		local h = tracked({ offline = offline, resolve = registration({ indexed = false }) });
		local outcome, response = post(h);
		assert.equal(503, status_of(outcome, response));
		assert.equal("60", response.headers.retry_after);
		assert.equal(0, #h.kept, "kept anyway");
		assert.equal(0, #h.sent, "sent anyway");
		assert.same({ unavailable = 1 }, counted(h));
	end);

	it("is kept no longer than its endpoint lives", function()
		local h = tracked({ offline = offline, resolve = registration({ exp = NOW + 90 }) });
		local outcome, response = post(h, { headers = { ttl = "600" } });
		assert.equal(201, outcome);
		assert.equal("90", response.headers.ttl);
		assert.equal(90, h.kept[1][6]);
	end);

	it("is kept as a held copy and answered at once, and still sent, while the distributor is silent", function()
		local h = tracked({ stalled = offline, keep = { "copy3" } });
		local outcome, response = post(h);
		assert.equal(201, outcome);
		assert.equal("https://push.example.test/push/message/kept/" .. key_of(TOKEN) .. "copy3", response.headers.location);
		assert.is_true(h.kept[1][8], "not held");
		assert.equal(1, #h.sent);
		assert.equal("held", h.sent[1].windowed);
		h.sent[1].settle({ answer = "delivered", reason = "result", answered = true }, 30);
		assert.same({ { "alice@example.test", key_of(TOKEN), "copy3", #BODY, true } }, h.held);
		assert.same({ stored = 1 }, counted(h));
	end);

	it("is only kept (not held, not sent) while the distributor is silent and at the in-flight bound", function()
		local h = tracked({ stalled = offline, in_flight = MAX_IN_FLIGHT });
		assert.equal(201, (post(h)));
		assert.is_false(h.kept[1][8]);
		assert.equal(0, #h.sent);
	end);

	it("is refused with 429 and Retry-After: 60 when keeping it would pass a per-user bound", function()
		local h = tracked({ offline = offline, keep = { nil, "full", "100 messages" } });
		local outcome, response = post(h);
		assert.equal(429, status_of(outcome, response));
		assert.equal("60", response.headers.retry_after);
		assert.is_nil(response.headers.location);
		assert.same({ limited = 1 }, counted(h));
		assert.same({}, lines_at(h, "warn"));
	end);

	it("gets 500 and a warning when the mailbox fails", function()
		local h = tracked({ offline = offline, keep = { nil, "failed", "archive store broken" } });
		local outcome, response = post(h);
		assert.equal(500, status_of(outcome, response));
		assert.is_nil(response.headers.location);
		assert.is_nil(response.headers.ttl);
		assert.same({ failed = 1 }, counted(h));
		local warnings = lines_at(h, "warn");
		assert.equal(1, #warnings);
		assert.truthy(warnings[1]:find("archive store broken", 1, true));
	end);

	it("is kept when it is empty, and its Location names it", function()
		local h = tracked({ offline = offline, keep = { "msg7" } });
		local outcome, response = post(h, { body = "" });
		assert.equal(201, outcome);
		assert.equal(tostring(MESSAGE_TTL), response.headers.ttl);
		assert.equal("https://push.example.test/push/message/kept/" .. key_of(TOKEN) .. "msg7", response.headers.location);
		assert.same({ { "alice@example.test", key_of(TOKEN), APPLICATION, INSTANCE, "", MESSAGE_TTL, nil, false } }, h.kept);
		assert.same({ stored = 1 }, counted(h));
	end);

	it("is sent, not kept, when only another resource of the user is offline", function()
		local h = tracked({ offline = { ["alice@example.test/tablet"] = true } });
		post(h);
		assert.equal(1, #h.sent);
		assert.equal(0, #h.kept);
	end);
end);

describe("a push sent to the distributor", function()
	it("carries the base64 body, the application and instance, from the service to the registered full JID", function()
		local h = tracked({ resolve = registration({ sub = "alice@example.test/tablet" }) });
		local body = "\0\1\2binary\255";
		post(h, { body = body });
		local iq = h.sent[1].iq;
		assert.equal("iq", iq.name);
		assert.equal("set", iq.attr.type);
		assert.equal(SERVICE, iq.attr.from);
		assert.equal("alice@example.test/tablet", iq.attr.to);
		assert.equal("alice@example.test", h.sent[1].user, "the user its in-flight count is kept for");
		assert.equal("push1", iq.attr.id);
		local push = iq:get_child("push", NS);
		assert.equal(APPLICATION, push.attr.application);
		assert.equal(INSTANCE, push.attr.instance);
		assert.equal(body, base64.decode(push:get_text()));
	end);

	-- RFC 8030 §5 and the Push API allow a push without payload (a bare "wake up").
	for _, case in ipairs({ { "an empty body", "" }, { "no body at all", false } }) do
		it("is an empty <push/> for " .. case[1] .. ", and 201 once delivered", function()
			local h = tracked();
			local p = post(h, { body = case[2] });
			assert.equal(1, #h.sent);
			local push = h.sent[1].iq:get_child("push", NS);
			assert.equal(APPLICATION, push.attr.application);
			assert.equal("", push:get_text());
			assert.equal(0, #push);
			h.sent[1].settle({ answer = "delivered", reason = "result", answered = true }, 0.1);
			assert.equal(201, value_of(p));
			assert.same({ delivered = 1 }, counted(h));
		end);
	end

	it("gets an id of its own each time", function()
		local h = tracked();
		post(h);
		post(h);
		assert.equal("push1", h.sent[1].iq.attr.id);
		assert.equal("push2", h.sent[2].iq.attr.id);
	end);

	it("is sent while the user has fewer pushes in flight than the limit", function()
		local h = tracked({ in_flight = MAX_IN_FLIGHT - 1 });
		post(h);
		assert.equal(1, #h.sent);
	end);

	it("waits for the answer: nothing is counted before it settles", function()
		local h = tracked();
		local p = post(h);
		assert.is_true(is_waiting(p));
		assert.same({}, counted(h));
	end);

	it("delivered: 201 with TTL: 0 and the Location naming the push, its answer time sampled", function()
		local h = tracked();
		local outcome, response = post_and_settle(h, { answer = "delivered", reason = "result", answered = true }, 0.125);
		assert.equal(201, outcome);
		assert.equal("0", response.headers.ttl);
		assert.equal("https://push.example.test/push/message/push1", response.headers.location);
		assert.is_nil(response.headers.retry_after);
		assert.same({ delivered = 1 }, counted(h));
		assert.same({ 0.125 }, h.answer_times);
		assert.same({}, h.revoked);
	end);

	it("gone: 404 and the endpoint revoked with its token", function()
		local h = tracked();
		local outcome, response = post_and_settle(h, { answer = "gone", reason = "item-not-found", answered = true }, 0.5);
		assert.equal(404, status_of(outcome, response));
		assert.equal(1, #h.revoked);
		assert.equal(TOKEN, h.revoked[1].token);
		assert.equal(SUB, h.revoked[1].registration.sub);
		assert.equal(NOW, h.revoked[1].now);
		assert.same({ gone = 1 }, counted(h));
		assert.same({ 0.5 }, h.answer_times);
		assert.is_nil(response.headers.location);
	end);

	it("gone, but the revocation cannot be stored: still 404, and a warning", function()
		local h = tracked({ revoke = { false, "index store broken" } });
		local outcome, response = post_and_settle(h, { answer = "gone", reason = "feature-not-implemented", answered = true });
		assert.equal(404, status_of(outcome, response));
		local warnings = lines_at(h, "warn");
		assert.equal(1, #warnings);
		assert.truthy(warnings[1]:find("index store broken", 1, true));
		assert.same({ gone = 1 }, counted(h));
	end);

	-- reason, answered by the distributor, kept (an endpoint from before store and forward cannot keep)
	local unavailable = {
		{ "service-unavailable", true },
		{ "recipient-unavailable", true },
		{ "timeout", false, false },
		{ "offline", false, false },
	};
	for _, case in ipairs(unavailable) do
		it(("unavailable (%s): 503 with Retry-After: 60, answer time %s"):format(case[1], case[2] and "sampled" or "not sampled"), function()
			local options = case[3] == false and { resolve = registration({ indexed = false }) } or nil;
			local h = tracked(options);
			local outcome, response = post_and_settle(h, { answer = "unavailable", reason = case[1], answered = case[2] }, 2);
			assert.equal(503, status_of(outcome, response));
			assert.equal("60", response.headers.retry_after);
			assert.is_nil(response.headers.location);
			assert.same({ unavailable = 1 }, counted(h));
			assert.same(case[2] and { 2 } or {}, h.answer_times);
			assert.same({}, h.revoked);
		end);
	end

	it("unanswered because the module unloads: 503, nothing kept", function()
		local h = tracked();
		local outcome, response = post_and_settle(h, { answer = "unavailable", reason = "unload", answered = false }, 1);
		assert.equal(503, status_of(outcome, response));
		assert.equal(0, #h.kept);
	end);

	for _, reason in ipairs({ "timeout", "offline" }) do
		it(("unanswered (%s) but it can be kept: 201 with TTL and the kept message's Location"):format(reason), function()
			local h = tracked({ keep = { "msg7" } });
			local outcome, response = post_and_settle(h, { answer = "unavailable", reason = reason, answered = false }, 2);
			assert.equal(201, outcome);
			assert.equal(tostring(MESSAGE_TTL), response.headers.ttl);
			assert.equal("https://push.example.test/push/message/kept/" .. key_of(TOKEN) .. "msg7", response.headers.location);
			assert.same({ stored = 1 }, counted(h));
			assert.is_false(h.kept[1][8], "kept as held: nothing waits for its answer any more");
		end);
	end
end);

describe("a push the distributor has not answered within the answer window", function()
	local LATE = { answer = "late", reason = "window", answered = false };

	it("is sent with a window when it could be kept, without one when not", function()
		local h = tracked();
		post(h);
		post(h, { headers = { ttl = "0" } });
		assert.equal("window", h.sent[1].windowed);
		assert.is_nil(h.sent[2].windowed);
		local old = tracked({ resolve = registration({ indexed = false }) });
		post(old);
		assert.is_nil(old.sent[1].windowed);
	end);

	it("is kept as a held copy and answered 201 with TTL and Location at once", function()
		local h = tracked({ keep = { "copy1" } });
		local p, response = post(h, { headers = { ttl = "600", topic = "t" } });
		h.sent[1].settle(LATE, 2);
		assert.equal(201, value_of(p));
		assert.equal("600", response.headers.ttl);
		assert.equal("https://push.example.test/push/message/kept/" .. key_of(TOKEN) .. "copy1", response.headers.location);
		assert.same({ { "alice@example.test", key_of(TOKEN), APPLICATION, INSTANCE, BODY, 600, "t", true } }, h.kept);
		assert.same({ stored = 1 }, counted(h));
		assert.same({}, h.answer_times, "no answer yet");
	end);

	-- the late answer, and whether the copy counts as delivered
	local late = {
		{ "a late result makes the copy go", { answer = "delivered", reason = "result", answered = true }, true },
		{ "a late error leaves the copy for the next flush", { answer = "unavailable", reason = "service-unavailable", answered = true }, false },
		{ "the IQ given up (its session ended) leaves the copy", { answer = "unavailable", reason = "offline", answered = false }, false },
	};
	for _, case in ipairs(late) do
		it(case[1] .. ", and the app server is not answered twice", function()
			local h = tracked({ keep = { "copy1" } });
			local p = post(h);
			h.sent[1].settle(LATE, 2);
			h.sent[1].settle(case[2], 7);
			assert.equal(201, value_of(p));
			assert.same({ { "alice@example.test", key_of(TOKEN), "copy1", #BODY, case[3] } }, h.held);
			assert.same({}, h.revoked);
			assert.same({ stored = 1 }, counted(h));
		end);
	end

	it("a late item-not-found revokes the endpoint and drops the copy's hold", function()
		local h = tracked({ keep = { "copy1" } });
		local p = post(h);
		h.sent[1].settle(LATE, 2);
		h.sent[1].settle({ answer = "gone", reason = "item-not-found", answered = true }, 9);
		assert.equal(201, value_of(p));
		assert.equal(1, #h.revoked);
		assert.equal(TOKEN, h.revoked[1].token);
	end);

	it("that cannot be kept (a bound) gets 429 at the window, and its late result changes nothing", function()
		local h = tracked({ keep = { nil, "full", "250 messages kept for the endpoint" } });
		local p, response = post(h);
		h.sent[1].settle(LATE, 2);
		assert.equal(429, status_of(value_of(p), response));
		h.sent[1].settle({ answer = "delivered", reason = "result", answered = true }, 3);
		assert.same({}, h.held);
	end);
end);

describe("a push to an endpoint that keeps messages", function()
	it("joins the kept queue behind them and starts a flush to the distributor", function()
		local h = tracked({ has_kept = true, keep = { "m9" } });
		local outcome, response = post(h);
		assert.equal(201, outcome);
		assert.equal(tostring(MESSAGE_TTL), response.headers.ttl);
		assert.equal(0, #h.sent);
		assert.same({ SUB }, h.flushed);
		assert.is_false(h.kept[1][8], "held: no flush would send it");
	end);

	it("with TTL 0 is sent at once (it cannot wait behind them)", function()
		local h = tracked({ has_kept = true });
		post(h, { headers = { ttl = "0" } });
		assert.equal(1, #h.sent);
		assert.equal(0, #h.kept);
	end);
end);

describe("the relay's log", function()
	it("never holds the token or the body, whatever became of the push", function()
		-- script, and the answer the push gets when one is sent
		local cases = {
			{ { resolve = { nil, "invalid" } } }, { { resolve = { nil, "failed", "down" } } }, { { wait = 5 } },
			{ { in_flight = MAX_IN_FLIGHT } }, { { offline = { [SUB] = true } } },
			{ { offline = { [SUB] = true }, keep = { nil, "full", "x" } } },
			{ { offline = { [SUB] = true }, keep = { nil, "failed", "y" } } },
			{ { offline = { [SUB] = true }, resolve = registration({ indexed = false }) } },
			{ {}, "delivered" }, { {}, "unavailable" }, { { revoke = { false, "z" } }, "gone" },
		};
		for _, case in ipairs(cases) do
			local h = harness(case[1]);
			local p = post(h);
			if case[2] then h.sent[1].settle({ answer = case[2], reason = "r", answered = true }, 1); end
			assert.is_true(#h.logs > 0, "nothing was logged to check");
			for _, entry in ipairs(h.logs) do
				assert.is_nil(entry.line:find(TOKEN, 1, true), "the token was logged: " .. entry.line);
				assert.is_nil(entry.line:find(BODY, 1, true), "the body was logged: " .. entry.line);
			end
			if case[2] then value_of(p); end
		end
	end);
end);

describe("cancelling a kept message", function()
	local KEY = key_of(TOKEN);
	-- Not a reference of ours: 404 and the mailbox never asked.
	local malformed = {
		{ "an empty reference", "" },
		{ "a reference shorter than a key", KEY:sub(1, 31) },
		{ "a key without an id", KEY },
		{ "a key with a character that is not hex", KEY:sub(1, 31) .. "g" .. "abcdef" },
		{ "a key with a dash in it", KEY:sub(1, 16) .. "-" .. KEY:sub(18) .. "abcdef" },
		{ "a key in upper-case hex (keys are lower case)", KEY:upper() .. "abcdef" },
		{ "an id of 65 characters", KEY .. ("a"):rep(65) },
		{ "an id with a slash", KEY .. "ab/cd" },
		{ "an id with a colon", KEY .. "ab:cd" },
		{ "an id with a space", KEY .. "ab cd" },
		{ "an id with a NUL byte", KEY .. "ab\0cd" },
		{ "an id with a percent sign", KEY .. "ab%2F" },
	};
	for _, case in ipairs(malformed) do
		it("answers 404 without asking the mailbox for " .. case[1], function()
			local h = tracked();
			local outcome = http.cancelMessage(h.context, case[2], new_response());
			assert.equal(404, outcome.code);
			assert.equal("item-not-found", outcome.condition);
			assert.same({}, h.cancels);
		end);
	end

	-- id, what the mailbox says, status
	local answered = {
		{ "an archive id, found", "A1b2C3d4E5f6G7h8", { true }, 204 },
		{ "a UUID, found", "0f8fad5b-d9cb-469f-a165-70867728950e", { true }, 204 },
		{ "an id of 64 characters, found", ("Z"):rep(64), { true }, 204 },
		{ "an id with an underscore, not found", "ab_cd", { false }, 404 },
		{ "a bucket's number and an archive id, found", "3.A1b2C3d4E5f6G7h8", { true }, 204 },
		{ "an id the store cannot look up", "abc", { nil, "archive store broken" }, 500 },
	};
	for _, case in ipairs(answered) do
		it(("answers %d for %s"):format(case[4], case[1]), function()
			local h = tracked({ cancel = case[3] });
			local outcome = http.cancelMessage(h.context, KEY .. case[2], new_response());
			assert.equal(case[4], type(outcome) == "number" and outcome or outcome.code);
			assert.same({ { KEY, case[2] } }, h.cancels);
			assert.equal(case[4] == 500 and 1 or 0, #lines_at(h, "warn"));
		end);
	end

	it("shares the endpoint's rate limit: over it, 429 with Retry-After and the mailbox never asked", function()
		local h = tracked({ wait = 4 });
		local response = new_response();
		local outcome = http.cancelMessage(h.context, KEY .. "abc", response);
		assert.equal(429, outcome.code);
		assert.equal("4", response.headers.retry_after);
		assert.same({ { KEY, CLOCK } }, h.takes);
		assert.same({}, h.cancels);
	end);
end);

-- One canonical string per token (docs/design.md, "Backends and tokens"): with the
-- real endpoints, jwt backend and rate limiter, a variant of a token is refused
-- before it gets a rate bucket (or a cache entry) of its own.
describe("a variant of a token", function()
	local ratelimit = require "ratelimit";
	local stateless = require "backends.stateless";
	local jwt_backend = require "backends.jwt";
	local revocation = require "backends.revocation";

	it("gets 404 and no rate bucket, so the genuine token keeps the bucket it emptied", function()
		local backend = stateless.statelessBackend(jwt_backend.jwtCodec("a secret of sixteen or more"),
			assert(revocation.loadRevocations(up.memory_keyval())));
		-- One cached registration and one rate bucket: an entry made for a variant would replace the token's.
		local kit = up.endpoints({ backend = backend, cacheSize = 1 });
		local token = assert(kit.register(SUB, APPLICATION, INSTANCE, NOW + 3600, NOW));
		local h = tracked();
		h.context.endpoints = kit.endpoints;
		h.context.limiter = ratelimit.rateLimiter(1, 1, 1);
		assert.is_true(is_waiting((post(h, { token = token }))), "the token's push was not sent");
		for _, variant in ipairs({ token .. ".", token .. ".x", token .. "=", token .. "\0", " " .. token }) do
			local outcome, response = post(h, { token = variant });
			assert.equal(404, status_of(outcome, response));
		end
		local outcome, response = post(h, { token = token });
		assert.equal(429, status_of(outcome, response), "the token got a fresh bucket");
		assert.equal(1, #h.sent);
		assert.same({ unknown_endpoint = 5, limited = 1 }, counted(h));
	end);
end);
