-- Abuse limits (docs/design.md, "Limits"): a per-endpoint rate limit answered
-- 429 + Retry-After, a bound on pushes awaiting one distributor's answer, and a
-- cap on the apps one user may register (renewals never count). Small limits
-- keep the suite fast; the last part checks the defaults let a legitimate burst
-- through. The limiter's arithmetic (endpoints apart, the pace after a burst,
-- DELETEs on the same bucket) is ratelimit_spec's and relay_spec's (unit).
local up = require "unified_push";
local socket = require "socket";

local HOST = "example.test";
local USERS = { { "alice", HOST, "password" }, { "bob", HOST, "password" } };

-- A server with these options and alice's distributor.
local function start(config)
	return up.fixture({ users = USERS, config = config });
end

-- Push IQs the client received after its first `before` IQs, once a ping round
-- trip has made the count final.
local function pushes_since(client, before)
	return #up.new_pushes(client, before);
end

describe("the per-endpoint rate limit (2 a second, bursts of 5)", function()
	local RATE, BURST = 2, 5;
	local f = start({ unified_push_rate_limit = RATE, unified_push_rate_burst = BURST });

	-- POSTs BURST + 1 times in quick succession: the first BURST must be
	-- delivered, the last refused. Returns the refusal and when it came.
	local function exhaust(endpoint)
		local before = #f.client.received;
		local started = socket.gettime();
		for i = 1, BURST do
			assert.equal(201, f:push(endpoint, "burst " .. i).status, "POST " .. i .. " of the burst");
		end
		local refused = f:push(endpoint, "one too many");
		local now = socket.gettime();
		-- A token comes back every 1/RATE seconds: slower than that, the burst was not quick.
		assert.is_true(now - started < 1 / RATE,
			("the burst took %.2fs, too slow to exceed the limit"):format(now - started));
		assert.equal(BURST, pushes_since(f.client, before), "a refused push reached the distributor");
		return refused, now;
	end

	it("answers 429 with a positive Retry-After to the push after the burst, without an IQ", function()
		local refused = exhaust(f:register().endpoint);
		assert.equal(429, refused.status);
		up.retry_after(refused);
	end);

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);

describe("the bound on pushes in flight (2, distributor timeout 3s)", function()
	local IQ_TIMEOUT = 3;
	local f = start({ unified_push_max_in_flight = 2, unified_push_iq_timeout = IQ_TIMEOUT });

	it("refuses a third push at once with 429 while two await the distributor, and takes pushes again once they time out", function()
		local a, b, c = f:register(), f:register(), f:register();
		-- A distributor that never answers.
		f.client:on_iq(function() return nil; end);
		local before = #f.client.received;
		local waiting = {
			-- TTL 0: not kept when the distributor stays silent, so they wait it out.
			up.push_later(f.server, a.endpoint, "first", { TTL = "0" }, IQ_TIMEOUT + 5),
			up.push_later(f.server, b.endpoint, "second", { TTL = "0" }, IQ_TIMEOUT + 5),
		};
		assert.is_true(f.client:wait_received(before + 2, 5), "the two pushes did not reach the distributor");

		for _, endpoint in ipairs({ a.endpoint, c.endpoint }) do
			local started = socket.gettime();
			local refused = f:push(endpoint, "third");
			local elapsed = socket.gettime() - started;
			assert.equal(429, refused.status);
			up.retry_after(refused);
			assert.is_true(elapsed < 1, ("the refusal took %.2fs"):format(elapsed));
		end
		assert.equal(2, pushes_since(f.client, before), "a refused push reached the distributor");
		for _, pending in ipairs(waiting) do
			assert.is_false(pending.done, "a push in flight was answered before the distributor answered");
		end

		assert.is_true(up.wait(waiting), "the pushes in flight never timed out");
		for _, pending in ipairs(waiting) do
			assert.is_table(pending.response, tostring(pending.error));
			assert.equal(503, pending.response.status);
			up.retry_after(pending.response);
		end

		f.client:on_iq(nil);
		before = #f.client.received;
		for _, endpoint in ipairs({ a.endpoint, b.endpoint, c.endpoint }) do
			assert.equal(201, f:push(endpoint, "later").status);
		end
		assert.equal(3, pushes_since(f.client, before));
	end);

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);

describe("the cap on registrations per user (3 apps, registrations live 4s)", function()
	local TTL = 4;
	local f = start({ unified_push_max_registrations = 3, unified_push_registration_ttl = TTL });

	local function refused(reply)
		assert.is_table(reply, "no answer to the registration");
		local error_type, condition, text = up.error_of(reply);
		assert.equal("cancel", error_type, tostring(reply));
		assert.equal("policy-violation", condition, tostring(reply));
		assert.truthy(text and #text > 0, "policy-violation without a text: " .. tostring(reply));
	end

	local function wait_for_second(t)
		assert.is_true(up.wait_past(t - 1, t - os.time() + 2),
			"the clock did not reach " .. t);
	end

	it("refuses a fourth app, keeps renewals working, and frees a slot when an app's registrations expire", function()
		-- The first app is registered a few seconds before the other two, so it
		-- expires first.
		local first = f:register();
		local first_at = os.time();
		wait_for_second(first_at + 3);
		local second, third = f:register(), f:register();

		local _, reply = up.register(f.client, HOST);
		refused(reply);

		-- Renewing one of the three still works, however often.
		for _, app in ipairs({ second, third, second }) do
			local renewed = f:register({ application = app.application, instance = app.instance });
			local before = #f.client.received;
			assert.equal(201, f:push(renewed.endpoint, "hello").status);
			assert.equal(1, pushes_since(f.client, before));
		end
		_, reply = up.register(f.client, HOST);
		refused(reply);

		-- Once the first app has expired (the others have not), a new one fits.
		wait_for_second(first_at + TTL + 1);
		assert.equal(404, f:push(first.endpoint, "hello").status, "the first app has not expired");
		local newcomer = f:register();
		local before = #f.client.received;
		assert.equal(201, f:push(newcomer.endpoint, "hello").status);
		assert.equal(1, pushes_since(f.client, before));
		-- Exactly one slot came free.
		_, reply = up.register(f.client, HOST);
		refused(reply);
	end);

	it("counts each user's apps separately", function()
		local bob = f:connect({ user = "bob" });
		for _ = 1, 3 do f:register(nil, bob); end
		local _, reply = up.register(bob, HOST);
		bob:close();
		refused(reply);
	end);

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);

describe("the default limits", function()
	local BURST = 50;
	local f = start(nil);

	it("accept a burst of " .. BURST .. " POSTs at once to one endpoint", function()
		local registration = f:register();
		local before = #f.client.received;
		local waiting = {};
		for i = 1, BURST do waiting[i] = up.push_later(f.server, registration.endpoint, "message " .. i, nil, 20); end
		assert.is_true(up.wait(waiting), "not every POST was answered");
		for i, pending in ipairs(waiting) do
			assert.is_table(pending.response, "POST " .. i .. ": " .. tostring(pending.error));
			assert.equal(201, pending.response.status, "POST " .. i);
		end
		assert.equal(BURST, pushes_since(f.client, before));
	end);

	it("leave a clean log", function()
		f.server:assert_log_clean();
	end);
end);
