-- Unit: the cache of verified tokens in front of a backend.
local cache = require "backends.cache";

local function counting_backend(registration)
	local backend = { name = "fake", calls = 0, revoked = {} };
	backend.resolve = function(token, now)
		backend.calls = backend.calls + 1;
		if backend.revoked[token] then return nil, "revoked"; end
		if token ~= "good" then return nil, "invalid"; end
		if registration.exp < now then return nil, "expired"; end
		return registration;
	end;
	backend.revoke = function(token) backend.revoked[token] = true; return true; end;
	return backend;
end

describe("the verified-token cache", function()
	local registration = { sub = "a@b/c", application = "A", instance = "I", exp = 100 };

	it("asks the backend once for a token seen again", function()
		local inner = counting_backend(registration);
		local backend = cache.cachedBackend(inner, 10);
		assert.equal(registration, backend.resolve("good", 1));
		assert.equal(registration, backend.resolve("good", 2));
		assert.equal(1, inner.calls);
	end);

	it("never caches a failure", function()
		local inner = counting_backend(registration);
		local backend = cache.cachedBackend(inner, 10);
		assert.same({ nil, "invalid" }, { backend.resolve("bad", 1) });
		assert.same({ nil, "invalid" }, { backend.resolve("bad", 1) });
		assert.equal(2, inner.calls);
	end);

	it("still checks expiry on a cached token", function()
		local backend = cache.cachedBackend(counting_backend(registration), 10);
		backend.resolve("good", 1);
		assert.same({ nil, "expired" }, { backend.resolve("good", 101) });
	end);

	it("forgets a token when it is revoked", function()
		local backend = cache.cachedBackend(counting_backend(registration), 10);
		backend.resolve("good", 1);
		backend.revoke("good", registration, 1);
		assert.same({ nil, "revoked" }, { backend.resolve("good", 2) });
	end);
end);
