-- Storage hygiene (docs/design.md, "What is stored where"): expired records must
-- not accumulate. With a registration TTL of one second, a distributor that
-- renews the same app again and again leaves only its live registrations in the
-- store, and the expired registrations of a user who stops registering are
-- removed by the module's hourly job (mod_cron). On the storage backend and
-- internal storage, the one that keeps a record per registration besides the
-- user's index (the index is the same code for every backend: endpoints_spec);
-- the hourly job on SQL, for every backend: sql_spec.
local up = require "unified_push";

local HOST = "example.test";
local USERS = { { "alice", HOST, "password" }, { "bob", HOST, "password" } };
local TTL = 1;
-- 30 renewals of one app: 5 at the start of each of 6 consecutive seconds, so
-- they span 6 expiry periods.
local BATCHES, PER_BATCH = 6, 5;

-- Names in `names` that are not in `old` (a list), as a list.
local function without(names, old)
	local seen, rest = {}, {};
	for _, name in ipairs(old) do seen[name] = true; end
	for _, name in ipairs(names) do
		if not seen[name] then rest[#rest + 1] = name; end
	end
	return rest;
end

describe("the storage backend on internal storage, with a one-second TTL", function()
	local f = up.fixture({ users = USERS, modules = { "unified_push", "admin_shell" }, distributor = false,
		-- The stores are read: what the journal holds goes to them at once.
		config = { unified_push_backend = "storage", unified_push_registration_ttl = TTL, unified_push_journal_delay = 0 } });
	local store, alice, bob;
	local own; -- the module's own records (present before any registration)

	local function registration_records()
		return without(store:records(HOST, "unified_push"), own);
	end
	local function index_entries(user)
		return store:entries(HOST, "unified_push_users", user .. "@" .. HOST);
	end

	setup(function()
		store = f.server:storage();
		alice = f:connect({ user = "alice" });
		bob = f:connect({ user = "bob" });
		own = store:records(HOST, "unified_push");
	end);

	it("keeps only live registrations while one app renews 30 times over 6 expiry periods", function()
		local application, instance = up.hash(), up.hash();
		local most_records, most_entries, last = 0, 0, nil;
		for _ = 1, BATCHES do
			-- Each batch starts on a new second of the clock: the earlier ones expire meanwhile.
			assert.is_true(up.next_second(), "the clock stood still");
			for _ = 1, PER_BATCH do
				last = f:register({ application = application, instance = instance }, alice);
				most_records = math.max(most_records, #registration_records());
				most_entries = math.max(most_entries, index_entries("alice"));
			end
		end
		-- Unexpired at a registration in second N: those of seconds N-1 and N, so at most two
		-- batches, three if one straddled a second; without purging the store would hold all 30.
		local bound = (TTL + 2) * PER_BATCH;
		assert.is_true(most_records <= bound,
			("%d registration records at once in the store (bound %d)"):format(most_records, bound));
		assert.is_true(most_entries <= bound,
			("%d entries at once in alice's index record (bound %d)"):format(most_entries, bound));

		-- Once all 30 have expired, the next renewal leaves exactly the live one.
		assert.is_true(up.wait_past(last.expires, TTL + 3), "the clock did not pass the expiry");
		local live = f:register({ application = application, instance = instance }, alice);
		-- The live one is the one just issued: it delivers (at once: it lives a second).
		assert.equal(201, f:push(live.endpoint, "still here").status);
		assert.equal(1, #registration_records(),
			"records left besides the module's own: " .. table.concat(registration_records(), ", "));
		assert.equal(1, index_entries("alice"), "entries in alice's index record");
		assert.same({ "alice@" .. HOST }, store:records(HOST, "unified_push_users"));
	end);

	it("removes a quiet user's expired registrations in the hourly job (mod_cron)", function()
		local latest = 0;
		for _ = 1, 3 do
			latest = math.max(latest, f:register(nil, bob).expires);
		end
		assert.is_true(up.wait_past(latest, TTL + 3), "the clock did not pass the expiry");
		-- Expired, and bob registers no more: nothing has removed them yet.
		local expired = index_entries("alice") + index_entries("bob");
		assert.equal(3, index_entries("bob"));
		assert.equal(expired, #registration_records());

		-- The hourly job runs once the server restarts with it due.
		up.make_hourly_due(f.server, HOST);
		alice:close();
		bob:close();
		local mark = f.server:log_mark();
		f.server:restart();

		local purged, why = f.server:wait_log_since(mark, "Purged %d+ expired push registrations", 10);
		assert.truthy(purged, why);
		assert.equal(expired, tonumber(purged:match("%d+")), "registrations purged by the job");
		assert.same({}, registration_records());
		assert.same({}, store:records(HOST, "unified_push_users"));
	end);

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);

describe("the hourly purge, one user per slice (unified_push_purge_slice = 1)", function()
	local loop = require "loop";
	-- Users with an expired registration, written straight into the store: the
	-- purge takes one timer tick (20 ms apart) for each.
	local QUIET = 200;
	local f = up.fixture({ modules = { "unified_push", "admin_shell" }, config = { unified_push_purge_slice = 1, unified_push_journal_delay = 0 } });

	it("serves a push and a registration between two slices, and still removes every expired registration", function()
		local store = f.server:storage();
		local function left() return #store:records(HOST, "unified_push_users"); end
		local live = f:register();
		assert.equal(tostring(QUIET), f.server:eval(([[local s = prosody.hosts[%q].modules.unified_push.module]]
			.. [[:open_store("unified_push_users"); for n = 1, %d do ]]
			.. [[assert(s:set(("quiet%%03d@%s"):format(n), { ["k" .. n] = { a = "A", i = "I", e = os.time() - 10 } })); ]]
			.. [[end; return %d]]):format(HOST, QUIET, HOST, QUIET)));
		assert.equal(QUIET + 1, left());
		local mark = f.server:log_mark();
		-- The module's hourly task, run now through the admin shell.
		assert.equal("1", f.server:eval(("local n = 0; for _, t in ipairs(prosody.hosts[%q].modules.unified_push.module"
			.. ":get_host_items('task')) do if t.id:find('^unified_push/') then t:run(os.time()); n = n + 1; end end; "
			.. "return n"):format(HOST)));
		assert.is_true(loop.run_until(function() return left() <= QUIET; end, 10), "no slice ran");

		local renewed = f:register({ application = live.application, instance = live.instance });
		assert.equal(live.endpoint, renewed.endpoint);
		assert.equal(201, f:push(renewed.endpoint, "between two slices").status);
		local fresh = f:register();
		assert.equal(201, f:push(fresh.endpoint, "a new one, between two slices").status);
		assert.is_true(left() > 1, "the purge was over before the push: not between two slices");

		local purged, why = f.server:wait_log_since(mark, "Purged %d+ expired push registrations", 60);
		assert.truthy(purged, why);
		assert.equal(QUIET, tonumber(purged:match("Purged (%d+)")));
		assert.same({ "alice@" .. HOST }, store:records(HOST, "unified_push_users"));
		f.server:assert_log_clean();
	end);
end);
