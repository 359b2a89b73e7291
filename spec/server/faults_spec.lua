-- Fault handling (docs/design.md, "HTTP semantics" and "Pushes in flight"): a
-- distributor that goes offline while a push awaits its answer, storage that
-- fails, and the module reloaded through Prosody's admin shell. One that never
-- answers: push_spec (the IQ timeout, and a late answer that changes nothing).
local prosody = require "prosody";
local up = require "unified_push";
local loop = require "loop";
local socket = require "socket";
local lfs = require "lfs";

local HOST = "example.test";
local COMPONENT = "push.example.test";
local USERS = { { "alice", HOST, "password" } };

-- The entries of two snapshots that differ, one "name: before -> after" line each.
local function changes(before, after)
	-- list() and revoke() pass between the instances serving the same users (the
	-- host and the component here) when the one offering them unloads: their items
	-- are counted over all hosts.
	local function merged(snapshot)
		local counts = {};
		for name, n in pairs(snapshot) do
			local key = name:match("^items shell%-command ") and "items shell-command (all hosts)" or name;
			counts[key] = (counts[key] or 0) + n;
		end
		return counts;
	end
	before, after = merged(before), merged(after);
	local lines = {};
	for name, n in pairs(before) do
		if after[name] ~= n then lines[#lines + 1] = ("%s: %d -> %s"):format(name, n, tostring(after[name])); end
	end
	for name, n in pairs(after) do
		if before[name] == nil then lines[#lines + 1] = ("%s: nil -> %d"):format(name, n); end
	end
	table.sort(lines);
	return table.concat(lines, "\n");
end

local function assert_retry_later(res)
	assert.equal(503, res.status, "status; body: " .. tostring(res.body));
	up.retry_after(res);
end

-- Pushes with TTL 0, so that nothing can keep it (a push that can be kept is kept
-- instead of refused: spec/server/mobile_links_spec.lua); returns the response, the
-- seconds it took and when it came (fails if none came).
local function timed_push(server, endpoint, body)
	local started = socket.gettime();
	local res, err = up.push(server, endpoint, body, { TTL = "0" });
	local finished = socket.gettime();
	assert.truthy(res, "no HTTP answer within the client's 15 s: " .. tostring(err));
	return res, finished - started, finished;
end

-- The client registers with service and leaves (leave(client)) when the push
-- arrives: the push is answered 503 with Retry-After within seconds, long before
-- the IQ timeout.
local function assert_noticed_leaving(server, client, service, leave, iq_timeout)
	local left_at;
	client:on_iq(up.answering_pushes(function()
		if not left_at then
			left_at = socket.gettime();
			leave(client);
		end
		return nil;
	end));
	local reg = up.must_register(client, service);
	local res, _, finished = timed_push(server, reg.endpoint, "going away");
	assert.truthy(left_at, "the push never reached the distributor");
	assert_retry_later(res);
	assert.is_true(finished - left_at < 3,
		("answered %.2f s after the distributor left (timeout %d s)"):format(finished - left_at, iq_timeout));
end

describe("a distributor that goes offline while a push awaits its answer", function()
	-- Long enough that an answer within seconds can only come from noticing the disconnect.
	local IQ_TIMEOUT = 30;
	local f = up.fixture({ users = USERS, config = { unified_push_iq_timeout = IQ_TIMEOUT }, distributor = false });

	local WAYS = {
		{ "closes its stream", function(client) client:send("</stream:stream>"); end },
		{ "drops its TCP connection", function(client) client.sock:shutdown("both"); end },
	};

	for i, way in ipairs(WAYS) do
		it("answers 503 with Retry-After within seconds when the distributor " .. way[1], function()
			local client = f:connect({ resource = "leaving" .. i });
			assert_noticed_leaving(f.server, client, HOST, way[2], IQ_TIMEOUT);
			client:close();
		end);
	end

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);

describe("a distributor of a component that goes offline while a push awaits its answer", function()
	-- Prosody activates the hosts of its config in the order of a Lua table traversal,
	-- which changes from one start to the next: the component may start before or after
	-- the host its distributors are connected to. An operator may also deactivate and
	-- activate that host again (admin shell) while the component keeps running.
	local IQ_TIMEOUT = 30;

	local function component_first(server)
		server:wait_log("Activated host: " .. COMPONENT, 5, true);
		server:wait_log("Activated host: " .. HOST, 5, true);
		local log = server:log();
		local component = log:find("Activated host: " .. COMPONENT, 1, true);
		local parent = log:find("Activated host: " .. HOST, 1, true);
		assert(component and parent, "no host activation in the log");
		return component < parent;
	end

	-- A server whose hosts started in the wanted order (bounded: each order is a coin toss).
	local function start(want_component_first)
		for _ = 1, 12 do
			local server = prosody.start({ users = USERS, modules = { "unified_push", "admin_shell" },
				config = { unified_push_iq_timeout = IQ_TIMEOUT },
				components = { [COMPONENT] = { module = "unified_push" } } });
			if component_first(server) == want_component_first then return server; end
			server:cleanup();
		end
		error("12 starts without the wanted host order");
	end

	local function reactivate_parent(server)
		for _, line in ipairs({ ("host:deactivate(%q)"):format(HOST), ("host:activate(%q)"):format(HOST) }) do
			local ok, output = server:shell(line);
			assert.truthy(ok and output:find("Result: true", 1, true), line .. ":\n" .. output);
		end
	end

	local CASES = {
		{ "the component started first", true },
		{ "the parent host started first", false },
		{ "the component started first and the parent host was deactivated and activated again", true, reactivate_parent },
		{ "the parent host started first and was deactivated and activated again", false, reactivate_parent },
	};

	for _, case in ipairs(CASES) do
		it("answers 503 with Retry-After within seconds when " .. case[1], function()
			local server = start(case[2]);
			finally(function() server:cleanup(); loop.clear(); end);
			if case[3] then case[3](server); end
			assert_noticed_leaving(server, up.connect(server, { resource = "leaving" }), COMPONENT,
				function(client) client.sock:shutdown("both"); end, IQ_TIMEOUT);
			server:assert_log_clean();
		end);
	end
end);

describe("storage that fails (spec/fixtures/mod_storage_broken.lua)", function()
	local SOURCE = HOST .. ":unified_push";
	local f = up.fixture({ users = USERS,
		plugin_paths = { lfs.currentdir() .. "/spec/fixtures" },
		storage = { unified_push = "broken", unified_push_users = "broken", unified_push_journal = "broken" },
		-- A registration's records are in their stores when it is answered, so a push reads them there.
		config = { unified_push_backend = "storage", unified_push_journal_delay = 0 } });
	local flag;

	setup(function()
		flag = f.server.data_dir .. "/storage-broken.flag";
	end);

	local function break_storage()
		assert(io.open(flag, "wb")):close();
	end
	local function repair_storage()
		assert(os.remove(flag));
	end

	it("answers a push to a valid endpoint with 500 and a warning, without a traceback", function()
		local reg = f:register();
		local mark = f.server:log_mark();
		break_storage();
		local res = assert(up.push(f.server, reg.endpoint, "cannot look it up"));
		repair_storage();
		assert.equal(500, res.status);
		assert.is_false(up.traceback_in(res.body), "traceback in the body: " .. res.body);
		assert.equal(0, #up.pushes(f.client), "a push was relayed without its registration");
		local warnings = f.server:log_lines("warn", SOURCE, mark);
		assert.equal(1, #warnings, "warnings:\n" .. f.server:log_since(mark));
		assert.matches("broken", warnings[1], 1, true); -- the driver's own message
	end);

	it("answers a registration with wait/internal-server-error and a warning", function()
		local mark = f.server:log_mark();
		break_storage();
		local reg, reply = up.register(f.client, HOST);
		repair_storage();
		assert.is_nil(reg, "registered although storage fails");
		local error_type, condition, text = up.error_of(reply);
		assert.same({ "wait", "internal-server-error" }, { error_type, condition });
		assert.is_false(up.traceback_in(text), "traceback in the error text: " .. tostring(text));
		assert.equal(1, #f.server:log_lines("warn", SOURCE, mark), "warnings:\n" .. f.server:log_since(mark));
	end);

	it("registers and relays again once storage is back", function()
		local reg = f:register();
		local res = assert(up.push(f.server, reg.endpoint, "back"));
		assert.equal(201, res.status);
	end);

	it("has no Lua error or traceback in the log", function()
		f.server:assert_log_clean();
		assert.is_false(up.traceback_in(f.server:log() .. f.server:output()), "a traceback was logged");
	end);
end);

describe("reloading the module through the admin shell", function()
	local before, endpoint_before;
	local HOSTS = { HOST, COMPONENT };
	local IQ_TIMEOUT = 30;
	local f = up.fixture({ users = USERS, modules = { "unified_push", "admin_shell" },
		config = { unified_push_iq_timeout = IQ_TIMEOUT },
		components = { [COMPONENT] = { module = "unified_push" } } });

	local function reload_line(host)
		return ("module:reload(%q, %q)"):format(f.server.module_name, host);
	end

	local function reload(host)
		local ok, output = f.server:shell(reload_line(host));
		assert.truthy(ok and output:find("Module reloaded on 1 host", 1, true), "reload on " .. host .. ":\n" .. output);
	end

	-- Pushes and checks it got 201 after exactly one push IQ reached the client.
	local function assert_one_push(endpoint)
		local received = #f.client.received;
		local res = assert(up.push(f.server, endpoint, "exactly once"));
		assert.equal(201, res.status);
		assert.truthy(up.ping(f.client, HOST)); -- every stanza sent to us before the pong has arrived
		assert.equal(received + 1, #f.client.received, "push IQs for one POST");
	end

	it("has the same hooks, HTTP routes and tasks after five reloads on a host and a component", function()
		endpoint_before = f:register().endpoint;
		-- Counted from after a first reload: a component that started before its parent host
		-- hooks host-activated to find it; reloaded once the host is there, it does not need
		-- to. That changes the counts once, which is not a leak.
		for _, host in ipairs(HOSTS) do reload(host); end
		before = f.server:event_snapshot(HOSTS);
		assert.truthy(before["host:" .. HOST .. " resource-unbind"], "the snapshot does not see the module's hooks");
		local loaded = select(2, f.server:log():gsub(up.load_line(), ""));
		for _ = 1, 5 do
			for _, host in ipairs(HOSTS) do reload(host); end
		end
		assert.equal(loaded + 10, select(2, f.server:log():gsub(up.load_line(), "")), "times the module loaded");
		assert.equal("", changes(before, f.server:event_snapshot(HOSTS)), "handlers or items changed");
	end);

	it("answers a push that awaits the distributor when the module unloads", function()
		local reg = f:register();
		local job;
		f.client:on_iq(up.answering_pushes(function()
			job = job or f.server:shell_background(reload_line(HOST));
			return nil;
		end));
		local res, elapsed = timed_push(f.server, reg.endpoint, "unloading meanwhile");
		f.client:on_iq(nil);
		assert.truthy(job, "the push never reached the distributor");
		local ok, output = job:wait(15);
		assert.truthy(ok, "reload: " .. tostring(output));
		assert_retry_later(res);
		assert.is_true(elapsed < 10, ("answered after %.2f s (timeout %d s)"):format(elapsed, IQ_TIMEOUT));
	end);

	it("then registers, and relays each push exactly once with 201, on the host and the component", function()
		assert.equal("", changes(before, f.server:event_snapshot(HOSTS)), "handlers or items changed");
		assert_one_push(endpoint_before);
		assert_one_push(f:register().endpoint);
		assert_one_push(up.must_register(f.client, COMPONENT).endpoint);
	end);

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);
