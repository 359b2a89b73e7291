-- Real mobile links (docs/design.md, "Real mobile links"), on a real server with
-- stream management (mod_smacks) and a client that enables it with resumption:
-- a push for a hibernating session is kept and answered 201, and arrives once
-- on resumption or on the next bind; a push the distributor leaves unanswered
-- past the answer window is kept and answered 201, and arrives once whether the
-- late result comes or the distributor binds anew; TTL 0 keeps nothing. On the
-- default backend: a kept message on every backend is backends_spec's; the order
-- of kept and newer pushes and a TTL bounded by the endpoint's life are
-- mailbox_spec's and relay_spec's (unit).
local up = require "unified_push";
local loop = require "loop";
local st = require "util.stanza";

local HOST = "example.test";
local HIBERNATION = 2; -- smacks_hibernation_time, seconds

describe("a distributor on a mobile link", function()
	local f = up.fixture({
		modules = { "unified_push", "smacks" },
		config = { unified_push_answer_window = 1, smacks_hibernation_time = HIBERNATION },
		distributor = false,
	});
	local server;
	setup(function() server = f.server; end);

	-- A phone with stream management, registered with a fresh app.
	local function phone(options)
		options = options or {};
		options.sm = true;
		local client = up.connect(server, options);
		return client, up.must_register(client, HOST);
	end

	-- The bodies of the pushes `client` received for `reg`, in order.
	local function bodies(client, reg)
		local list = {};
		for _, p in ipairs(up.pushes(client)) do
			if p.application == reg.application then list[#list + 1] = p.body; end
		end
		return list;
	end

	-- Waits (bounded) until the server has put the session to sleep.
	local function hibernating(mark)
		assert(server:wait_log_since(mark, "hibernat", 5), "the session did not hibernate");
	end

	-- A phone whose session the server has put to sleep (dropped, not closed); the mark
	-- is where the log stood before.
	local function dropped_phone()
		local client, reg = phone();
		local mark = server:log_mark();
		client:drop();
		hibernating(mark);
		return client, reg, mark;
	end

	-- `body` arrives at `client`, and only once: another chance to flush (directed
	-- presence) sends nothing again. Closes the client.
	local function arrives_once(client, reg, body)
		assert.is_true(loop.run_until(function() return #bodies(client, reg) >= 1; end, 5), "nothing arrived");
		up.sync(client);
		client:send(st.presence({ to = HOST }));
		up.sync(client);
		assert.same({ body }, bodies(client, reg));
		client:close();
	end

	local function kept_answer(response)
		assert.equal(201, response.status);
		local ttl = tonumber(response.headers["ttl"]);
		assert.truthy(ttl and ttl > 0, "TTL: " .. tostring(response.headers["ttl"]));
		assert.truthy(response.headers["location"], "no Location");
		return ttl;
	end

	it("keeps a push for a dropped (hibernating) session and delivers it once on resumption", function()
		local client, reg = dropped_phone();
		local ttl = kept_answer(up.must_push(server, reg.endpoint, "while dropped", { TTL = "600" }));
		assert.is_true(ttl <= 600);
		assert(client:resume());
		arrives_once(client, reg, "while dropped");
	end);

	it("answers TTL 0 to a hibernating session with 201 and TTL 0, and never delivers it", function()
		local client, reg = dropped_phone();
		local response = up.must_push(server, reg.endpoint, "now or never", { TTL = "0" });
		assert.equal(201, response.status);
		assert.equal("0", response.headers["ttl"]);
		assert(client:resume());
		up.sync(client);
		client:send(st.presence({ to = HOST }));
		up.sync(client);
		assert.same({}, bodies(client, reg));
		client:close();
	end);

	it("delivers once on a new bind when hibernation times out", function()
		local _, reg, mark = dropped_phone();
		kept_answer(up.must_push(server, reg.endpoint, "after the timeout", { TTL = "600" }));
		assert(server:wait_log_since(mark, "[Hh]ibernating too long", HIBERNATION + 5), "hibernation did not time out");
		arrives_once(up.connect(server, { sm = true }), reg, "after the timeout");
	end);

	it("keeps a push on a silent link past the window, and its late result makes it arrive once", function()
		local client, reg = phone();
		client:stop_reading();
		local ttl = kept_answer(up.must_push(server, reg.endpoint, "on a silent link", { TTL = "600" }));
		assert.is_true(ttl <= 600);
		client:start_reading();
		arrives_once(client, reg, "on a silent link");
	end);

	it("delivers a push left unanswered once from the kept copy when the distributor binds anew", function()
		local client, reg = phone();
		client:stop_reading();
		kept_answer(up.must_push(server, reg.endpoint, "never answered", { TTL = "600" }));
		local mark = server:log_mark();
		client:drop();
		assert(server:wait_log_since(mark, "[Hh]ibernating too long", HIBERNATION + 5), "hibernation did not time out");
		arrives_once(up.connect(server, { sm = true }), reg, "never answered");
	end);
end);
