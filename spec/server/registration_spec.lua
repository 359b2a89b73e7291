-- The registration IQ (docs/design.md, "Protocol") against a real Prosody with
-- real clients: what a valid registration answers, how malformed ones are
-- refused, renewal and expiry, for every backend the running Prosody supports.
local prosody = require "prosody";
local up = require "unified_push";
local st = require "util.stanza";
local base64 = require "util.encodings".base64;

-- Distinctive, so an expiry computed from the default (86400) or another
-- constant cannot pass by accident.
local TTL = 4321;

-- paseto needs util.paseto, which Prosody 13 has and 0.12 lacks (docs/design.md, "Backends and tokens").
local backends = { "storage", "jwt" };
if prosody.major >= 13 then table.insert(backends, 1, "paseto"); end

local function backend_options(backend, extra)
	local options = { unified_push_backend = backend };
	if backend == "jwt" then
		options.unified_push_secret = "registration-spec-secret-0123456789";
	end
	for k, v in pairs(extra or {}) do options[k] = v; end
	return options;
end

-- Standard base64 of n bytes (33 for a wrong size).
local function base64_of_bytes(n)
	return base64.encode(string.rep("\90", n));
end

local function registered_endpoint(client, service, application, instance)
	local registration = up.must_register(client, service, { application = application, instance = instance });
	return registration.endpoint, registration.expiration;
end

-- POSTs body to the endpoint; returns the HTTP status and the one push IQ the
-- client received for it (nil when none arrived).
local function push_through(f, client, endpoint, body)
	local response, pushes = f:post(endpoint, body, nil, client);
	assert(#pushes <= 1, #pushes .. " push IQs for one POST");
	return response.status, pushes[1];
end

local function assert_push(push, service, client, application, instance, body)
	assert(push, "the client received no push IQ");
	assert.equal("set", push.stanza.attr.type);
	assert.equal(service, push.from);
	assert.equal(client.full_jid, push.to);
	assert.same({ application = application, instance = instance },
		{ application = push.application, instance = push.instance });
	assert.equal(body, push.body);
end

-- The type and condition of an error reply (the test fails on any other reply).
local function error_condition(reply)
	assert.equal("error", reply.attr.type, "expected an error, got " .. tostring(reply));
	local error_type, condition, text = up.error_of(reply);
	return { type = error_type, condition = condition }, text;
end

describe("registering for push", function()
	for _, backend in ipairs(backends) do
		describe("with the " .. backend .. " backend", function()
			local f = up.fixture({ host_config = backend_options(backend, { unified_push_registration_ttl = TTL }) });

			it("uses the configured backend", function()
				assert.truthy(f.server:wait_log(up.load_line(nil, backend), 5));
			end);

			it("answers with an endpoint under the module's HTTP URL", function()
				local registered = f:register({ application = up.hash("app-1"), instance = up.hash("instance-1") });
				local base = "http://example.test:" .. f.server.http_port .. "/push/";
				local endpoint = registered.endpoint;
				assert.equal(base, endpoint:sub(1, #base), "endpoint: " .. tostring(endpoint));
				-- <first 8 characters of the token>?<the rest>, each URL-encoded
				-- (URL-safe: unreserved characters and escapes only).
				local path_part, query = endpoint:sub(#base + 1):match("^([^?]*)%?(.*)$");
				assert.truthy(path_part, "no query in endpoint: " .. endpoint);
				assert.truthy(path_part:match("^[%w%-._~%%]+$"), "path part: " .. path_part);
				assert.truthy(query:match("^[%w%-._~%%]+$"), "query: " .. query);
				local url = assert(up.parse_endpoint(endpoint));
				assert.equal(8, #url.path_part, "path part: " .. path_part);
				assert.equal(up.token_of(endpoint), url.path_part .. url.query_part);
				assert.is_true(#up.token_of(endpoint) > 8);
			end);

			it("answers with an XEP-0082 UTC expiration one TTL from now", function()
				local before = os.time();
				local registered = f:register({ application = up.hash("app-2"), instance = up.hash("instance-2") });
				local after = os.time();
				local expiration = registered.expiration;
				assert.truthy(tostring(expiration):match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"),
					"not YYYY-MM-DDThh:mm:ssZ: " .. tostring(expiration));
				local expires = assert(up.parse_utc(expiration));
				-- now (UTC, seconds since the epoch) + TTL, with a second of slack either side.
				assert.is_true(expires >= before + TTL - 1 and expires <= after + TTL + 1,
					string.format("expiration %s is %d s from now, expected about %d",
						expiration, expires - before, TTL));
			end);

			it("relays a POST to the endpoint to the registering client", function()
				local application, instance = up.hash("app-3"), up.hash("instance-3");
				local endpoint = registered_endpoint(f.client, "example.test", application, instance);
				local body = "\0\1binary\255\254 payload\r\n";
				local status, push = push_through(f, f.client, endpoint, body);
				assert.equal(201, status);
				assert_push(push, "example.test", f.client, application, instance, body);
			end);

			it("keeps the earlier endpoint working after a renewal", function()
				local application, instance = up.hash("app-4"), up.hash("instance-4");
				local first, first_expiration = registered_endpoint(f.client, "example.test", application, instance);
				local renewed, renewed_expiration = registered_endpoint(f.client, "example.test", application, instance);
				assert.is_true(assert(up.parse_utc(renewed_expiration)) >= assert(up.parse_utc(first_expiration)),
					"renewal moved the expiration back: " .. first_expiration .. " -> " .. renewed_expiration);

				for _, case in ipairs({
					{ name = "renewed", endpoint = renewed, body = "after renewal, new endpoint" },
					{ name = "first", endpoint = first, body = "after renewal, old endpoint" },
				}) do
					local status, push = push_through(f, f.client, case.endpoint, case.body);
					assert.equal(201, status, "POST to the " .. case.name .. " endpoint");
					assert_push(push, "example.test", f.client, application, instance, case.body);
				end
			end);

			it("leaves a clean log", function()
				f.server:assert_log_clean();
			end);
		end);
	end

	describe("with malformed requests", function()
		local f = up.fixture();

		-- One refusal per attribute through a real server: every malformed value is
		-- registeriq_spec's and protocol_spec's. value = nil leaves the attribute
		-- out; problem: a Lua pattern the error text must contain besides the name.
		local bad_values = {
			{ attribute = "application", what = "missing", value = nil, problem = "missing" },
			{ attribute = "instance", what = "33 bytes", value = base64_of_bytes(33), problem = "33" },
		};

		for _, case in ipairs(bad_values) do
			local attribute = case.attribute;
			it("refuses " .. attribute .. " " .. case.what .. " with modify/bad-request", function()
				local attrs = { application = up.hash("good-app"), instance = up.hash("good-instance") };
				attrs[attribute] = case.value;
				local reply = assert(f.client:request(up.register_iq("example.test", attrs.application, attrs.instance), 5));
				local err, text = error_condition(reply);
				assert.same({ type = "modify", condition = "bad-request" }, err);
				text = tostring(text);
				assert.truthy(text:find(attribute, 1, true), "text does not name " .. attribute .. ": " .. text);
				assert.truthy(text:find(case.problem), "text does not say the value is " .. case.what .. ": " .. text);
			end);
		end

		it("refuses a register sent with type get with modify/bad-request", function()
			local iq = up.register_iq("example.test", up.hash("a"), up.hash("i"), "get");
			local err = error_condition(assert(f.client:request(iq, 5)));
			assert.same({ type = "modify", condition = "bad-request" }, err);
		end);

		it("answers another element in the namespace with service-unavailable", function()
			local iq = st.iq({ type = "set", to = "example.test", id = "unregister-1" })
				:tag("unregister", { xmlns = up.NS, application = up.hash("a"), instance = up.hash("i") });
			local err = error_condition(assert(f.client:request(iq, 5)));
			assert.same({ type = "cancel", condition = "service-unavailable" }, err);
		end);

		it("still registers and delivers after refusing all of these", function()
			local application, instance = up.hash("after-bad-app"), up.hash("after-bad-instance");
			local endpoint = registered_endpoint(f.client, "example.test", application, instance);
			local status, push = push_through(f, f.client, endpoint, "still working");
			assert.equal(201, status);
			assert_push(push, "example.test", f.client, application, instance, "still working");
		end);

		it("leaves a clean log", function()
			f.server:assert_log_clean();
		end);
	end);

	describe("when registrations expire", function()
		-- One VirtualHost per backend, all with a TTL of 2 s, so a single wait
		-- covers every backend's expiry check.
		local hosts, host_options, users = {}, {}, {};
		for _, backend in ipairs(backends) do
			local host = backend .. ".test";
			hosts[#hosts + 1] = host;
			host_options[host] = backend_options(backend, { unified_push_registration_ttl = 2 });
			users[#users + 1] = { "alice", host, "password" };
		end
		local f = up.fixture({ hosts = hosts, users = users, host_options = host_options, distributor = false });
		local clients = {};

		setup(function()
			for _, host in ipairs(hosts) do clients[host] = f:connect({ host = host }); end
		end);

		it("delivers until the expiration, then answers 404 without pushing", function()
			local issued, latest = {}, 0;
			for _, host in ipairs(hosts) do
				local application, instance = up.hash("expiring-app-" .. host), up.hash("expiring-instance");
				local endpoint, expiration = registered_endpoint(clients[host], host, application, instance);
				issued[host] = endpoint;
				latest = math.max(latest, (assert(up.parse_utc(expiration))));
				local status, push = push_through(f, clients[host], endpoint, "before expiry");
				assert.equal(201, status, host .. " before expiry");
				assert_push(push, host, clients[host], application, instance, "before expiry");
			end

			-- Wait (bounded) for the clock to pass the latest expiration.
			assert.is_true(up.wait_past(latest, 10));

			for _, host in ipairs(hosts) do
				local status, push = push_through(f, clients[host], issued[host], "after expiry");
				assert.equal(404, status, host .. " after expiry");
				assert.is_nil(push, host .. " pushed after expiry");
			end
		end);

		it("leaves a clean log", function()
			f.server:assert_log_clean();
		end);
	end);
end);
