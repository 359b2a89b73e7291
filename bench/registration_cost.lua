-- Bench only: where a registration's time goes, outside any server. The module's
-- own registry and user index (build/lua) over Prosody's internal datamanager in a
-- scratch directory, N registrations of N/5 users (5 apps each), then the same
-- again (renewals), and the store calls alone. Run in an environment after a build:
--   env/chroot.sh sync prosody-13 && env/chroot.sh run prosody-13 lua5.4 - paseto [N] < bench/registration_cost.lua
-- (0.12: storage or jwt; jwt takes no secret here and is refused).
package.path = "build/lua/?.lua;/usr/lib/prosody/?.lua;" .. package.path;
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath;
pcall(require, "loader"); -- Prosody 13: util.x as prosody.util.x

local dm = require "util.datamanager";
local lfs = require "lfs";
local monotonic = require "util.time".monotonic;

local backend_name, N = arg[1] or "paseto", tonumber(arg[2]) or 2000;
local dir = ("/tmp/mup-registration-cost-%d"):format(os.time());
assert(lfs.mkdir(dir));
dm.set_data_path(dir);

local function store(name)
	return {
		get = function(_, user) return dm.load(user, "h", name); end,
		set = function(_, user, data) return dm.store(user, "h", name, data); end,
	};
end
local counters = setmetatable({}, { __index = function(t, k)
	local c = { add = function() end };
	rawset(t, k, c);
	return c;
end });

local backend = assert(require "backends.index".createBackend(backend_name, store("unified_push"), nil));
local index = require "userindex".userIndex(store("unified_push_users"), 100, function(key) backend.dropRecord(key); end);
local registry = require "registry".endpointRegistry(backend, index, 1000, counters);
local users, now = N / 5, os.time();

local function run(label, f)
	local started = monotonic();
	for i = 1, N do f(i); end
	print(("%-36s %6.0f µs each"):format(label, (monotonic() - started) / N * 1e6));
end

run("backend: issue a token", function(i)
	backend.issue({ sub = "u" .. i .. "@h/r", application = "A", instance = "I" .. i, exp = now + 86400, indexed = true });
end);
run("registry: fresh registration", function(i)
	assert(registry.register(("u%d@h/r"):format(i % users), "A", "I" .. i, now + 86400, now));
end);
run("registry: renewal", function(i)
	assert(registry.register(("u%d@h/r"):format(i % users), "A", "I" .. i, now + 86400, now));
end);
run("store: read a 5-entry index record", function(i) dm.load(("u%d@h"):format(i % users), "h", "unified_push_users"); end);
run("store: read and write it back", function(i)
	local user = ("u%d@h"):format(i % users);
	dm.store(user, "h", "unified_push_users", dm.load(user, "h", "unified_push_users"));
end);
os.execute("rm -rf " .. dir);
