-- Conformance: the same black-box scenarios against the reference module
-- (Debian's prosody-modules, loaded only as a peer under test) and ours, on the
-- same configuration. Ours must give the expected answer; the reference's answer
-- is recorded. Both go to build/out/conformance.json, from which
-- `npm run compat` writes docs/compatibility.md; every scenario where the two
-- differ must carry a one-line `improvement` saying why (scripts/compat.mjs
-- refuses unexplained differences).
local prosody = require "prosody";
local prosody_libs = require "prosody_libs";
local up = require "unified_push";
local st = require "util.stanza";
local loop = require "loop";
local json = require "util.json";
local datetime = require "util.datetime";
local base64 = require "util.encodings".base64;

local REFERENCE = "/usr/lib/prosody/modules/mod_unified_push/mod_unified_push.lua";
local PASSWORD = "password";

local REFERENCE_VARIANT = { name = "reference", module_file = REFERENCE };
local OURS = { name = "ours" }; -- the launcher's default: dist/mod_unified_push.lua

-- One server per variant: the module on VirtualHost example.test; a second
-- VirtualHost other.test without it (for the ACL), whose HTTP host serves the
-- component push.other.test (component mode with http_host). The IQ timeout
-- option is ours; the reference ignores it and waits the 120 s send_iq default.
local function start_server(variant, ttl)
	return prosody.start({
		module_file = variant.module_file,
		hosts = { "example.test", "other.test" },
		users = { { "alice", "example.test", PASSWORD }, { "mallory", "other.test", PASSWORD } },
		modules = { "unified_push" },
		config = { unified_push_iq_timeout = 2, unified_push_registration_ttl = ttl },
		host_options = { ["other.test"] = { modules_disabled = { "unified_push" } } },
		components = {
			["push.other.test"] = {
				module = "unified_push",
				options = { http_host = "other.test", modules_enabled = { "disco" } },
			},
		},
	});
end

-- How a registration was answered, in words.
local function registration_outcome(reply, err)
	if not reply then return "no answer (" .. tostring(err) .. ")"; end
	if reply.attr.type == "result" then
		return reply:get_child("registered", up.NS) and "registered" or "result without <registered/>";
	end
	local kind, condition = reply:get_error();
	return "error " .. tostring(kind) .. "/" .. tostring(condition);
end

local function register_with(client, service, application, instance, iq_type)
	return registration_outcome(client:request(up.register_iq(service, application, instance, iq_type), 10));
end

-- How an HTTP request was answered, in words.
local function http_outcome(res, err)
	if not res then
		return err == "timeout" and "no answer within 15 s" or ("no answer (" .. tostring(err) .. ")");
	end
	local text = tostring(res.status);
	if up.traceback_in(res.body) then
		text = text .. ", Lua traceback in the body";
	end
	return text;
end

-- The push that reached `client` last decodes to `body`.
local function delivered_intact(client, body)
	local pushes = up.pushes(client);
	return #pushes > 0 and pushes[#pushes].body == body;
end

local BYTES = {};
for i = 0, 255 do BYTES[#BYTES + 1] = string.char(i); end
BYTES = table.concat(BYTES);

-- Each scenario: id, what it does, the answer ours must give, and (where the
-- reference answers differently on some version) why ours differs.
local function push_answered(condition)
	return function(ctx)
		ctx.client:on_iq(condition);
		local reg = assert(up.register(ctx.client, "example.test"));
		local outcome = http_outcome(up.push(ctx.server, reg.endpoint, "hello"));
		ctx.client:on_iq("result");
		return outcome;
	end;
end

-- A POST of body (with headers, or another method) to a fresh endpoint: its answer.
local function post_to_new_endpoint(body, headers, method)
	return function(ctx)
		local reg = assert(up.register(ctx.client, "example.test"));
		return http_outcome(up.push(ctx.server, reg.endpoint, body, headers, method));
	end;
end

-- The scenario of a distributor that answers `condition`.
local SEND_IQ = "the reference reads a field send_iq's util.error rejection lacks and fails with 500 and a traceback";
local function answer_scenario(condition, expect, improvement)
	return { id = "answer-" .. condition, title = "distributor answers " .. condition, expect = expect,
		improvement = improvement or SEND_IQ, run = push_answered(condition) };
end

local SCENARIOS = {
	{
		id = "disco", title = "host advertises the UnifiedPush feature", expect = "advertised",
		run = function(ctx)
			local features = ctx.client:disco_info("example.test") or {};
			for _, feature in ipairs(features) do
				if feature == up.NS then return "advertised"; end
			end
			return "missing";
		end,
	},
	{
		id = "register", title = "valid registration", expect = "registered",
		run = function(ctx) return register_with(ctx.client, "example.test", up.hash(), up.hash()); end,
	},
	{
		id = "renewal", title = "the same app registers again (renewal)", expect = "the same endpoint",
		improvement = "ours hands a renewal the endpoint the app already has, so the app need not tell its app server a new URL every hour",
		run = function(ctx)
			local first = assert(up.register(ctx.client, "example.test"));
			local again = assert(up.register(ctx.client, "example.test",
				{ application = first.application, instance = first.instance }));
			return again.endpoint == first.endpoint and "the same endpoint" or "a new endpoint";
		end,
	},
	{
		id = "register-missing", title = "registration without application", expect = "error modify/bad-request",
		run = function(ctx) return register_with(ctx.client, "example.test", nil, up.hash()); end,
	},
	{
		id = "register-not-base64", title = "registration with application=\"!!!\"", expect = "error modify/bad-request",
		run = function(ctx) return register_with(ctx.client, "example.test", "!!!", up.hash()); end,
	},
	{
		id = "register-lenient-base64", title = "registration with junk after the base64 padding",
		expect = "error modify/bad-request",
		improvement = "Prosody's base64 decoder ignores what follows the padding; ours checks the whole value",
		run = function(ctx)
			local sneaky = up.hash() .. "x";
			return register_with(ctx.client, "example.test", sneaky, up.hash());
		end,
	},
	{
		id = "register-short", title = "registration with a 31-byte instance", expect = "error modify/bad-request",
		run = function(ctx)
			return register_with(ctx.client, "example.test", up.hash(), base64.encode(string.rep("x", 31)));
		end,
	},
	{
		id = "register-get", title = "register sent with type=\"get\"", expect = "error modify/bad-request",
		improvement = "ours says what is wrong (bad-request) instead of Prosody's generic service-unavailable",
		run = function(ctx) return register_with(ctx.client, "example.test", up.hash(), up.hash(), "get"); end,
	},
	{
		id = "register-acl", title = "user of another host registers", expect = "error auth/forbidden",
		run = function(ctx) return register_with(ctx.mallory, "example.test", up.hash(), up.hash()); end,
	},
	{
		id = "discovery", title = "GET on an endpoint", expect = "200 application/json {\"unifiedpush\":{\"version\":1}}",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			local res, err = up.push(ctx.server, reg.endpoint, nil, nil, "GET");
			if not res then return http_outcome(res, err); end
			return ("%d %s %s"):format(res.status, res.headers["content-type"] or "-", res.body);
		end,
	},
	{
		id = "push", title = "POST, distributor answers result", expect = "201, delivered intact",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			local outcome = http_outcome(up.push(ctx.server, reg.endpoint, "hello"));
			return outcome .. (delivered_intact(ctx.client, "hello") and ", delivered intact" or ", not delivered");
		end,
	},
	{
		id = "push-binary", title = "POST of all 256 byte values", expect = "201, delivered intact",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			local outcome = http_outcome(up.push(ctx.server, reg.endpoint, BYTES));
			return outcome .. (delivered_intact(ctx.client, BYTES) and ", delivered intact" or ", not delivered");
		end,
	},
	{ id = "push-4096", title = "POST of exactly 4096 bytes", expect = "201",
		run = post_to_new_endpoint(string.rep("a", 4096)) },
	{ id = "push-4097", title = "POST of 4097 bytes", expect = "413",
		run = post_to_new_endpoint(string.rep("a", 4097)) },
	{
		id = "push-empty", title = "POST with an empty body", expect = "201, an empty push delivered",
		improvement = "RFC 8030 and the Push API allow a push without payload (a bare wake-up); "
			.. "the reference refuses it, and some app servers drop a subscription on a 400",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			local outcome = http_outcome(up.push(ctx.server, reg.endpoint, ""));
			if outcome ~= "201" then return outcome; end
			return outcome .. (delivered_intact(ctx.client, "") and ", an empty push delivered" or ", not delivered");
		end,
	},
	{
		id = "push-unknown", title = "POST to an unknown token", expect = "404",
		run = function(ctx)
			return http_outcome(up.push(ctx.server, "/push/unknown-token-0123456789", "hello"));
		end,
	},
	{
		id = "push-tampered", title = "POST to a token with one character changed", expect = "404",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			-- Same origin and shape as the genuine endpoint (whichever shape the module
			-- issues), only the token differs.
			assert(up.endpoint_for(reg.endpoint, reg.token) == reg.endpoint, "cannot rebuild " .. reg.endpoint);
			return http_outcome(up.push(ctx.server, up.tamper(reg.endpoint), "hello"));
		end,
	},
	answer_scenario("item-not-found", "404"),
	answer_scenario("feature-not-implemented", "404"),
	answer_scenario("service-unavailable", "503"),
	answer_scenario("recipient-unavailable", "503"),
	answer_scenario("internal-server-error", "503",
		"a client-side failure is temporary for the app server (503), not our own failure (500)"),
	{
		id = "answer-none", title = "distributor never answers", expect = "201",
		improvement = "ours keeps the push after unified_push_answer_window (2 s) and answers 201 with its TTL; "
			.. "a late result or the next return delivers it once; the reference holds the request for 120 s",
		run = function(ctx)
			ctx.client:on_iq(function() return nil; end);
			local reg = assert(up.register(ctx.client, "example.test"));
			local outcome = http_outcome(up.push(ctx.server, reg.endpoint, "hello"));
			ctx.client:on_iq("result");
			-- The late result (ours: the kept copy goes, and the distributor answers again).
			local unanswered = ctx.client.received[#ctx.client.received];
			if unanswered then
				ctx.client:send(st.reply(unanswered));
				up.ping(ctx.client, "example.test");
			end
			return outcome;
		end,
	},
	{
		id = "offline", title = "POST with TTL: 0 while the distributor is offline", expect = "201, TTL 0",
		improvement = "ours says TTL: 0, the message expired unsent (RFC 8030 §5.2); the reference answers 201 without a TTL and drops it",
		run = function(ctx)
			local phone = up.connect(ctx.server, { resource = "offline-phone" });
			local reg = assert(up.register(phone, "example.test"));
			phone:close();
			-- The server has processed the disconnect once our own ping returns.
			up.ping(ctx.client, "example.test");
			local res, err = up.push(ctx.server, reg.endpoint, "hello", { TTL = "0" });
			local outcome = http_outcome(res, err);
			if res and res.status == 201 then outcome = outcome .. ", TTL " .. (res.headers["ttl"] or "missing"); end
			return outcome;
		end,
	},
	{
		id = "offline-kept", title = "POST with TTL: 3600 while the distributor is offline, then it reconnects",
		expect = "201, delivered on return",
		improvement = "ours keeps the message for its TTL and sends it when the distributor comes back; the reference answers 201 and loses it",
		run = function(ctx)
			local phone = up.connect(ctx.server, { resource = "roaming-phone" });
			local reg = assert(up.register(phone, "example.test"));
			phone:close();
			up.ping(ctx.client, "example.test");
			local outcome = http_outcome(up.push(ctx.server, reg.endpoint, "kept for you", { TTL = "3600" }));
			phone = up.connect(ctx.server, { resource = "roaming-phone" });
			-- Bounded: whatever is kept arrives right after the bind.
			loop.run_until(function() return delivered_intact(phone, "kept for you"); end, 3);
			local delivered = delivered_intact(phone, "kept for you");
			phone:close();
			return outcome .. (delivered and ", delivered on return" or ", never delivered");
		end,
	},
	{
		id = "method", title = "PUT on an endpoint", expect = "405",
		improvement = "ours answers 405 Method Not Allowed; the reference has no route and answers 404",
		run = post_to_new_endpoint("hello", nil, "PUT"),
	},
	{
		id = "revoked", title = "POST again after the distributor answered item-not-found",
		expect = "404, no IQ sent",
		improvement = "ours revokes the endpoint; the reference keeps relaying to an app that is gone",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			ctx.client:on_iq("item-not-found");
			up.push(ctx.server, reg.endpoint, "first");
			ctx.client:on_iq("result");
			local before = #up.pushes(ctx.client);
			local outcome = http_outcome(up.push(ctx.server, reg.endpoint, "second"));
			up.ping(ctx.client, "example.test");
			return outcome .. (#up.pushes(ctx.client) > before and ", IQ sent" or ", no IQ sent");
		end,
	},
	{
		id = "rfc8030-response", title = "headers of a 201 (RFC 8030 TTL, Location)",
		expect = "TTL 0, Location set",
		improvement = "ours says the message was not stored (TTL: 0) and names it (Location), as RFC 8030 §5 asks",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			local res, err = up.push(ctx.server, reg.endpoint, "hello", { TTL = "60" });
			if not res then return http_outcome(res, err); end
			return ("TTL %s, Location %s"):format(res.headers.ttl or "missing", res.headers.location and "set" or "missing");
		end,
	},
	{
		id = "bad-ttl", title = "POST with TTL: soon", expect = "400",
		improvement = "ours validates the RFC 8030 TTL, Urgency and Topic headers",
		run = post_to_new_endpoint("hello", { TTL = "soon" }),
	},
	{
		id = "burst", title = "150 POSTs in a row to one endpoint", expect = "some answered 429",
		improvement = "ours limits each endpoint (burst 100, then 10 a second) and answers 429 with Retry-After",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			local limited = 0;
			for _ = 1, 150 do
				local res = up.push(ctx.server, reg.endpoint, "hello");
				if res and res.status == 429 then limited = limited + 1; end
			end
			return limited > 0 and "some answered 429" or "all answered 201";
		end,
	},
	{
		id = "component", title = "component with http_host: register and push",
		expect = "registered on other.test, 201 from push.other.test",
		run = function(ctx)
			local reg, reply = up.register(ctx.mallory, "push.other.test");
			if not reg then return registration_outcome(reply); end
			local host = assert(up.parse_endpoint(reg.endpoint)).host;
			local outcome = http_outcome(up.push(ctx.server, reg.endpoint, "hello"));
			local pushes = up.pushes(ctx.mallory);
			local from = pushes[#pushes] and pushes[#pushes].from or "nobody";
			return ("registered on %s, %s from %s"):format(host, outcome, from);
		end,
	},
	{
		id = "component-acl", title = "component: user of another host registers", expect = "error auth/forbidden",
		run = function(ctx) return register_with(ctx.client, "push.other.test", up.hash(), up.hash()); end,
	},
	{
		id = "matrix-discovery", title = "GET /_matrix/push/v1/notify (Matrix gateway discovery)",
		expect = "200 application/json {\"unifiedpush\":{\"gateway\":\"matrix\"}}",
		improvement = "ours is also a Matrix push gateway, so Matrix apps need no third-party gateway",
		run = function(ctx)
			local res, err = up.matrix_notify(ctx.server, "example.test", nil, "GET");
			if not res or res.status ~= 200 then return http_outcome(res, err); end
			return ("%d %s %s"):format(res.status, res.headers["content-type"] or "-", res.body);
		end,
	},
	{
		id = "matrix-notify", title = "Matrix notification naming an endpoint as pushkey",
		expect = "200 {\"rejected\":[]}, delivered intact",
		improvement = "ours relays a homeserver's notification to the endpoints it names and lists the others as rejected",
		run = function(ctx)
			local reg = assert(up.register(ctx.client, "example.test"));
			local body = ('{"notification":{"event_id":"$e:example.test","room_id":"!r:example.test",'
				.. '"counts":{"unread":1},"devices":[{"app_id":"chat.example","pushkey":%s,"pushkey_ts":1}]}}')
				:format(json.encode(reg.endpoint));
			local res, err = up.matrix_notify(ctx.server, "example.test", body);
			if not res or res.status ~= 200 then return http_outcome(res, err); end
			return ("%d %s, %s"):format(res.status, res.body,
				delivered_intact(ctx.client, body) and "delivered intact" or "not delivered");
		end,
	},
};

-- Expiry needs a server with a short registration TTL.
local EXPIRY = {
	id = "expired", title = "POST after the registration expired (TTL 2 s)", expect = "404",
	improvement = "the reference never checks expiry with the paseto backend; ours rejects expired tokens on every backend",
};

local results = { prosody = prosody_libs.version, scenarios = {} };
for _, scenario in ipairs(SCENARIOS) do
	results.scenarios[#results.scenarios + 1] = {
		id = scenario.id, title = scenario.title, expect = scenario.expect, improvement = scenario.improvement,
	};
end
results.scenarios[#results.scenarios + 1] = {
	id = EXPIRY.id, title = EXPIRY.title, expect = EXPIRY.expect, improvement = EXPIRY.improvement,
};

local function record(variant, index, outcome)
	results.scenarios[index][variant.name] = outcome;
end

-- The servers and clients a variant's scenarios share.
local function start_context(variant)
	local ctx = { server = start_server(variant) };
	ctx.client = up.connect(ctx.server);
	ctx.mallory = up.connect(ctx.server, "mallory@other.test");
	return ctx;
end

local function stop_context(ctx)
	if ctx.client then ctx.client:close(); end
	if ctx.mallory then ctx.mallory:close(); end
	if ctx.server then ctx.server:cleanup(); end
end

-- A scenario's outcome; a scenario that raised gives what it raised.
local function outcome_of(scenario, ctx)
	local ok, outcome = pcall(scenario.run, ctx);
	if not ok then outcome = "scenario failed: " .. tostring(outcome); end
	return outcome;
end

-- The expiry scenario, on a server of its own with a 2 s registration TTL.
local function expiry_outcome(variant)
	local server = start_server(variant, 2);
	local client = up.connect(server);
	local ok, outcome = pcall(function()
		local reg = assert(up.register(client, "example.test"));
		local before = http_outcome(up.push(server, reg.endpoint, "hello"));
		assert(before == "201", "fresh endpoint answered " .. before);
		-- Expiry is time itself: wait, bounded, until the expiration has passed.
		assert(up.wait_past(datetime.parse(reg.expiration), 10), "the clock did not pass the expiration");
		return http_outcome(up.push(server, reg.endpoint, "hello"));
	end);
	client:close();
	server:cleanup();
	if not ok then outcome = "scenario failed: " .. tostring(outcome); end
	return outcome;
end

describe("our module", function()
	local ctx = {};
	setup(function() ctx = start_context(OURS); end);
	teardown(function() stop_context(ctx); end);

	for index, scenario in ipairs(SCENARIOS) do
		it(scenario.title, function()
			local outcome = outcome_of(scenario, ctx);
			record(OURS, index, outcome);
			assert.equal(scenario.expect, outcome);
		end);
	end

	it(EXPIRY.title, function()
		local outcome = expiry_outcome(OURS);
		record(OURS, #results.scenarios, outcome);
		assert.equal(EXPIRY.expect, outcome);
	end);
end);

describe("the conformance record", function()
	-- The reference's answers are recordings, not checks: made here, outside any
	-- `it`, and judged by scripts/compat.mjs against the explanations.
	setup(function()
		local ctx = start_context(REFERENCE_VARIANT);
		for index, scenario in ipairs(SCENARIOS) do
			record(REFERENCE_VARIANT, index, outcome_of(scenario, ctx));
		end
		stop_context(ctx);
		record(REFERENCE_VARIANT, #results.scenarios, expiry_outcome(REFERENCE_VARIANT));
	end);

	it("holds the reference's answer and ours for every scenario, written for docs/compatibility.md", function()
		for _, scenario in ipairs(results.scenarios) do
			assert.is_string(scenario.reference, scenario.id);
			assert.is_string(scenario.ours, scenario.id);
		end
		assert(os.execute("mkdir -p build/out"));
		local file = assert(io.open("build/out/conformance.json", "w"));
		file:write(json.encode(results));
		file:close();
	end);
end);
