-- Deployments from SPEC §5 and §6 against a real Prosody: the ACL across
-- VirtualHosts, the module as a Component with http_host, and endpoints behind
-- http_external_url.
local prosody = require "prosody";
local xmpp = require "xmpp_client";
local reg = require "registration_util";
local base64 = require "util.encodings".base64;

local NS = reg.NS;

local function connect(server, jid)
	local user, host = jid:match("^([^@]+)@(.+)$");
	return xmpp.connect({ port = server.c2s_port, host = host, user = user, password = "password", resource = "phone" });
end

-- Registers, POSTs to the endpoint and checks the push that arrives: 201, sent by
-- `service` to the client's full JID with the registration's hashes and the body.
-- host_header: what Prosody is told the request is for (default: the endpoint's host).
local function assert_delivers(server, client, service, endpoint, application, instance, host_header)
	local body = "push for " .. client.full_jid .. " via " .. service;
	local before = #client.received;
	local res, err = reg.post(server, endpoint, body, host_header);
	assert(res, "POST to " .. tostring(endpoint) .. " failed: " .. tostring(err));
	assert.equal(201, res.status, "POST to " .. endpoint);
	local push = client.received[before + 1];
	assert(push, "no push IQ reached " .. client.full_jid);
	assert.same({ type = "set", from = service, to = client.full_jid },
		{ type = push.attr.type, from = push.attr.from, to = push.attr.to });
	local payload = assert(push:get_child("push", NS), "no <push/> in " .. tostring(push));
	assert.same({ application = application, instance = instance },
		{ application = payload.attr.application, instance = payload.attr.instance });
	assert.equal(body, base64.decode(payload:get_text()));
end

local function assert_forbidden(reply)
	local err = reg.error_of(reply);
	assert(err, "expected auth/forbidden, got " .. tostring(reply));
	assert.same({ type = "auth", condition = "forbidden" }, { type = err.type, condition = err.condition });
end

describe("deploying mod_unified_push", function()
	describe("on two VirtualHosts", function()
		local users = {
			{ "alice", "a.test", "password" },
			{ "bob", "b.test", "password" },
			{ "carol", "b.test", "password" },
		};

		-- Each setup: the options of a.test and who may register where.
		local setups = {
			{
				name = "with the default ACL (each host's own users)",
				cases = {
					{ who = "alice@a.test", service = "a.test", allowed = true },
					{ who = "bob@b.test", service = "a.test", allowed = false },
					{ who = "bob@b.test", service = "b.test", allowed = true },
					{ who = "alice@a.test", service = "b.test", allowed = false },
				},
			},
			{
				name = "with unified_push_acl = { \"bob@b.test\" } on a.test",
				a_options = { unified_push_acl = { "bob@b.test" } },
				cases = {
					{ who = "bob@b.test", service = "a.test", allowed = true },
					{ who = "carol@b.test", service = "a.test", allowed = false },
					-- The list replaces the default, so a.test's own users are not in it.
					{ who = "alice@a.test", service = "a.test", allowed = false },
					-- b.test keeps its default.
					{ who = "carol@b.test", service = "b.test", allowed = true },
				},
			},
			{
				name = "with unified_push_acl = { \"a.test\", \"b.test\" } on a.test",
				a_options = { unified_push_acl = { "a.test", "b.test" } },
				cases = {
					{ who = "alice@a.test", service = "a.test", allowed = true },
					{ who = "carol@b.test", service = "a.test", allowed = true },
					{ who = "alice@a.test", service = "b.test", allowed = false },
				},
			},
		};

		for _, setup_case in ipairs(setups) do
			describe(setup_case.name, function()
				local server;
				local clients = {};

				setup(function()
					server = prosody.start({
						hosts = { "a.test", "b.test" },
						users = users,
						modules = { "unified_push" },
						host_options = { ["a.test"] = setup_case.a_options },
					});
					for _, user in ipairs(users) do
						local jid = user[1] .. "@" .. user[2];
						clients[jid] = connect(server, jid);
					end
				end);

				teardown(function()
					for _, client in pairs(clients) do client:close(); end
					if server then server:cleanup(); end
				end);

				for _, case in ipairs(setup_case.cases) do
					local outcome = case.allowed and "lets " or "forbids ";
					it(outcome .. case.who .. " register with " .. case.service, function()
						local client = clients[case.who];
						local application, instance = reg.hash("acl-app-" .. case.who), reg.hash("acl-instance");
						local reply = reg.register(client, case.service, application, instance);
						if not case.allowed then
							assert_forbidden(reply);
							return;
						end
						local registered = assert(reg.registered(reply));
						local url = assert(reg.split_url(registered.attr.endpoint), registered.attr.endpoint);
						assert.equal(case.service, url.host);
						assert_delivers(server, client, case.service, registered.attr.endpoint, application, instance);
					end);
				end

				it("leaves a clean log", function()
					server:assert_log_clean();
				end);
			end);
		end
	end);

	describe("as a component with http_host", function()
		local server, alice, dave;

		setup(function()
			server = prosody.start({
				hosts = { "example.test", "other.test" },
				users = { { "alice", "example.test", "password" }, { "dave", "other.test", "password" } },
				-- Only on the component: the VirtualHosts do not load the module.
				components = { ["push.example.test"] = { module = "unified_push", options = {
					http_host = "example.test",
					modules_enabled = { "disco" }, -- components do not inherit it
				} } },
			});
			alice = connect(server, "alice@example.test");
			dave = connect(server, "dave@other.test");
		end);

		teardown(function()
			if alice then alice:close(); end
			if dave then dave:close(); end
			if server then server:cleanup(); end
		end);

		it("advertises the feature on the component", function()
			local features = assert(alice:disco_info("push.example.test"));
			assert.truthy(table.concat(features, "\n"):find(NS, 1, true), "features: " .. table.concat(features, ", "));
		end);

		it("does not answer registrations on the VirtualHost itself", function()
			local reply = reg.register(alice, "example.test", reg.hash("app"), reg.hash("instance"));
			local err = reg.error_of(reply);
			assert.same({ type = "cancel", condition = "service-unavailable" }, err and { type = err.type, condition = err.condition });
		end);

		it("registers a user of its parent domain with an endpoint on the HTTP host", function()
			local reply = reg.register(alice, "push.example.test", reg.hash("component-app"), reg.hash("component-instance"));
			local registered = assert(reg.registered(reply));
			local url = assert(reg.split_url(registered.attr.endpoint), registered.attr.endpoint);
			assert.same({ scheme = "http", host = "example.test", port = server.http_port },
				{ scheme = url.scheme, host = url.host, port = url.port });
			-- <first 8 characters of the token>?<the rest>
			assert.truthy(url.path:match("^/push/[^/]+$"), "path: " .. url.path);
			assert.is_true(#url.path_part <= 8 and url.query ~= nil and url.query ~= "", "endpoint: " .. registered.attr.endpoint);
			assert.equal(reg.token(registered.attr.endpoint), url.path_part .. url.query_part);
		end);

		it("relays a POST to the endpoint with pushes from the component", function()
			local application, instance = reg.hash("component-push-app"), reg.hash("component-push-instance");
			local registered = assert(reg.registered(reg.register(alice, "push.example.test", application, instance)));
			assert_delivers(server, alice, "push.example.test", registered.attr.endpoint, application, instance);
		end);

		it("forbids users of another VirtualHost by default", function()
			assert_forbidden(reg.register(dave, "push.example.test", reg.hash("app"), reg.hash("instance")));
		end);

		it("leaves a clean log", function()
			server:assert_log_clean();
		end);
	end);

	describe("behind http_external_url", function()
		local server, alice;

		setup(function()
			server = prosody.start({
				users = { { "alice", "example.test", "password" } },
				modules = { "unified_push" },
				http_external_url = "https://push.example.test/",
			});
			alice = connect(server, "alice@example.test");
		end);

		teardown(function()
			if alice then alice:close(); end
			if server then server:cleanup(); end
		end);

		it("issues endpoints under the external URL and serves them on the real port", function()
			local application, instance = reg.hash("external-app"), reg.hash("external-instance");
			local registered = assert(reg.registered(reg.register(alice, "example.test", application, instance)));
			local endpoint = registered.attr.endpoint;
			local prefix = "https://push.example.test/push/";
			assert.equal(prefix, endpoint:sub(1, #prefix), "endpoint: " .. endpoint);
			-- <first 8 characters of the token>?<the rest>
			assert.truthy(endpoint:sub(#prefix + 1):match("^[^/?#]+%?[^/?#]+$"), "endpoint: " .. endpoint);
			local url = assert(reg.split_url(endpoint));
			assert.is_true(#url.path_part <= 8, "endpoint: " .. endpoint);
			assert.equal(reg.token(endpoint), url.path_part .. url.query_part);
			-- The reverse proxy in front forwards the same path; Prosody routes HTTP
			-- by Host, and no http_default_host is set, so it must name the VirtualHost.
			assert_delivers(server, alice, "example.test", endpoint, application, instance, "example.test");
		end);

		it("leaves a clean log", function()
			server:assert_log_clean();
		end);
	end);
end);
