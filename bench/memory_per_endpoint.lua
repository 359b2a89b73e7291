-- Bench only: Lua heap per endpoint the module remembers in memory
-- (unified_push_endpoint_cache): a resolved token as src/endpoints.ts caches it
-- (a Target, keyed by the token), a rate bucket (src/ratelimit.ts), and the user
-- index's record of a user with two endpoints as src/userindex.ts keeps it in
-- memory (its own copy; the token strings are the store's). Run in an
-- environment after a build:
--   env/chroot.sh sync prosody-13 && env/chroot.sh run prosody-13 lua5.4 - [N] < bench/memory_per_endpoint.lua
package.path = "build/lua/?.lua;/usr/lib/prosody/?.lua;" .. package.path;
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath;
pcall(require, "loader"); -- Prosody 13: util.x as prosody.util.x

local cache = require "util.cache";
local hashes = require "util.hashes";
local hex = require "util.hex";
local base64 = require "util.encodings".base64;
local random = require "util.random".bytes;
local ratelimit = require "ratelimit";
local userindex = require "userindex";

local N = tonumber(arg[1]) or 100000;

local function heap_kb()
	collectgarbage("collect");
	collectgarbage("collect");
	return collectgarbage("count");
end

-- 180-character paseto tokens (a 40-character JID) and their keys.
local tokens, keys = {}, {};
for i = 1, N do
	tokens[i] = ("v3.local." .. base64.encode(random(129)):gsub("[+/=]", "x")):sub(1, 180);
	keys[i] = hex.encode(hashes.sha256(tokens[i])):sub(1, 32);
end

local before = heap_kb();
local resolved = cache.new(N);
for i = 1, N do
	local user = ("user%06d@example.com"):format(i);
	resolved:set(tokens[i], {
		sub = user .. "/Conversations.abcd", user = user, key = keys[i],
		application = base64.encode(random(32)), instance = base64.encode(random(32)),
		exp = os.time() + 86400, indexed = true,
	});
end
local per_entry = (heap_kb() - before) * 1024 / N;

-- The cache holds its own copy of each token (a request's string is new each time).
before = heap_kb();
local copies = {};
for i = 1, N do copies[i] = tokens[i]:sub(2); end
local per_token = (heap_kb() - before) * 1024 / N - 16; -- less the array slot

before = heap_kb();
local limiter = ratelimit.rateLimiter(10, 100, N);
for i = 1, N do limiter.take(keys[i], 0); end
local per_bucket = (heap_kb() - before) * 1024 / N;

-- What the store returns for N / 2 users with two endpoints each: the index copies
-- the records it reads and keeps the copies.
local stored = {};
for i = 1, N, 2 do
	local user = ("user%06d@example.com"):format(i);
	local record = {};
	for k = i, math.min(i + 1, N) do
		record[keys[k]] = { a = base64.encode(random(32)), i = base64.encode(random(32)), e = os.time() + 86400,
			t = tokens[k], j = user .. "/Conversations.abcd" };
	end
	stored[user] = record;
end
local index = userindex.userIndex({ store = { get = function(_, user) return stored[user]; end },
	cacheSize = N, later = function() end });
before = heap_kb();
for user in pairs(stored) do index.read(user); end
local per_user = (heap_kb() - before) * 1024 * 2 / N;

-- The users of a store listed in shards (src/userlist.ts): N users written through
-- a listed store, the shards held in memory (the user strings are the index's).
local journal = require "journal".journal({
	store = { get = function() end, set = function() return true; end },
	addTimer = function() end, foldDelay = 10, maxUnfolded = math.huge,
	budget = { users = 500, seconds = math.huge, clock = os.clock, pause = 0.02 }, log = function() end,
});
local users = {};
for i = 1, N do users[i] = ("user%06d@example.com"):format(i); end
local plain = { get = function() end, set = function() return true; end };
local lists = require "userlist".userLists(journal.open("lists", plain));
local listed = lists.listed("users", plain);
before = heap_kb();
for i = 1, N do listed:set(users[i], {}); end
journal.close();
local per_listed = (heap_kb() - before) * 1024 / N;

print(("%d endpoints: resolved token %.0f bytes (entry %.0f + token string %.0f), rate bucket %.0f bytes, "
	.. "together %.2f KB"):format(N, per_entry + per_token, per_entry, per_token, per_bucket,
	(per_entry + per_token + per_bucket) / 1024));
print(("index record in memory: %.0f bytes a user with two endpoints (and their token strings, %.0f bytes each, "
	.. "if no other cache holds them)"):format(per_user, per_token));
print(("listed user (src/userlist.ts): %.0f bytes a user"):format(per_listed));
