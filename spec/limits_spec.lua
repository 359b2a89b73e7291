-- Abuse limits (SPEC §7, issue 7 item 3): a per-endpoint rate limit answered
-- 429 + Retry-After, a bound on pushes awaiting one distributor's answer, and a
-- cap on the apps one user may register (renewals never count). Small limits
-- keep the suite fast; the last part checks the defaults let a legitimate burst
-- through.
local prosody = require "prosody";
local xmpp = require "xmpp_client";
local up = require "unified_push";
local loop = require "loop";
local socket = require "socket";
local limits_util = require "limits_util";

local HOST = "example.test";
local USERS = { { "alice", HOST, "password" }, { "bob", HOST, "password" } };

local function connect(server, user)
	return xmpp.connect({ port = server.c2s_port, host = HOST, user = user or "alice", password = "password",
		resource = "phone", timeout = 10 });
end

local function start(config)
	return prosody.start({ hosts = { HOST }, users = USERS, modules = { "unified_push" }, config = config });
end

local function register(client, options)
	local registration, err = up.register(client, HOST, options);
	assert(registration, "registration failed: " .. tostring(err));
	return registration;
end

-- Push IQs the client received after its first `before` IQs, once a ping round
-- trip has made the count final.
local function pushes_since(client, before)
	local pong = up.ping(client, HOST);
	assert(pong and pong.attr.type == "result", "no answer to the ping: " .. tostring(pong));
	local count = 0;
	for i = before + 1, #client.received do
		if client.received[i]:get_child("push", up.NS) then count = count + 1; end
	end
	return count;
end

local function post(server, endpoint, body)
	local response, err = up.push(server, endpoint, body or "hello");
	assert(response, "no answer to the POST: " .. tostring(err));
	return response;
end

-- The Retry-After of a response, checked to be a positive whole number of seconds.
local function retry_after(response)
	local value = response.headers["retry-after"];
	assert.is_string(value, response.status .. " without a Retry-After header");
	assert.truthy(value:match("^%d+$") and tonumber(value) > 0,
		"Retry-After is not a positive whole number of seconds: " .. value);
	return tonumber(value);
end

describe("the per-endpoint rate limit (2 a second, bursts of 5)", function()
	local RATE, BURST = 2, 5;
	local server, phone;

	setup(function()
		server = start({ unified_push_rate_limit = RATE, unified_push_rate_burst = BURST });
		phone = connect(server);
	end);

	teardown(function()
		if phone then phone:close(); end
		if server then server:cleanup(); end
	end);

	-- POSTs BURST + 1 times in quick succession: the first BURST must be
	-- delivered, the last refused. Returns the refusal and when it came.
	local function exhaust(endpoint)
		local before = #phone.received;
		local started = socket.gettime();
		for i = 1, BURST do
			assert.equal(201, post(server, endpoint, "burst " .. i).status, "POST " .. i .. " of the burst");
		end
		local refused = post(server, endpoint, "one too many");
		local now = socket.gettime();
		-- A token comes back every 1/RATE seconds: slower than that, the burst was not quick.
		assert.is_true(now - started < 1 / RATE,
			("the burst took %.2fs, too slow to exceed the limit"):format(now - started));
		assert.equal(BURST, pushes_since(phone, before), "a refused push reached the distributor");
		return refused, now;
	end

	it("answers 429 with a positive Retry-After to the push after the burst, without an IQ", function()
		local refused = exhaust(register(phone).endpoint);
		assert.equal(429, refused.status);
		retry_after(refused);
	end);

	it("leaves the user's other endpoints alone", function()
		local limited, other = register(phone), register(phone);
		assert.equal(429, exhaust(limited.endpoint).status);
		local before = #phone.received;
		assert.equal(201, post(server, other.endpoint).status);
		assert.equal(1, pushes_since(phone, before));
	end);

	it("accepts pushes to the endpoint again after the Retry-After", function()
		local registration = register(phone);
		local refused, refused_at = exhaust(registration.endpoint);
		assert.equal(429, refused.status);
		local seconds = retry_after(refused);
		assert.is_true(seconds <= 10, "Retry-After of " .. seconds .. "s for a limit of 2 a second");
		assert.is_true(limits_util.wait_until(refused_at + seconds, seconds + 1));
		local before = #phone.received;
		assert.equal(201, post(server, registration.endpoint, "after the wait").status);
		assert.equal(1, pushes_since(phone, before));
	end);

	it("leaves a clean log", function()
		server:assert_log_clean();
	end);
end);

describe("the bound on pushes in flight (2, distributor timeout 3s)", function()
	local IQ_TIMEOUT = 3;
	local server, phone;

	setup(function()
		server = start({ unified_push_max_in_flight = 2, unified_push_iq_timeout = IQ_TIMEOUT });
		phone = connect(server);
	end);

	teardown(function()
		if phone then phone:close(); end
		if server then server:cleanup(); end
	end);

	it("refuses a third push at once with 429 while two await the distributor, and takes pushes again once they time out", function()
		local a, b, c = register(phone), register(phone), register(phone);
		-- A distributor that never answers.
		phone:on_iq(function() return nil; end);
		local before = #phone.received;
		local waiting = {
			limits_util.post(server, a.endpoint, "first"),
			limits_util.post(server, b.endpoint, "second"),
		};
		assert.is_true(phone:wait_received(before + 2, 5), "the two pushes did not reach the distributor");

		for _, endpoint in ipairs({ a.endpoint, c.endpoint }) do
			local started = socket.gettime();
			local refused = post(server, endpoint, "third");
			local elapsed = socket.gettime() - started;
			assert.equal(429, refused.status);
			retry_after(refused);
			assert.is_true(elapsed < 1, ("the refusal took %.2fs"):format(elapsed));
		end
		assert.equal(2, pushes_since(phone, before), "a refused push reached the distributor");
		for _, pending in ipairs(waiting) do
			assert.is_false(pending.done, "a push in flight was answered before the distributor answered");
		end

		assert.is_true(limits_util.wait(waiting, IQ_TIMEOUT + 5), "the pushes in flight never timed out");
		for _, pending in ipairs(waiting) do
			assert.is_table(pending.response, tostring(pending.error));
			assert.equal(503, pending.response.status);
			retry_after(pending.response);
		end

		phone:on_iq(nil);
		before = #phone.received;
		for _, endpoint in ipairs({ a.endpoint, b.endpoint, c.endpoint }) do
			assert.equal(201, post(server, endpoint, "later").status);
		end
		assert.equal(3, pushes_since(phone, before));
	end);

	it("leaves a clean log", function()
		server:assert_log_clean();
	end);
end);

describe("the cap on registrations per user (3 apps, registrations live 4s)", function()
	local TTL = 4;
	local server, phone;

	setup(function()
		server = start({ unified_push_max_registrations = 3, unified_push_registration_ttl = TTL });
		phone = connect(server);
	end);

	teardown(function()
		if phone then phone:close(); end
		if server then server:cleanup(); end
	end);

	local function refused(reply)
		assert.is_table(reply, "no answer to the registration");
		local error_type, condition, text = up.error_of(reply);
		assert.equal("cancel", error_type, tostring(reply));
		assert.equal("policy-violation", condition, tostring(reply));
		assert.truthy(text and #text > 0, "policy-violation without a text: " .. tostring(reply));
	end

	local function wait_for_second(t)
		assert.is_true(loop.run_until(function() return os.time() >= t; end, t - os.time() + 2),
			"the clock did not reach " .. t);
	end

	it("refuses a fourth app, keeps renewals working, and frees a slot when an app's registrations expire", function()
		-- The first app is registered a few seconds before the other two, so it
		-- expires first.
		local first = register(phone);
		local first_at = os.time();
		wait_for_second(first_at + 3);
		local second, third = register(phone), register(phone);

		local _, reply = up.register(phone, HOST);
		refused(reply);

		-- Renewing one of the three still works, however often.
		for _, app in ipairs({ second, third, second }) do
			local renewed = register(phone, { application = app.application, instance = app.instance });
			local before = #phone.received;
			assert.equal(201, post(server, renewed.endpoint).status);
			assert.equal(1, pushes_since(phone, before));
		end
		_, reply = up.register(phone, HOST);
		refused(reply);

		-- Once the first app has expired (the others have not), a new one fits.
		wait_for_second(first_at + TTL + 1);
		assert.equal(404, post(server, first.endpoint).status, "the first app has not expired");
		local newcomer = register(phone);
		local before = #phone.received;
		assert.equal(201, post(server, newcomer.endpoint).status);
		assert.equal(1, pushes_since(phone, before));
		-- Exactly one slot came free.
		_, reply = up.register(phone, HOST);
		refused(reply);
	end);

	it("counts each user's apps separately", function()
		local bob = connect(server, "bob");
		for _ = 1, 3 do register(bob); end
		local _, reply = up.register(bob, HOST);
		bob:close();
		refused(reply);
	end);

	it("leaves a clean log", function()
		server:assert_log_clean();
	end);
end);

describe("the default limits", function()
	local BURST = 50;
	local server, phone;

	setup(function()
		server = start(nil);
		phone = connect(server);
	end);

	teardown(function()
		if phone then phone:close(); end
		if server then server:cleanup(); end
	end);

	it("accept a burst of " .. BURST .. " POSTs in a row to one endpoint", function()
		local registration = register(phone);
		local before = #phone.received;
		for i = 1, BURST do
			assert.equal(201, post(server, registration.endpoint, "message " .. i).status, "POST " .. i);
		end
		assert.equal(BURST, pushes_since(phone, before));
	end);

	it("accept a burst of " .. BURST .. " POSTs at once to one endpoint", function()
		local registration = register(phone);
		local before = #phone.received;
		local waiting = {};
		for i = 1, BURST do waiting[i] = limits_util.post(server, registration.endpoint, "message " .. i); end
		assert.is_true(limits_util.wait(waiting, 20), "not every POST was answered");
		for i, pending in ipairs(waiting) do
			assert.is_table(pending.response, "POST " .. i .. ": " .. tostring(pending.error));
			assert.equal(201, pending.response.status, "POST " .. i);
		end
		assert.equal(BURST, pushes_since(phone, before));
	end);

	it("leave a clean log", function()
		server:assert_log_clean();
	end);
end);
