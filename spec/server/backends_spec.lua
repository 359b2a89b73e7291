-- Integration: every registration backend this Prosody supports (docs/design.md,
-- "Backends and tokens"), in a real server: pushes, tampered tokens, revocation
-- across restarts, the startup log, and the configuration errors that must stop
-- the module at load. Expiry and renewals on every backend: stable_endpoints_spec;
-- SQL storage on every backend: sql_spec.
local prosody = require "prosody";
local up = require "unified_push";
local base64 = require "util.encodings".base64;

local HOST = "example.test";
local RESOURCE = "phone";
local FULL_JID = "alice@" .. HOST .. "/" .. RESOURCE;
-- A user whose bare JID is 40 characters: its endpoints must fit in 255 (README, "Backends").
local LONG_NODE = ("l"):rep(40 - #"@" - #HOST);
local USERS = { { "alice", HOST, "password" }, { LONG_NODE, HOST, "password" } };
-- The base the 255-character bound is stated for.
local STATED_BASE = "http://localhost:5280/push/";
-- 44 characters, like `openssl rand -base64 32`.
local SECRET = "Qm9ndXMgc2VjcmV0IGZvciB0ZXN0cyBvbmx5ISEhIQ==";

local on_13 = prosody.major >= 13;
local DEFAULT_BACKEND = on_13 and "paseto" or "storage";

-- A body with bytes that are not text, so base64 round trips are really checked.
local BODY = "aes128gcm\0\1\2\255 payload";

-- What each backend's tokens look like (the endpoint's last path segment).
local function check_paseto_token(token)
	assert.truthy(token:match("^v3%.local%.[%w_%-]+$"), "not a PASETO v3.local token: " .. token);
	local sealed = up.base64url_decode(token:sub(#"v3.local." + 1));
	assert.truthy(sealed, "payload is not base64url");
	assert.falsy(sealed:find("alice@", 1, true), "the JID is readable in the token");
end

local function check_storage_token(token)
	assert.truthy(token:match("^[%w_%-]+$"), "not a plain id: " .. token);
	assert.truthy(#token <= 32, "longer than a random id: " .. token);
	-- A token may start with "_" (util.id's alphabet): its record is kept under the
	-- token's hash, never under the token, so it cannot meet the module's own "_"
	-- records (the restart case below checks where records are kept).
end

local function check_jwt_token(token)
	local header, payload = up.jwt_parts(token);
	assert.truthy(header, payload);
	assert.equal("HS256", header.alg);
	-- The documented privacy trade-off: the user's bare JID is readable by anyone with
	-- the URL. Nothing else of the registration is in it: the user's index entry holds that.
	assert.equal("alice@" .. HOST, payload.u);
	assert.is_nil(payload.sub);
	assert.is_nil(payload.application);
	assert.is_nil(payload.exp);
end

-- A token in the earlier format (the whole registration in its claims, as the
-- reference module and earlier versions issued them), sealed with the server's key.
local function seal_old_paseto(f, claims)
	local key = f.server:storage():load(HOST, "unified_push", "_private").paseto_v3_local_key;
	return (require "util.paseto".v3_local.init(key)(claims));
end
local function seal_old_jwt(_, claims)
	return require "util.jwt".sign(SECRET, claims);
end

local ALL_BACKENDS = {
	{ name = "paseto", needs_13 = true, options = {},
		token = "an encrypted PASETO v3.local token that does not reveal the JID", check_token = check_paseto_token,
		seal_old = seal_old_paseto },
	{ name = "storage", options = {},
		token = "a short random token that does not reveal the JID", check_token = check_storage_token },
	{ name = "jwt", options = { unified_push_secret = SECRET },
		token = "a JWT whose payload carries the user's bare JID and nothing else of the registration",
		check_token = check_jwt_token, seal_old = seal_old_jwt },
};

local BACKENDS, UNSUPPORTED, BY_NAME = {}, {}, {};
for _, backend in ipairs(ALL_BACKENDS) do
	BY_NAME[backend.name] = backend;
	if backend.needs_13 and not on_13 then
		UNSUPPORTED[#UNSUPPORTED + 1] = backend.name;
	else
		BACKENDS[#BACKENDS + 1] = backend;
	end
end

-- Global options for a backend, plus extra ones.
local function options_for(backend, extra)
	-- The stores are read: what the journal holds goes to them at once.
	local options = { unified_push_backend = backend.name, unified_push_journal_delay = 0 };
	for k, v in pairs(backend.options) do options[k] = v; end
	for k, v in pairs(extra or {}) do options[k] = v; end
	return options;
end

-- The backend of every load line of the module on our host, in order.
local LOAD_LINE = "example%.test:unified_push\tinfo\tmod_unified_push %S+ on example%.test: %w+ backend";
local function backends_logged(server)
	local found = {};
	for name in server:log():gmatch("example%.test:unified_push\tinfo\tmod_unified_push %S+ on example%.test: (%w+) backend") do
		found[#found + 1] = name;
	end
	return found;
end

-- The POST answered 201 and the client got exactly one push IQ carrying body.
local function assert_delivered(client, received_before, res, application, instance, body)
	assert.equal(201, res.status, "POST answered " .. res.status .. " " .. tostring(res.body));
	assert.is_true(client:wait_received(received_before + 1, 5), "no push IQ reached the client");
	assert.equal(received_before + 1, #client.received);
	local iq = client.received[received_before + 1];
	assert.same({ "set", HOST, client.full_jid }, { iq.attr.type, iq.attr.from, iq.attr.to });
	local push = iq:get_child("push", up.NS);
	assert.truthy(push, "not a push IQ: " .. tostring(iq));
	assert.same({ application, instance }, { push.attr.application, push.attr.instance });
	assert.equal(body, base64.decode(push:get_text()));
end

-- The POST answered 404 and no IQ reached the client, then or shortly after.
local function assert_refused(client, received_before, res)
	assert.equal(404, res.status, "POST answered " .. res.status);
	assert.is_false(up.iq_arrives(client, 0.5), "an IQ reached the client");
	assert.equal(received_before, #client.received);
end

describe("registration backends on Prosody " .. prosody.version, function()
	for seed, backend in ipairs(BACKENDS) do
		-- Registers fresh hashes numbered from the backend's seed; returns them and the registration.
		local function register(f, n)
			local application, instance = up.hash(seed * 10 + n), up.hash(seed * 10 + n + 1);
			return application, instance, f:register({ application = application, instance = instance });
		end

		describe("the " .. backend.name .. " backend", function()
			local f = up.fixture({ users = USERS, config = options_for(backend) });

			it("is named in the startup log", function()
				assert.truthy(f.server:wait_log(LOAD_LINE, 5), "no load line in the log");
				assert.same({ backend.name }, backends_logged(f.server));
			end);

			it("issues an endpoint that delivers a push to the client, answered 201", function()
				local application, instance, registration = register(f, 1);
				local before = #f.client.received;
				assert_delivered(f.client, before, f:push(registration.endpoint, BODY), application, instance, BODY);
			end);

			it("issues " .. backend.token, function()
				local application, instance, registration = register(f, 3);
				backend.check_token(up.token_of(registration.endpoint), registration.expires, application, instance);
			end);

			it("issues an endpoint of at most 255 characters for a 40-character bare JID, with base " .. STATED_BASE, function()
				local long = f:connect({ user = LONG_NODE });
				local registration = f:register(nil, long);
				local parts = up.parse_endpoint(registration.endpoint);
				local length = #STATED_BASE + #registration.endpoint - #(parts.origin .. parts.prefix);
				assert.is_true(length <= 255, ("%d characters: %s"):format(length, registration.endpoint));
				local before = #long.received;
				assert_delivered(long, before, f:push(registration.endpoint, BODY), registration.application,
					registration.instance, BODY);
			end);

			if backend.seal_old then
				it("still relays to a token in the earlier format (the reference module's, and ours before short tokens)", function()
					local application, instance, registration = register(f, 9);
					local old = backend.seal_old(f, { sub = FULL_JID, application = application, instance = instance,
						exp = os.time() + 3600 });
					local before = #f.client.received;
					assert_delivered(f.client, before, f:push(up.endpoint_for(registration.endpoint, old), BODY),
						application, instance, BODY);
				end);
			end

			-- Store and forward in depth: store_forward_spec and mobile_links_spec (the default backend).
			it("keeps a push for an offline distributor and delivers it when it comes back", function()
				local phone = f:connect({ resource = "away" });
				local application, instance = up.hash(seed * 10 + 13), up.hash(seed * 10 + 14);
				local registration = f:register({ application = application, instance = instance }, phone);
				phone:close();
				local res = f:push(registration.endpoint, BODY, { TTL = "600" });
				assert.truthy(tonumber(res.headers["ttl"]) > 0, "TTL: " .. tostring(res.headers["ttl"]));
				assert_delivered(f:connect({ resource = "away" }), 0, res, application, instance, BODY);
			end);

			it("answers 404 to its token with one character changed, and relays nothing", function()
				local application, instance, registration = register(f, 5);
				local tampered = up.tamper(registration.endpoint);
				assert.are_not.equal(registration.endpoint, tampered);
				local before = #f.client.received;
				assert_refused(f.client, before, f:push(tampered, BODY));
				-- The genuine token still works: the 404 came from the change.
				assert_delivered(f.client, before, f:push(registration.endpoint, BODY), application, instance, BODY);
			end);

			it("keeps an endpoint working across a server restart, and a revoked one refused", function()
				local application, instance, registration = register(f, 7);
				local _, _, gone = register(f, 11);
				local key = up.token_key(up.token_of(gone.endpoint));
				-- storage keeps a record under a hash of the token (never the token itself).
				local store = f.server:storage();
				assert.equal(backend.name == "storage", store:load(HOST, "unified_push", key) ~= nil);
				f.client:on_iq("item-not-found");
				assert.equal(404, f:push(gone.endpoint, BODY).status);
				f.client:on_iq(nil);
				assert.is_nil(store:load(HOST, "unified_push", key), "the revoked record is still stored");
				f:restart();
				-- The module says its backend once the server has started, after the ports open.
				assert.truthy(f.server:wait_log(LOAD_LINE .. ".-" .. LOAD_LINE, 5));
				assert.same({ backend.name, backend.name }, backends_logged(f.server), "the module did not load again");
				assert.equal(FULL_JID, f.client.full_jid);
				-- The revocation survived (jwt and paseto: the revocation list), without an IQ.
				assert_refused(f.client, 0, f:push(gone.endpoint, BODY));
				assert_delivered(f.client, 0, f:push(registration.endpoint, BODY), application, instance, BODY);
			end);

			it("leaves a clean log", function()
				f.server:assert_log_clean();
			end);
		end);
	end

	-- A JID long enough for that is over the internal storage's file name limit, so
	-- the base makes the endpoint too long here (README, "Endpoint length").
	describe("with an endpoint base so long that no endpoint would fit in 1000 bytes", function()
		local f = up.fixture({ users = USERS, http_external_url = "http://push.example.test/" .. ("p"):rep(960) .. "/" });

		it("refuses a registration with cancel/not-acceptable, saying why", function()
			local _, reply = up.register(f.client, HOST);
			local kind, condition, text = up.error_of(reply);
			assert.same({ "cancel", "not-acceptable" }, { kind, condition });
			assert.truthy(text and text:find("1000 bytes", 1, true), tostring(text));
		end);

		it("leaves a clean log", function()
			f.server:assert_log_clean();
		end);
	end);

	describe("without unified_push_backend", function()
		local f = up.fixture({ users = USERS });

		it("uses the " .. DEFAULT_BACKEND .. " backend and says so in the startup log", function()
			assert.truthy(f.server:wait_log(LOAD_LINE, 5), "no load line in the log");
			assert.same({ DEFAULT_BACKEND }, backends_logged(f.server));
			-- The tokens show the log tells the truth.
			local application, instance = up.hash(201), up.hash(202);
			local registration = f:register({ application = application, instance = instance });
			BY_NAME[DEFAULT_BACKEND].check_token(up.token_of(registration.endpoint), registration.expires, application, instance);
			assert_delivered(f.client, #f.client.received, f:push(registration.endpoint, BODY), application, instance, BODY);
		end);
	end);

	describe("a configuration error at load", function()
		local supported_names = {};
		for _, backend in ipairs(BACKENDS) do supported_names[#supported_names + 1] = backend.name; end

		local cases = {
			{ what = 'unified_push_backend = "redis"', options = { unified_push_backend = "redis" },
				mentions = { "unified_push_backend", '"redis"', table.unpack(supported_names) },
				not_offered = UNSUPPORTED },
			{ what = 'unified_push_backend = "paseto" on a Prosody without util.paseto', only_012 = true,
				options = { unified_push_backend = "paseto" },
				mentions = { "unified_push_backend", '"paseto"', "not supported", "storage, jwt" } },
			{ what = 'unified_push_backend = "jwt" without unified_push_secret', options = { unified_push_backend = "jwt" },
				mentions = { "unified_push_secret", "jwt" } },
			{ what = 'unified_push_registration_ttl = "1d" (a string)', options = { unified_push_registration_ttl = "1d" },
				mentions = { "unified_push_registration_ttl", '"1d"', "whole number" } },
		};

		local INIT_ERROR = "Error initializing module 'unified_push' on 'example%.test': not loaded on example%.test: the problem logged above";
		local OPTION_ERROR = "example%.test:unified_push\terror\t[^\n]*";

		for _, case in ipairs(cases) do
			if not (case.only_012 and on_13) then
				describe(case.what, function()
					local f = up.fixture({ users = USERS, config = case.options, distributor = false });

					it("stops the module with an error naming the option, on a line of its own", function()
						assert.truthy(f.server:wait_log(INIT_ERROR, 5), "no initialisation error for unified_push in the log");
						local line = assert(f.server:wait_log(OPTION_ERROR, 5));
						for _, text in ipairs(case.mentions) do
							assert.truthy(line:find(text, 1, true), "the error does not mention " .. text .. ": " .. line);
						end
						assert.same({}, backends_logged(f.server));
					end);

					if case.not_offered and #case.not_offered > 0 then
						it("does not offer a backend this Prosody lacks", function()
							local line = assert(f.server:wait_log(OPTION_ERROR, 5));
							for _, name in ipairs(case.not_offered) do
								assert.falsy(line:find(name, 1, true), "the error offers " .. name .. ": " .. line);
							end
						end);
					end

					it("leaves the rest of the server working: a client logs in, the host offers no UnifiedPush", function()
						local client = f:connect();
						assert.equal(FULL_JID, client.full_jid);
						local features = assert(client:disco_info(HOST));
						assert.truthy(table.concat(features, " "):find("disco#info", 1, true));
						assert.falsy(table.concat(features, " "):find(up.NS, 1, true), "the feature is advertised");
						local reply = client:request(up.register_iq(HOST, up.hash(1), up.hash(2)), 5);
						assert.truthy(reply, "no answer to <register/>");
						assert.equal("error", reply.attr.type);
					end);

					it("logs no other error, and no traceback", function()
						assert.falsy(f.server:log():find("stack traceback:", 1, true), "a traceback in the log");
						assert.equal(2, #f.server:log_lines("error"));
						f.server:assert_log_clean({ allow = { INIT_ERROR, OPTION_ERROR } });
					end);
				end);
			end
		end
	end);
end);
