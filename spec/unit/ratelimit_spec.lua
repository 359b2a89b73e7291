-- Unit: the per-endpoint token bucket.
local ratelimit = require "ratelimit";

describe("the per-endpoint rate limit", function()
	it("allows the burst, then one push per 1/rate seconds", function()
		local limiter = ratelimit.rateLimiter(2, 3, 100);
		for _ = 1, 3 do assert.equal(0, limiter.take("e", 1000)); end
		assert.equal(1, limiter.take("e", 1000));
		assert.equal(0, limiter.take("e", 1000.5));
		assert.equal(1, limiter.take("e", 1000.5));
	end);

	it("keeps endpoints apart", function()
		local limiter = ratelimit.rateLimiter(1, 1, 100);
		assert.equal(0, limiter.take("a", 0));
		assert.equal(0, limiter.take("b", 0));
		assert.equal(1, limiter.take("a", 0));
	end);

	it("never saves up more than the burst", function()
		local limiter = ratelimit.rateLimiter(10, 2, 100);
		assert.equal(0, limiter.take("e", 0));
		assert.equal(0, limiter.take("e", 3600));
		assert.equal(0, limiter.take("e", 3600));
		assert.equal(1, limiter.take("e", 3600));
	end);

	it("still admits pushes when its clock steps back an hour", function()
		local limiter = ratelimit.rateLimiter(10, 2, 100);
		assert.equal(0, limiter.take("e", 3600));
		-- Back an hour: the saved-up token is still there, and nothing is owed.
		assert.equal(0, limiter.take("e", 0));
		assert.equal(1, limiter.take("e", 0));
		-- From there on the rate applies as before.
		assert.equal(0, limiter.take("e", 0.1));
		assert.equal(1, limiter.take("e", 0.1));
	end);

	-- Token keys as the relay passes them: 32 hex digits.
	local function key(n) return ("%08x"):format(n) .. ("0"):rep(24); end

	it("still limits an endpoint beyond its tracked set: spreading pushes resets nothing", function()
		local limiter = ratelimit.rateLimiter(1, 2, 4);
		-- An app server spreading its pushes over 100 endpoints, three each.
		local allowed = 0;
		for n = 1, 100 do
			for _ = 1, 3 do
				if limiter.take(key(n), 0) == 0 then allowed = allowed + 1; end
			end
		end
		-- Without the debts left by evicted buckets: 200, the bursts of all 100.
		assert.is_true(allowed <= 40, allowed .. " pushes allowed");
		-- The first endpoints were evicted long ago, their buckets empty.
		for n = 1, 10 do assert.equal(1, limiter.take(key(n), 0), "endpoint " .. n); end
		-- Their debts are paid at the rate: half a token back after half a second, one after one.
		assert.equal(1, limiter.take(key(20), 0.5));
		assert.equal(0, limiter.take(key(21), 1));
	end);

	it("forgets endpoints evicted with a full bucket, and debts once paid", function()
		local limiter = ratelimit.rateLimiter(1, 1, 2);
		assert.equal(0, limiter.take(key(1), 0));
		assert.equal(0, limiter.take(key(2), 0));
		assert.equal(0, limiter.take(key(3), 0)); -- evicts 1, owing until 1
		assert.equal(0, limiter.take(key(1), 1), "paid by then");
		local any = ratelimit.rateLimiter(1, 1, 2);
		assert.equal(0, any.take("a", 0));
		any.take("b", 10);
		any.take("c", 10); -- evicts a, full again since 1
		assert.equal(0, any.take("a", 10));
	end);
end);
