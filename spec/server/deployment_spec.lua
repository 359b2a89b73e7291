-- Deployments (README "Deployment", docs/design.md "Options") against a real
-- Prosody: the ACL across VirtualHosts, the module as a Component with
-- http_host, and endpoints behind http_external_url, each with its Matrix gateway
-- (what the gateway answers: matrix_spec, unit and server).
local up = require "unified_push";
local json = require "util.json";

-- POSTs to the endpoint and checks the push that arrives: 201, sent by `service`
-- to the client's full JID with the registration's hashes and the body.
-- host_header: what Prosody is told the request is for (default: the endpoint's host).
local function assert_delivers(f, client, service, endpoint, application, instance, host_header)
	local body = "push for " .. client.full_jid .. " via " .. service;
	local res, pushes = f:post(endpoint, body, { Host = host_header, ["Content-Type"] = "application/octet-stream" }, client);
	assert.equal(201, res.status, "POST to " .. endpoint);
	local push = pushes[1];
	assert(push, "no push IQ reached " .. client.full_jid);
	assert.same({ type = "set", from = service, to = client.full_jid },
		{ type = push.stanza.attr.type, from = push.from, to = push.to });
	assert.same({ application = application, instance = instance },
		{ application = push.application, instance = push.instance });
	assert.equal(body, push.body);
end

-- GET on the Matrix gateway of `host` answers its discovery document.
local function assert_matrix_discovery(f, host)
	local response = assert(up.matrix_notify(f.server, host, nil, "GET"));
	assert.equal(200, response.status);
	assert.same({ unifiedpush = { gateway = "matrix" } }, json.decode(response.body));
end

-- Registers and expects auth/forbidden.
local function assert_forbidden(client, service)
	local registration, reply = up.register(client, service, { application = up.hash("app"), instance = up.hash("instance") });
	assert(not registration and type(reply) == "table", "expected auth/forbidden, got " .. tostring(registration and registration.reply or reply));
	local error_type, condition = up.error_of(reply);
	assert.same({ type = "auth", condition = "forbidden" }, { type = error_type, condition = condition });
end

describe("deploying mod_unified_push", function()
	-- One server: b.test keeps the default ACL, a.test and c.test set their own
	-- (every ACL entry's matching, row by row: acl_spec and registeriq_spec).
	describe("on three VirtualHosts with their own ACLs", function()
		local users = {
			{ "alice", "a.test", "password" },
			{ "bob", "b.test", "password" },
			{ "carol", "b.test", "password" },
		};
		local f = up.fixture({ hosts = { "a.test", "b.test", "c.test" }, users = users, distributor = false,
			host_options = {
				["a.test"] = { unified_push_acl = { "bob@b.test" } },
				["c.test"] = { unified_push_acl = { "a.test", "b.test" } },
			} });
		local clients = {};

		setup(function()
			for _, user in ipairs(users) do
				local jid = user[1] .. "@" .. user[2];
				clients[jid] = f:connect(jid);
			end
		end);

		local cases = {
			-- The default: the host's own users.
			{ who = "bob@b.test", service = "b.test", allowed = true },
			{ who = "carol@b.test", service = "b.test", allowed = true },
			{ who = "alice@a.test", service = "b.test", allowed = false },
			-- unified_push_acl = { "bob@b.test" }: the list replaces the default, so
			-- a.test's own users are not in it.
			{ who = "bob@b.test", service = "a.test", allowed = true },
			{ who = "carol@b.test", service = "a.test", allowed = false },
			{ who = "alice@a.test", service = "a.test", allowed = false },
			-- unified_push_acl = { "a.test", "b.test" }: whole hosts.
			{ who = "alice@a.test", service = "c.test", allowed = true },
			{ who = "carol@b.test", service = "c.test", allowed = true },
		};
		for _, case in ipairs(cases) do
			local outcome = case.allowed and "lets " or "forbids ";
			it(outcome .. case.who .. " register with " .. case.service, function()
				local client = clients[case.who];
				if not case.allowed then
					assert_forbidden(client, case.service);
					return;
				end
				local application, instance = up.hash("acl-app-" .. case.who), up.hash("acl-instance-" .. case.service);
				local registered = up.must_register(client, case.service, { application = application, instance = instance });
				local url = assert(up.parse_endpoint(registered.endpoint), registered.endpoint);
				assert.equal(case.service, url.host);
				assert_delivers(f, client, case.service, registered.endpoint, application, instance);
			end);
		end

		it("leaves a clean log, with nothing at warn or above", function()
			f.server:assert_log_clean();
			assert.same({}, f.server:warnings());
		end);
	end);

	describe("as a component with http_host", function()
		local f = up.fixture({
			users = { { "alice", "example.test", "password" } },
			-- Only on the component: the VirtualHosts do not load the module.
			modules = {},
			components = { ["push.example.test"] = { module = "unified_push", options = {
				http_host = "example.test",
				modules_enabled = { "disco" }, -- components do not inherit it
			} } },
			service = "push.example.test",
		});
		-- A user of another VirtualHost is forbidden, and a push comes from the
		-- component: conformance_spec (component-acl, component); the Matrix case below.
		it("advertises the feature on the component", function()
			local features = assert(f.client:disco_info("push.example.test"));
			assert.truthy(table.concat(features, "\n"):find(up.NS, 1, true), "features: " .. table.concat(features, ", "));
		end);

		it("does not answer registrations on the VirtualHost itself", function()
			local _, reply = up.register(f.client, "example.test");
			local error_type, condition = up.error_of(reply);
			assert.same({ type = "cancel", condition = "service-unavailable" }, { type = error_type, condition = condition });
		end);

		it("registers a user of its parent domain with an endpoint on the HTTP host", function()
			local registered = f:register({ application = up.hash("component-app"), instance = up.hash("component-instance") });
			local url = assert(up.parse_endpoint(registered.endpoint), registered.endpoint);
			assert.same({ scheme = "http", host = "example.test", port = f.server.http_port },
				{ scheme = url.scheme, host = url.host, port = url.port });
			-- <first 8 characters of the token>?<the rest>
			assert.truthy(url.path:match("^/push/[^/]+$"), "path: " .. url.path);
			assert.is_true(#url.path_part <= 8 and url.query ~= nil and url.query ~= "", "endpoint: " .. registered.endpoint);
			assert.equal(up.token_of(registered.endpoint), url.path_part .. url.query_part);
		end);

		it("serves the Matrix gateway on the HTTP host of its endpoints, relaying with pushes from the component", function()
			local registered = f:register();
			local host = assert(up.parse_endpoint(registered.endpoint)).host;
			assert_matrix_discovery(f, host);
			local response, rejected, pushes, body = up.matrix_relay(f.server, host, f.client,
				{ registered.endpoint, "https://matrix.example.org/x" });
			assert.equal(200, response.status);
			assert.same({ "https://matrix.example.org/x" }, rejected);
			assert.same({ "push.example.test", body }, { pushes[1].from, pushes[1].body });
			assert.equal(1, #pushes);
		end);

		it("leaves a clean log, with nothing at warn or above", function()
			f.server:assert_log_clean();
			assert.same({}, f.server:warnings());
		end);
	end);

	describe("behind http_external_url", function()
		local f = up.fixture({ http_external_url = "https://push.example.test/" });

		it("issues endpoints under the external URL and serves them on the real port", function()
			local application, instance = up.hash("external-app"), up.hash("external-instance");
			local endpoint = f:register({ application = application, instance = instance }).endpoint;
			local prefix = "https://push.example.test/push/";
			assert.equal(prefix, endpoint:sub(1, #prefix), "endpoint: " .. endpoint);
			-- <first 8 characters of the token>?<the rest>
			assert.truthy(endpoint:sub(#prefix + 1):match("^[^/?#]+%?[^/?#]+$"), "endpoint: " .. endpoint);
			local url = assert(up.parse_endpoint(endpoint));
			assert.is_true(#url.path_part <= 8, "endpoint: " .. endpoint);
			assert.equal(up.token_of(endpoint), url.path_part .. url.query_part);
			-- The reverse proxy in front forwards the same path; Prosody routes HTTP
			-- by Host, and no http_default_host is set, so it must name the VirtualHost.
			assert_delivers(f, f.client, "example.test", endpoint, application, instance, "example.test");
		end);

		it("serves the Matrix gateway on the host the proxy forwards to, for endpoints under the external URL only", function()
			local registered = f:register();
			local prefix = "https://push.example.test/push/";
			local internal = ("http://example.test:%d/push/%s"):format(f.server.http_port, registered.endpoint:sub(#prefix + 1));
			assert_matrix_discovery(f, "example.test");
			local response, rejected, pushes, body = up.matrix_relay(f.server, "example.test", f.client,
				{ registered.endpoint, internal });
			assert.equal(200, response.status);
			assert.same({ internal }, rejected);
			assert.equal(1, #pushes);
			assert.equal(body, pushes[1].body);
		end);

		it("warns once that requests for the published host miss the endpoints unless the proxy sends Host", function()
			assert(f.server:wait_log("example.test:unified_push\tinfo\tmod_unified_push ", 10, true), "no load line");
			assert.same({
				"endpoints are published under https://push.example.test/push (http_external_url) but served for "
				.. 'HTTP host example.test: requests reaching Prosody with Host: push.example.test get "Unknown host" '
				.. "and answer 404. Set http_external_url in this host's section rather than globally, have your "
				.. 'reverse proxy send Host: example.test, or set http_default_host = "example.test"',
			}, (function()
				local messages = {};
				for i, line in ipairs(f.server:warnings()) do messages[i] = line:match("\twarn\t(.*)$") or line; end
				return messages;
			end)());
		end);

		it("leaves a clean log", function()
			f.server:assert_log_clean();
		end);
	end);

	-- Two instances on one HTTP host (README "Deployment"): Prosody loads hosts in
	-- no fixed order, so either may be the later one.
	describe("twice on one HTTP host", function()
		local f = up.fixture({
			hosts = { "example.test", "second.test" },
			users = { { "alice", "example.test", "password" }, { "bob", "second.test", "password" } },
			distributor = false,
			components = {
				-- The same paths as example.test's module: one of the two must not load.
				["push.example.test"] = { module = "unified_push", options = {
					http_host = "example.test", modules_enabled = { "disco" } } },
				-- Its own push path, but the Matrix gateway's is second.test's too.
				["push.second.test"] = { module = "unified_push", options = {
					http_host = "second.test", http_paths = { push = "/push-component" }, modules_enabled = { "disco" } } },
			},
		});

		-- The one of a and b the log says was refused (failing unless exactly one was), and the other.
		local function refused_of(a, b)
			-- The ports accept connections before every host has loaded its modules.
			assert(f.server:wait_log("Error initializing module 'unified_push'", 10, true), "no module refused");
			local function refused(host)
				return f.server:log():find("Error initializing module 'unified_push' on '" .. host .. "'", 1, true) ~= nil;
			end
			assert.is_true(refused(a) ~= refused(b), "expected exactly one of " .. a .. " and " .. b .. " refused");
			if refused(a) then return a, b; end
			return b, a;
		end

		it("refuses the later of a VirtualHost and a component with the same paths, saying what to change", function()
			local refused, serving = refused_of("example.test", "push.example.test");
			local errors = f.server:log_lines("error", refused .. ":unified_push");
			assert.equal(1, #errors);
			assert.truthy(errors[1]:find("mod_unified_push on " .. serving .. " already serves /push on HTTP host example.test, "
				.. "so its endpoints would answer 404 on " .. refused .. ": enable the module on only one of", 1, true), errors[1]);
			assert.falsy(f.server:log():find("stack traceback", 1, true), "a traceback in the log");
		end);

		it("keeps serving pushes through the one that loaded", function()
			local _, serving = refused_of("example.test", "push.example.test");
			local alice = f:connect("alice@example.test");
			local application, instance = up.hash("twice-app"), up.hash("twice-instance");
			local registered = up.must_register(alice, serving, { application = application, instance = instance });
			assert_delivers(f, alice, serving, registered.endpoint, application, instance);
		end);

		it("serves one Matrix gateway on the shared HTTP host and warns that the other has none", function()
			for _, host in ipairs({ "second.test", "push.second.test" }) do
				assert(f.server:wait_log(host .. ":unified_push\tinfo\tmod_unified_push ", 10, true), "no load line of " .. host);
			end
			local warnings = f.server:warnings();
			local gateway_warnings = up.lines_with(table.concat(warnings, "\n"), "the Matrix push gateway of ");
			assert.equal(1, #gateway_warnings, table.concat(warnings, "\n"));
			local serving, without = gateway_warnings[1]:match("the Matrix push gateway of (%S+) already serves "
				.. "/_matrix/push/v1/notify on HTTP host second%.test, so (%S+) serves none: set unified_push_matrix_gateway = false on ");
			local pair = { serving, without };
			table.sort(pair);
			assert.same({ "push.second.test", "second.test" }, pair);
			assert.truthy(f.server:wait_log(without .. ":unified_push\tinfo\tmod_unified_push [^\n]* no Matrix push gateway", 5));
			local res = up.matrix_notify(f.server, "second.test", nil, "GET");
			assert.equal(200, res.status);
			assert.equal('{"unifiedpush":{"gateway":"matrix"}}', res.body);
		end);
	end);
end);
