-- Privacy in logs (SPEC §7 "logs that never contain payloads or whole tokens",
-- STYLE rule 10; issue 7 item 6): a full run at debug level on every backend
-- this Prosody supports (registration and renewal, a push with a distinctive
-- payload, the error answers, a distributor that refuses, leaves or stays
-- silent, revocation, expiry), then every line Prosody wrote is scanned.
local prosody = require "prosody";
local xmpp = require "xmpp_client";
local up = require "unified_push";
local loop = require "loop";
local fu = require "faults_util";
local base64 = require "util.encodings".base64;
local hex = require "util.hex";
local random = require "util.random";
local datetime = require "util.datetime";

local HOST = "example.test";
local USERS = { { "alice", HOST, "password" } };
-- 44 characters, like `openssl rand -base64 32`.
local SECRET = "Qm9ndXMgc2VjcmV0IGZvciB0ZXN0cyBvbmx5ISEhIQ==";
local TTL = 2;

local on_13 = prosody.major >= 13;

local BACKENDS = {
	{ name = "storage" },
	{ name = "jwt", options = { unified_push_secret = SECRET } },
	{ name = "paseto", needs_13 = true },
};

local function connect(server, resource, policy)
	local client = xmpp.connect({ port = server.c2s_port, host = HOST, user = "alice", password = "password",
		resource = resource, timeout = 10 });
	if policy then client:on_iq(policy); end
	return client;
end

-- An IQ policy: pushes get `answer` (nil: none), other sets a result.
local function pushes_answered(answer)
	return function(stanza)
		if stanza:get_child("push", up.NS) then return answer; end
		if stanza.attr.type == "set" then return "result"; end
		return "service-unavailable";
	end;
end

-- The token with one character near the middle changed (same alphabet, same length).
local function tampered(token)
	local i = #token // 2;
	local old = token:sub(i, i);
	return token:sub(1, i - 1) .. (old == "A" and "B" or "A") .. token:sub(i + 1);
end

for _, backend in ipairs(BACKENDS) do
	if not backend.needs_13 or on_13 then
		describe("the debug log of a full run on the " .. backend.name .. " backend", function()
			local server;
			-- Every endpoint issued during the run, and the distinctive payload.
			local endpoints = {};
			local PAYLOAD = "privacy-canary-" .. hex.to(random.bytes(12));

			setup(function()
				local config = { unified_push_backend = backend.name, unified_push_registration_ttl = TTL,
					unified_push_iq_timeout = 1 };
				for k, v in pairs(backend.options or {}) do config[k] = v; end
				server = prosody.start({ users = USERS, modules = { "unified_push" }, config = config });
			end);

			teardown(function()
				if server then server:cleanup(); end
				loop.clear();
			end);

			local function register(client, options)
				local reg, err = up.register(client, HOST, options);
				assert.truthy(reg, "registration failed: " .. tostring(err));
				endpoints[#endpoints + 1] = reg.endpoint;
				return reg;
			end

			local function push(endpoint, body, headers, method)
				local res, err = up.push(server, endpoint, body, headers, method);
				assert.truthy(res, "no HTTP answer: " .. tostring(err));
				return res;
			end

			it("runs registration, pushes, errors, revocation and expiry", function()
				local phone = connect(server, "phone");
				local reg = register(phone);
				-- Renewals: same app, new endpoints.
				register(phone, { application = reg.application, instance = reg.instance });
				register(phone, { application = reg.application, instance = reg.instance });

				-- The payload reaches the distributor.
				assert.equal(201, push(reg.endpoint, PAYLOAD).status);
				local pushes = up.pushes(phone);
				assert.equal(PAYLOAD, pushes[#pushes].body);

				-- Answers that stop before a push IQ.
				assert.equal(200, push(reg.endpoint, nil, nil, "GET").status);
				assert.equal(405, push(reg.endpoint, PAYLOAD, nil, "PUT").status);
				assert.equal(400, push(reg.endpoint, "").status);
				assert.equal(413, push(reg.endpoint, PAYLOAD:rep(4096 // #PAYLOAD + 1)).status);
				assert.equal(400, push(reg.endpoint, PAYLOAD, { TTL = "soon" }).status);
				assert.equal(400, push(reg.endpoint, PAYLOAD, { Urgency = "whenever" }).status);
				assert.equal(404, push(up.endpoint_for(reg.endpoint, tampered(up.token_of(reg.endpoint))), PAYLOAD).status);

				-- Registrations refused.
				local _, condition = up.error_of(phone:request(up.register_iq(HOST, "not base64!", up.hash()), 5));
				assert.equal("bad-request", condition);
				_, condition = up.error_of(phone:request(up.register_iq(HOST, up.hash(), up.hash(), "get"), 5));
				assert.equal("bad-request", condition);

				-- A distributor that answers with an error, one that stays silent, one that is gone.
				local busy = connect(server, "busy", pushes_answered("service-unavailable"));
				assert.equal(503, push(register(busy).endpoint, PAYLOAD).status);
				local silent = connect(server, "silent", pushes_answered(nil));
				assert.equal(503, push(register(silent).endpoint, PAYLOAD).status);
				local gone = connect(server, "gone");
				local gone_endpoint = register(gone).endpoint;
				gone:close();
				assert.equal(503, push(gone_endpoint, PAYLOAD, { TTL = "0" }).status);
				-- Kept for later (store and forward), then cancelled.
				local kept = push(gone_endpoint, PAYLOAD);
				assert.equal(201, kept.status);
				assert.equal(204, push(assert(kept.headers["location"]), nil, nil, "DELETE").status);

				-- Revocation: the app was uninstalled.
				local uninstalled = connect(server, "uninstalled", pushes_answered("item-not-found"));
				local revoked = register(uninstalled).endpoint;
				assert.equal(404, push(revoked, PAYLOAD).status);
				assert.equal(404, push(revoked, PAYLOAD).status);

				-- Expiry.
				local expiring = register(phone);
				local expires = assert(datetime.parse(expiring.expiration));
				assert.is_true(loop.run_until(function() return os.time() > expires; end, TTL + 3), "the clock did not pass the expiry");
				assert.equal(404, push(expiring.endpoint, PAYLOAD).status);

				for _, client in ipairs({ phone, busy, silent, uninstalled }) do client:close(); end
				server:stop();
			end);

			-- Everything Prosody wrote: the debug log and stdout/stderr.
			local function everything()
				return server:log() .. "\n" .. server:output();
			end

			it("was logged at debug level, request paths included", function()
				local text = everything();
				assert.truthy(text:find("\tdebug\tRegistered a push endpoint", 1, true), "no debug line of the module");
				-- Prosody logs each request's path, with the part of the token the endpoint puts there.
				local path_part = up.parse_endpoint(endpoints[1]).path_part;
				assert.truthy(#fu.lines_with(text, "/push/" .. path_part) > 0, "request paths are not in the log");
			end);

			it("has no line with a whole token, nor with the part of a token in an endpoint's query", function()
				assert.truthy(#endpoints >= 8, "too few endpoints issued");
				local text = everything();
				local found = {};
				for _, endpoint in ipairs(endpoints) do
					local parts = up.parse_endpoint(endpoint);
					for _, needle in ipairs({ parts.token, parts.query_part }) do
						for _, line in ipairs(fu.lines_with(text, needle)) do found[#found + 1] = line; end
					end
				end
				assert.equal("", table.concat(found, "\n"), "log lines revealing a token");
			end);

			it("has no line with the payload, plain or base64-encoded", function()
				local text = everything();
				local found = {};
				for _, needle in ipairs({ PAYLOAD, base64.encode(PAYLOAD), (base64.encode(PAYLOAD):gsub("=+$", "")) }) do
					for _, line in ipairs(fu.lines_with(text, needle)) do found[#found + 1] = line; end
				end
				assert.equal("", table.concat(found, "\n"), "log lines with the payload");
			end);

			it("has no error in the log", function()
				server:assert_log_clean();
			end);
		end);
	end
end
