-- The registration IQ (docs/design.md, "Protocol") against a real Prosody with
-- real clients: what a valid registration answers and how malformed ones are
-- refused (every value row by row: registeriq_spec and protocol_spec). Every
-- backend's endpoints, renewals and expiry: backends_spec and stable_endpoints_spec.
local up = require "unified_push";
local st = require "util.stanza";

-- Distinctive, so an expiry computed from the default (86400) or another
-- constant cannot pass by accident.
local TTL = 4321;

local function registered_endpoint(client, service, application, instance)
	local registration = up.must_register(client, service, { application = application, instance = instance });
	return registration.endpoint, registration.expiration;
end

-- POSTs body to the endpoint; returns the HTTP status and the one push IQ the
-- client received for it (nil when none arrived).
local function push_through(f, client, endpoint, body)
	local response, pushes = f:post(endpoint, body, nil, client);
	assert(#pushes <= 1, #pushes .. " push IQs for one POST");
	return response.status, pushes[1];
end

local function assert_push(push, service, client, application, instance, body)
	assert(push, "the client received no push IQ");
	assert.equal("set", push.stanza.attr.type);
	assert.equal(service, push.from);
	assert.equal(client.full_jid, push.to);
	assert.same({ application = application, instance = instance },
		{ application = push.application, instance = push.instance });
	assert.equal(body, push.body);
end

-- The type and condition of an error reply (the test fails on any other reply).
local function error_condition(reply)
	assert.equal("error", reply.attr.type, "expected an error, got " .. tostring(reply));
	local error_type, condition, text = up.error_of(reply);
	return { type = error_type, condition = condition }, text;
end

describe("registering for push", function()
	local f = up.fixture({ host_config = { unified_push_registration_ttl = TTL } });

	it("answers with an endpoint under the module's HTTP URL", function()
		local registered = f:register({ application = up.hash("app-1"), instance = up.hash("instance-1") });
		local base = "http://example.test:" .. f.server.http_port .. "/push/";
		local endpoint = registered.endpoint;
		assert.equal(base, endpoint:sub(1, #base), "endpoint: " .. tostring(endpoint));
		-- <first 8 characters of the token>?<the rest>, each URL-encoded: push_spec's.
		assert.equal(up.endpoint_for(endpoint, up.token_of(endpoint)), endpoint);
	end);

	it("answers with an XEP-0082 UTC expiration one TTL from now", function()
		local before = os.time();
		local registered = f:register({ application = up.hash("app-2"), instance = up.hash("instance-2") });
		local after = os.time();
		local expiration = registered.expiration;
		assert.truthy(tostring(expiration):match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"),
			"not YYYY-MM-DDThh:mm:ssZ: " .. tostring(expiration));
		local expires = assert(up.parse_utc(expiration));
		-- now (UTC, seconds since the epoch) + TTL, with a second of slack either side.
		assert.is_true(expires >= before + TTL - 1 and expires <= after + TTL + 1,
			string.format("expiration %s is %d s from now, expected about %d",
				expiration, expires - before, TTL));
	end);

	-- Malformed attributes and type get, through a server: conformance_spec asserts
	-- ours; every value, and the text naming the attribute: registeriq_spec and protocol_spec.
	it("answers another element in the namespace with service-unavailable", function()
		local iq = st.iq({ type = "set", to = "example.test", id = "unregister-1" })
			:tag("unregister", { xmlns = up.NS, application = up.hash("a"), instance = up.hash("i") });
		local err = error_condition(assert(f.client:request(iq, 5)));
		assert.same({ type = "cancel", condition = "service-unavailable" }, err);
	end);

	it("still registers and delivers after refusing it", function()
		local application, instance = up.hash("after-bad-app"), up.hash("after-bad-instance");
		local endpoint = registered_endpoint(f.client, "example.test", application, instance);
		local status, push = push_through(f, f.client, endpoint, "still working");
		assert.equal(201, status);
		assert_push(push, "example.test", f.client, application, instance, "still working");
	end);

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);
