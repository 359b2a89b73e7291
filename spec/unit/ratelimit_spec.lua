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

	it("forgets the least recently used endpoints beyond its size, with a full bucket", function()
		local limiter = ratelimit.rateLimiter(1, 1, 2);
		assert.equal(0, limiter.take("a", 0));
		assert.equal(0, limiter.take("b", 0));
		assert.equal(0, limiter.take("c", 0)); -- evicts a
		assert.equal(0, limiter.take("a", 0));
	end);
end);
