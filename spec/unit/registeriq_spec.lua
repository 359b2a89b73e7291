-- Unit: the registration IQ (src/registeriq.ts) through its context, with a
-- scripted endpoints module; Prosody's real util.stanza, util.jid and util.encodings.
-- The same IQ against a real server is in registration_spec.lua.
local up = require "unified_push";
local registeriq = require "registeriq";
local st = require "util.stanza";
local base64 = require "util.encodings".base64;

local NS = "http://gultsch.de/xmpp/drafts/unified-push";
local SERVICE = "example.test";
local FROM = "alice@example.test/phone";
local APPLICATION = base64.encode(("a"):rep(32));
local INSTANCE = base64.encode(("i"):rep(32));
local TOKEN = "TOKENxSECRETxregistered0123456789";
local NOW, TTL, CAP = 1700000000, 86400, 7;

local OUTCOMES = { "new", "renewed", "forbidden", "bad_request", "limited", "failed" };

-- A context whose endpoints answer `answer` ({ token, renewed } or { nil, refusal, detail })
-- and records each call; the ACL is `acl` (default: the service's domain).
local function harness(answer, acl)
	local h = { calls = {}, logs = {}, registrations = up.counters(OUTCOMES) };
	h.context = {
		config = { acl = acl or { SERVICE }, registrationTtl = TTL, maxRegistrations = CAP },
		endpoints = {
			register = function(...)
				local args = { ... };
				local registered = table.remove(args);
				h.calls[#h.calls + 1] = args;
				local a = answer or { TOKEN, false };
				registered(a[1], a[2], a[3]);
			end,
		},
		backendName = "scripted",
		endpointFor = function(token) return "https://push.example.test/push/" .. token; end,
		now = function() return NOW; end,
		log = up.recording_log(h.logs),
		registrations = h.registrations,
	};
	return h;
end

-- attributes: application and instance (nil leaves one out); no_register: an empty IQ.
local function request(from, application, instance, no_register)
	local iq = st.iq({ type = "set", from = from, to = SERVICE, id = "r1" });
	if not no_register then iq:tag("register", { xmlns = NS, application = application, instance = instance }):up(); end
	return iq;
end

-- The reply to a request, and whether it says a renewal: answerRegistration
-- calls back with them exactly once.
local function answer(context, iq)
	local replies = {};
	registeriq.answerRegistration(context, iq, function(reply, renewed) replies[#replies + 1] = { reply, renewed }; end);
	assert.equal(1, #replies, "replies");
	return replies[1][1], replies[1][2];
end

local function counted(h) return up.counted(h.registrations, OUTCOMES); end

local function lines_at(h, level) return up.lines_at(h.logs, level); end

-- type, condition and text of an error reply (and that it is one, to the sender, with the id).
local function error_of(reply, from)
	assert.equal("iq", reply.name);
	assert.equal("error", reply.attr.type);
	assert.equal("r1", reply.attr.id);
	assert.equal(from, reply.attr.to);
	local kind, condition, text = reply:get_error();
	return { kind, condition, text };
end

local function assert_no_token(h)
	for _, entry in ipairs(h.logs) do
		assert.is_nil(entry.line:find(TOKEN, 1, true), "the token was logged: " .. entry.line);
	end
end

describe("a registration from a sender the ACL does not cover", function()
	-- name, ACL, sender
	local cases = {
		{ "a JID of another domain", { SERVICE }, "mallory@evil.test/x" },
		{ "a subdomain of the listed domain", { SERVICE }, "alice@sub.example.test/phone" },
		{ "another user than the listed bare JID", { "bob@other.test" }, "carol@other.test/phone" },
		{ "the domain of a listed bare JID", { "bob@other.test" }, "other.test" },
		{ "no sender at all", { SERVICE }, nil },
	};
	for _, case in ipairs(cases) do
		it("is refused with auth/forbidden: " .. case[1], function()
			local h = harness(nil, case[2]);
			local reply = answer(h.context, request(case[3], APPLICATION, INSTANCE));
			assert.same({ "auth", "forbidden", "Not permitted to register on this service" }, error_of(reply, case[3]));
			assert.same({ forbidden = 1 }, counted(h));
			assert.equal(0, #h.calls, "the endpoints were asked");
		end);
	end

	it("is refused as forbidden before its attributes are looked at", function()
		local h = harness();
		local reply = answer(h.context, request("mallory@evil.test/x", "bad", nil));
		assert.same({ "auth", "forbidden" }, { table.unpack(error_of(reply, "mallory@evil.test/x"), 1, 2) });
		assert.same({ forbidden = 1 }, counted(h));
	end);

	it("is accepted from a bare JID listed in the ACL", function()
		local h = harness(nil, { "bob@other.test" });
		local reply = answer(h.context, request("bob@other.test/phone", APPLICATION, INSTANCE));
		assert.equal("result", reply.attr.type);
		assert.same({ new = 1 }, counted(h));
	end);
end);

describe("a registration with bad attributes", function()
	local SHORT = base64.encode(("s"):rep(31));
	local LONG = base64.encode(("l"):rep(33));
	-- name, application, instance, the text of the modify/bad-request
	local cases = {
		{ "no application", nil, INSTANCE, "application: missing" },
		{ "an empty application", "", INSTANCE, "application: missing" },
		{ "no instance", APPLICATION, nil, "instance: missing" },
		{ "neither attribute", nil, nil, "application: missing" },
		{ "an application that is not base64", "not base64!", INSTANCE, "application: not base64" },
		{ "an instance in base64url", APPLICATION, (INSTANCE:gsub("%+", "-"):gsub("/", "_")) .. "-_", "instance: not base64" },
		{ "an instance with text after its padding", APPLICATION, SHORT .. "AAAA", "instance: not base64" },
		{ "an instance missing its padding", APPLICATION, (SHORT:gsub("=", "")), "instance: not base64" },
		{ "an application of 31 bytes", SHORT, INSTANCE, "application: decodes to 31 bytes, expected 32" },
		{ "an instance of 33 bytes", APPLICATION, LONG, "instance: decodes to 33 bytes, expected 32" },
		{ "both wrong: the application is named", SHORT, "x", "application: decodes to 31 bytes, expected 32" },
	};
	for _, case in ipairs(cases) do
		it("is refused with modify/bad-request naming the attribute: " .. case[1], function()
			local h = harness();
			local reply = answer(h.context, request(FROM, case[2], case[3]));
			assert.same({ "modify", "bad-request", case[4] }, error_of(reply, FROM));
			assert.same({ bad_request = 1 }, counted(h));
			assert.equal(0, #h.calls, "the endpoints were asked");
		end);
	end

	it("is refused with modify/bad-request when the IQ has no register element", function()
		local h = harness();
		local reply = answer(h.context, request(FROM, nil, nil, true));
		assert.same({ "modify", "bad-request", "application: missing" }, error_of(reply, FROM));
		assert.equal(0, #h.calls);
	end);
end);

describe("a registration the endpoints refuse", function()
	it("over the cap on apps: cancel/policy-violation naming the cap", function()
		local h = harness({ nil, "limit", "7 apps" });
		local reply = answer(h.context, request(FROM, APPLICATION, INSTANCE));
		local e = error_of(reply, FROM);
		assert.same({ "cancel", "policy-violation" }, { e[1], e[2] });
		assert.truthy(e[3]:find("at most " .. CAP .. " apps", 1, true), e[3]);
		assert.same({ limited = 1 }, counted(h));
		assert.same({}, lines_at(h, "warn"));
	end);

	it("when storage fails: wait/internal-server-error, and a warning with the backend and the reason", function()
		local h = harness({ nil, "failed", "disk on fire" });
		local reply = answer(h.context, request(FROM, APPLICATION, INSTANCE));
		assert.same({ "wait", "internal-server-error", "Could not create the endpoint" }, error_of(reply, FROM));
		assert.same({ failed = 1 }, counted(h));
		local warnings = lines_at(h, "warn");
		assert.equal(1, #warnings);
		assert.truthy(warnings[1]:find("scripted", 1, true));
		assert.truthy(warnings[1]:find("disk on fire", 1, true));
	end);
end);

describe("a registration that succeeds", function()
	-- name, the endpoints' renewed flag, counted as, the log's word
	local cases = {
		{ "a new endpoint", false, "new", "Registered" },
		{ "a renewal", true, "renewed", "Renewed" },
	};
	for _, case in ipairs(cases) do
		it(("answers <registered> with the endpoint and the expiry for %s, counted as %s"):format(case[1], case[3]), function()
			local h = harness({ TOKEN, case[2] });
			local reply, renewed = answer(h.context, request(FROM, APPLICATION, INSTANCE));
			assert.equal("result", reply.attr.type);
			assert.equal(case[2], renewed, "the caller was not told whether it renewed");
			assert.equal("r1", reply.attr.id);
			assert.equal(FROM, reply.attr.to);
			local registered = reply:get_child("registered", NS);
			assert.is_not_nil(registered, "no <registered/>");
			assert.equal("https://push.example.test/push/" .. TOKEN, registered.attr.endpoint);
			assert.equal(os.date("!%Y-%m-%dT%H:%M:%SZ", NOW + TTL), registered.attr.expiration);
			-- The longest token that keeps the endpoint within 1000 bytes: the base, "?" and the token.
			local longest = 1000 - #"https://push.example.test/push/" - 1;
			assert.same({ { FROM, APPLICATION, INSTANCE, NOW + TTL, NOW, longest } }, h.calls);
			assert.same({ [case[3]] = 1 }, counted(h));
			local debug = lines_at(h, "debug");
			assert.equal(1, #debug);
			assert.truthy(debug[1]:find(case[4], 1, true), debug[1]);
			assert.truthy(debug[1]:find(FROM, 1, true), debug[1]);
			assert_no_token(h);
		end);
	end

	it("refuses with cancel/not-acceptable when the new endpoint would be over 1000 bytes", function()
		local h = harness({ nil, "too-long", "1200 characters" });
		local reply = answer(h.context, request(FROM, APPLICATION, INSTANCE));
		local kind, condition, text = table.unpack(error_of(reply, FROM));
		assert.same({ "cancel", "not-acceptable" }, { kind, condition });
		assert.truthy(text:find("1000 bytes", 1, true), text);
		assert.same({ limited = 1 }, counted(h));
		assert.same({}, lines_at(h, "warn"));
	end);

	it("uses the expiry XEP-0082 writes for a date whose parts are single digits", function()
		local h = harness();
		h.context.now = function() return 0; end;
		h.context.config = { acl = { SERVICE }, registrationTtl = 3723, maxRegistrations = CAP };
		local reply = answer(h.context, request(FROM, APPLICATION, INSTANCE));
		assert.equal("1970-01-01T01:02:03Z", reply:get_child("registered", NS).attr.expiration);
	end);
end);
