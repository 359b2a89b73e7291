-- Bench only: where a registration's time goes, outside any server. The module's
-- own endpoints, user index and journal (build/lua) over Prosody's internal
-- datamanager in a scratch directory: N registrations of N/5 users (5 apps each,
-- round-robin over the users, as the bench's distributor sends them), the end of
-- a turn every B registrations (the journal's record), then the same again
-- (renewals), then the fold; and the store calls alone. Run in an environment
-- after a build:
--   env/chroot.sh sync prosody-13 && env/chroot.sh run prosody-13 lua5.4 - paseto [N] [B] < bench/registration_cost.lua
-- (0.12: storage or jwt; jwt takes no secret here and is refused).
package.path = "build/lua/?.lua;/usr/lib/prosody/?.lua;" .. package.path;
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath;
pcall(require, "loader"); -- Prosody 13: util.x as prosody.util.x

local dm = require "util.datamanager";
local lfs = require "lfs";
local monotonic = require "util.time".monotonic;

local backend_name, N, B = arg[1] or "paseto", tonumber(arg[2]) or 2000, tonumber(arg[3]) or 30;
local dir = ("/tmp/mup-registration-cost-%d"):format(os.time());
assert(lfs.mkdir(dir));
dm.set_data_path(dir);

local function store(name)
	return {
		get = function(_, user) return dm.load(user, "h", name); end,
		set = function(_, user, data) return dm.store(user, "h", name, data); end,
		users = function() return dm.users("h", name); end,
	};
end
local counters = setmetatable({}, { __index = function(t, k)
	local c = { add = function() end };
	rawset(t, k, c);
	return c;
end });

-- The journal's timers run when this script says: `turn()` ends a turn, `fold()` runs the fold.
local timers = {};
local journal = require "journal".journal({
	store = store("unified_push_journal"),
	addTimer = function(delay, callback) timers[#timers + 1] = { delay = delay, callback = callback }; end,
	foldDelay = 10, maxUnfolded = 10 * N,
	budget = { users = 500, seconds = math.huge, clock = monotonic, pause = 0.02 },
	log = function(level, ...) print(level, ...); end,
});
local backend_store = store("unified_push");
local backend = assert(require "backends.index".createBackend(backend_name, backend_store,
	journal.open("tokens", backend_store), nil));
local index = require "userindex".userIndex({ store = journal.open("users", store("unified_push_users")), cacheSize = N });
local endpoints = require "endpoints".endpoints({ backend = backend, index = index, maxPerUser = 1000,
	cacheSize = N, revocations = counters });
local users, now = N / 5, os.time();

local function run_timers(longest)
	for _ = 1, 100000 do
		local due;
		for i, timer in ipairs(timers) do
			if timer.delay <= longest then due = table.remove(timers, i); break; end
		end
		if not due then return; end
		local again = due.callback();
		if again then timers[#timers + 1] = { delay = again, callback = due.callback }; end
	end
end

local function run(label, f)
	local started = monotonic();
	for i = 1, N do f(i); end
	print(("%-44s %6.0f µs each"):format(label, (monotonic() - started) / N * 1e6));
end

local answered = 0;
local function register(i)
	endpoints.register(("u%d@h/r"):format(i % users), "A", "I" .. i, now + 86400, now, math.huge,
		function(token) assert(token); answered = answered + 1; end);
	if i % B == 0 or i == N then run_timers(0); end
end

run("backend: issue a token (no store)", function(i)
	if backend_name ~= "storage" then
		backend.issue({ sub = "u" .. i .. "@h/r", application = "A", instance = "I" .. i, exp = now + 86400, indexed = true });
	end
end);
run(("endpoints: fresh registration, a turn per %d"):format(B), register);
run(("endpoints: renewal, a turn per %d"):format(B), register);
assert(answered == 2 * N, "registrations not answered: " .. (2 * N - answered));
local started = monotonic();
run_timers(math.huge);
print(("%-44s %6.0f µs a registration"):format("journal: the fold (later, off the request path)", (monotonic() - started) / (2 * N) * 1e6));
-- The whole IQ handler (src/registeriq.ts) on new users: ACL, attribute checks, the reply.
local st = require "util.stanza";
local config = { acl = { "h" }, registrationTtl = 86400, maxRegistrations = 1000 };
local context = { config = config, endpoints = endpoints, backendName = backend_name,
	endpointFor = function(token) return "http://localhost:5280/push/" .. token; end,
	now = os.time, log = function() end, registrations = counters };
local hash = ("A"):rep(43) .. "=";
local replies = 0;
run(("registeriq: a new user's IQ, a turn per %d"):format(B), function(i)
	local iq = st.iq({ type = "set", from = ("n%d@h/r"):format(i), to = "h", id = "r" .. i })
		:tag("register", { xmlns = "http://gultsch.de/xmpp/drafts/unified-push", application = hash, instance = hash });
	require "registeriq".answerRegistration(context, iq, function(reply)
		assert(reply.attr.type == "result"); replies = replies + 1;
	end);
	if i % B == 0 or i == N then run_timers(0); end
end);
assert(replies == N);
run("store: read a 5-entry index record", function(i) dm.load(("u%d@h"):format(i % users), "h", "unified_push_users"); end);
run("store: read and write it back", function(i)
	local user = ("u%d@h"):format(i % users);
	dm.store(user, "h", "unified_push_users", dm.load(user, "h", "unified_push_users"));
end);
os.execute("rm -rf " .. dir);
