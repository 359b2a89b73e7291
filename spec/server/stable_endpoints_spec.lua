-- Stable endpoints (docs/design.md, "Stable endpoints"): a renewal by the same
-- user for the same application and instance returns the same endpoint with a
-- new expiration, pushes follow the latest registration's full JID, and an
-- expired or revoked endpoint is never revived: it answers 404 and relays
-- nothing. One server, one VirtualHost per backend this Prosody supports, so the
-- waits for expiry are shared.
local prosody = require "prosody";
local up = require "unified_push";
local loop = require "loop";

-- 44 characters, like `openssl rand -base64 32`.
local SECRET = "Qm9ndXMgc2VjcmV0IGZvciB0ZXN0cyBvbmx5ISEhIQ==";
-- Long enough that a renewal two seconds in leaves a two-second window after
-- the first expiry in which only the renewal keeps the endpoint alive.
local TTL = 4;

local BACKENDS = {
	{ name = "storage" },
	{ name = "jwt", options = { unified_push_secret = SECRET } },
	{ name = "paseto", needs_13 = true },
};

local cases, hosts, users, host_options = {}, {}, {}, {};
for _, backend in ipairs(BACKENDS) do
	if not backend.needs_13 or prosody.major >= 13 then
		local host = backend.name .. ".example.test";
		local options = { unified_push_backend = backend.name, unified_push_registration_ttl = TTL };
		for k, v in pairs(backend.options or {}) do options[k] = v; end
		cases[#cases + 1] = { backend = backend.name, host = host };
		hosts[#hosts + 1] = host;
		host_options[host] = options;
		users[#users + 1] = { "alice", host, "password" };
		users[#users + 1] = { "bob", host, "password" };
	end
end

local function expiry_of(registration)
	return (assert(up.parse_utc(registration.expiration), "not a XEP-0082 datetime: " .. tostring(registration.expiration)));
end

-- Waits until the clock shows `second` or later (bounded).
local function wait_until(second)
	assert.is_true(loop.run_until(function() return os.time() >= second; end, second - os.time() + 2),
		"the clock did not reach " .. second);
end

describe("stable endpoints", function()
	local server;
	local clients = {}; -- [host] = { phone, tablet, bob } (alice's phone and tablet, bob's phone)

	local function connect(host, user, resource)
		return up.connect(server, { host = host, user = user, resource = resource });
	end

	local function connect_all()
		for _, case in ipairs(cases) do
			clients[case.host] = {
				phone = connect(case.host, "alice", "phone"),
				tablet = connect(case.host, "alice", "tablet"),
				bob = connect(case.host, "bob", "phone"),
			};
		end
	end

	local function close_all()
		for _, set in pairs(clients) do
			for _, client in pairs(set) do client:close(); end
		end
		clients = {};
	end

	-- POSTs `body` to the endpoint; the HTTP status.
	local function push(endpoint, body)
		return assert(up.push(server, endpoint, body)).status;
	end

	local function bodies(client)
		local list = {};
		for _, p in ipairs(up.pushes(client)) do list[#list + 1] = p.body; end
		return list;
	end

	setup(function()
		server = prosody.start({ hosts = hosts, users = users, modules = { "unified_push" }, host_options = host_options });
		connect_all();
	end);

	teardown(function()
		close_all();
		if server then server:cleanup(); end
		loop.clear();
	end);

	for _, case in ipairs(cases) do
		describe("on the " .. case.backend .. " backend", function()
			it("answers a renewal with the same endpoint and a later expiration", function()
				local phone = clients[case.host].phone;
				local first = assert(up.register(phone, case.host));
				wait_until(os.time() + 1);
				local renewed = assert(up.register(phone, case.host, { application = first.application, instance = first.instance }));
				assert.equal(first.endpoint, renewed.endpoint);
				assert.is_true(expiry_of(renewed) > expiry_of(first),
					("expiration did not move: %s -> %s"):format(first.expiration, renewed.expiration));
				assert.equal(201, push(renewed.endpoint, "after renewal"));
				assert.same({ "after renewal" }, bodies(phone));
			end);

			it("gives another application, another instance and another user endpoints of their own", function()
				local set = clients[case.host];
				local base = assert(up.register(set.phone, case.host));
				local endpoints = {
					base.endpoint,
					assert(up.register(set.phone, case.host, { instance = base.instance })).endpoint,
					assert(up.register(set.phone, case.host, { application = base.application })).endpoint,
					assert(up.register(set.bob, case.host, { application = base.application, instance = base.instance })).endpoint,
				};
				local seen = {};
				for i, endpoint in ipairs(endpoints) do
					assert.is_nil(seen[endpoint], ("endpoint %d repeats endpoint %s"):format(i, tostring(seen[endpoint])));
					seen[endpoint] = i;
				end
				-- Each reaches its own distributor.
				local before = #up.pushes(set.bob);
				assert.equal(201, push(endpoints[4], "for bob"));
				assert.same("for bob", up.pushes(set.bob)[before + 1].body);
			end);

			it("sends pushes to the resource that registered last", function()
				local set = clients[case.host];
				local first = assert(up.register(set.phone, case.host));
				local taken = assert(up.register(set.tablet, case.host, { application = first.application, instance = first.instance }));
				assert.equal(first.endpoint, taken.endpoint);
				local phone_before, tablet_before = #set.phone.received, #set.tablet.received;
				assert.equal(201, push(first.endpoint, "to the tablet"));
				assert.equal(phone_before, #set.phone.received, "the phone still got the push");
				assert.equal(tablet_before + 1, #set.tablet.received);
				assert.equal("to the tablet", up.pushes(set.tablet)[#up.pushes(set.tablet)].body);
				-- And back.
				assert.equal(first.endpoint, assert(up.register(set.phone, case.host,
					{ application = first.application, instance = first.instance })).endpoint);
				assert.equal(201, push(first.endpoint, "to the phone"));
				assert.equal(tablet_before + 1, #set.tablet.received);
				assert.equal("to the phone", up.pushes(set.phone)[#up.pushes(set.phone)].body);
			end);

			it("hands out a new endpoint after a revocation, and the revoked one stays 404", function()
				local set = clients[case.host];
				local first = assert(up.register(set.bob, case.host));
				set.bob:on_iq("item-not-found");
				assert.equal(404, push(first.endpoint, "gone"));
				set.bob:on_iq("result");
				local again = assert(up.register(set.bob, case.host, { application = first.application, instance = first.instance }));
				assert.are_not.equal(first.endpoint, again.endpoint);
				assert.equal(404, push(first.endpoint, "to the revoked endpoint"));
				assert.equal(201, push(again.endpoint, "to the new endpoint"));
				-- Renewing now returns the new one.
				assert.equal(again.endpoint, assert(up.register(set.bob, case.host,
					{ application = first.application, instance = first.instance })).endpoint);
			end);
		end);
	end

	it("keeps a renewed endpoint alive past its first expiry, until the renewal's, on every backend", function()
		local first = {};
		local before = os.time();
		for _, case in ipairs(cases) do
			first[case.host] = assert(up.register(clients[case.host].phone, case.host));
		end
		local registered = os.time();
		for _, case in ipairs(cases) do
			local expires = expiry_of(first[case.host]);
			assert.is_true(expires >= before + TTL and expires <= registered + TTL,
				("%s: expiration %d s after registering, not the TTL of %d s"):format(case.backend, expires - before, TTL));
		end
		wait_until(registered + 2);
		local renewed = {};
		for _, case in ipairs(cases) do
			local reg = first[case.host];
			renewed[case.host] = assert(up.register(clients[case.host].phone, case.host,
				{ application = reg.application, instance = reg.instance }));
			assert.equal(reg.endpoint, renewed[case.host].endpoint);
		end
		-- Past the first expiration, not past the renewal's.
		local first_expiry = 0;
		for _, reg in pairs(first) do first_expiry = math.max(first_expiry, expiry_of(reg)); end
		wait_until(first_expiry + 1);
		for _, case in ipairs(cases) do
			assert.is_true(os.time() <= expiry_of(renewed[case.host]), "the renewal expired before the check");
			assert.equal(201, push(first[case.host].endpoint, "between the expiries"), case.backend);
		end
		local last_expiry = 0;
		for _, reg in pairs(renewed) do last_expiry = math.max(last_expiry, expiry_of(reg)); end
		wait_until(last_expiry + 1);
		for _, case in ipairs(cases) do
			assert.equal(404, push(first[case.host].endpoint, "after the renewal's expiry"), case.backend);
			assert.is_false(up.iq_arrives(clients[case.host].phone, 0.2), case.backend .. " pushed after expiry");
			-- Expired is never revived: the next registration gets a new endpoint.
			local reg = first[case.host];
			local fresh = assert(up.register(clients[case.host].phone, case.host,
				{ application = reg.application, instance = reg.instance }));
			assert.are_not.equal(reg.endpoint, fresh.endpoint, case.backend);
		end
	end);

	-- Stops the server (SIGKILL if `crash`, else a clean stop) and starts it again,
	-- once every host has loaded the module, with the clients connected again.
	local function start_again(crash)
		close_all();
		local mark = server:log_mark();
		if crash then server:crash(); end
		server:restart();
		for _, case in ipairs(cases) do
			-- The module says its backend once the server has started, after the ports open.
			assert.truthy(server:wait_log_since(mark, up.load_line(case.host, case.backend), 10),
				case.host .. " did not load the module again");
		end
		connect_all();
	end

	it("keeps every answered registration through a crash before the journal reached the stores", function()
		local before = {};
		local storage = server:storage();
		for _, case in ipairs(cases) do
			local reg = assert(up.register(clients[case.host].phone, case.host));
			before[case.host] = reg;
			-- Answered, and so far in the journal only (unified_push_journal_delay: 10 s).
			local alice, key = "alice@" .. case.host, up.token_key(reg.token);
			local journaled = false;
			for _, seq in ipairs(storage:records(case.host, "unified_push_journal")) do
				-- The user's record whole, or the entries that changed (docs/design.md, "The journal").
				local writes = storage:load(case.host, "unified_push_journal", seq).users or {};
				for _, part in ipairs({ writes.set or {}, writes.changed or {} }) do
					if part[alice] and part[alice][key] then journaled = true; end
				end
			end
			assert.is_true(journaled, case.backend .. ": the registration is not in the journal");
			local index = storage:load(case.host, "unified_push_users", alice);
			assert.is_nil(index and index[key], case.backend .. ": the journal was folded before the crash");
		end
		start_again(true);
		for _, case in ipairs(cases) do
			local reg = before[case.host];
			assert.equal(201, push(reg.endpoint, "after the crash"), case.backend);
			assert.same({ "after the crash" }, bodies(clients[case.host].phone), case.backend);
			local renewed = assert(up.register(clients[case.host].phone, case.host,
				{ application = reg.application, instance = reg.instance }));
			assert.equal(reg.endpoint, renewed.endpoint, case.backend);
		end
	end);

	it("answers a renewal after a restart with the same endpoint, which still delivers", function()
		local before = {};
		for _, case in ipairs(cases) do
			before[case.host] = assert(up.register(clients[case.host].phone, case.host));
		end
		start_again(false);
		for _, case in ipairs(cases) do
			local reg = before[case.host];
			local renewed = assert(up.register(clients[case.host].tablet, case.host,
				{ application = reg.application, instance = reg.instance }));
			assert.equal(reg.endpoint, renewed.endpoint, case.backend);
			assert.equal(201, push(reg.endpoint, "after the restart"), case.backend);
			assert.same({ "after the restart" }, bodies(clients[case.host].tablet), case.backend);
		end
	end);

	it("leaves a clean log", function()
		server:assert_log_clean();
	end);
end);
