-- Privacy in logs (docs/design.md, "What is stored where": logs never contain
-- payloads or whole tokens): a full run at debug level on every backend
-- this Prosody supports (registration and renewal, a push with a distinctive
-- payload, the error answers, a distributor that refuses, leaves or stays
-- silent, revocation, expiry), then every line Prosody wrote is scanned.
local prosody = require "prosody";
local up = require "unified_push";
local base64 = require "util.encodings".base64;
local hex = require "util.hex";
local random = require "util.random";

local HOST = "example.test";
local USERS = { { "alice", HOST, "password" } };
-- 44 characters, like `openssl rand -base64 32`.
local SECRET = "Qm9ndXMgc2VjcmV0IGZvciB0ZXN0cyBvbmx5ISEhIQ==";
local TTL = 2;

local on_13 = prosody.major >= 13;
local lfs = require "lfs";

local BACKENDS = {
	{ name = "storage" },
	{ name = "jwt", options = { unified_push_secret = SECRET } },
	{ name = "paseto", needs_13 = true },
};

for _, backend in ipairs(BACKENDS) do
	if not backend.needs_13 or on_13 then
		describe("the debug log of a full run on the " .. backend.name .. " backend", function()
			-- Every endpoint issued during the run, and the distinctive payload.
			local endpoints = {};
			local PAYLOAD = "privacy-canary-" .. hex.to(random.bytes(12));
			local config = { unified_push_backend = backend.name, unified_push_registration_ttl = TTL,
				unified_push_iq_timeout = 1 };
			for k, v in pairs(backend.options or {}) do config[k] = v; end
			local f = up.fixture({ users = USERS, config = config, distributor = false });

			local function register(client, options)
				local reg = f:register(options, client);
				endpoints[#endpoints + 1] = reg.endpoint;
				return reg;
			end

			local function push(endpoint, body, headers, method)
				return f:push(endpoint, body, headers, method);
			end

			it("runs registration, pushes, errors, revocation and expiry", function()
				local phone = f:connect({ resource = "phone" });
				local reg = register(phone);
				-- Renewals: same app, new endpoints.
				register(phone, { application = reg.application, instance = reg.instance });
				register(phone, { application = reg.application, instance = reg.instance });

				-- The payload reaches the distributor.
				assert.equal(201, push(reg.endpoint, PAYLOAD).status);
				local pushes = up.pushes(phone);
				assert.equal(PAYLOAD, pushes[#pushes].body);
				-- An empty push too (RFC 8030 allows one).
				assert.equal(201, push(reg.endpoint, "").status);

				-- Answers that stop before a push IQ.
				assert.equal(200, push(reg.endpoint, nil, nil, "GET").status);
				assert.equal(405, push(reg.endpoint, PAYLOAD, nil, "PUT").status);
				assert.equal(413, push(reg.endpoint, PAYLOAD:rep(4096 // #PAYLOAD + 1)).status);
				assert.equal(400, push(reg.endpoint, PAYLOAD, { TTL = "soon" }).status);
				assert.equal(400, push(reg.endpoint, PAYLOAD, { Urgency = "whenever" }).status);
				assert.equal(404, push(up.tamper(reg.endpoint), PAYLOAD).status);

				-- Registrations refused.
				local _, condition = up.error_of(phone:request(up.register_iq(HOST, "not base64!", up.hash()), 5));
				assert.equal("bad-request", condition);
				_, condition = up.error_of(phone:request(up.register_iq(HOST, up.hash(), up.hash(), "get"), 5));
				assert.equal("bad-request", condition);

				-- A distributor that answers with an error, one that stays silent, one that is gone.
				local busy = f:connect({ resource = "busy", policy = up.answering_pushes("service-unavailable") });
				assert.equal(503, push(register(busy).endpoint, PAYLOAD).status);
				local silent = f:connect({ resource = "silent", policy = up.answering_pushes(nil) });
				assert.equal(503, push(register(silent).endpoint, PAYLOAD, { TTL = "0" }).status);
				-- One that can be kept: kept after the answer window, answered late.
				assert.equal(201, push(register(silent).endpoint, PAYLOAD).status);
				local gone = f:connect({ resource = "gone" });
				local gone_endpoint = register(gone).endpoint;
				gone:close();
				local expired = push(gone_endpoint, PAYLOAD, { TTL = "0" });
				assert.equal(201, expired.status);
				assert.equal("0", expired.headers["ttl"]);
				-- Kept for later (store and forward), then cancelled.
				local kept = push(gone_endpoint, PAYLOAD);
				assert.equal(201, kept.status);
				assert.equal(204, push(assert(kept.headers["location"]), nil, nil, "DELETE").status);

				-- Revocation: the app was uninstalled.
				local uninstalled = f:connect({ resource = "uninstalled", policy = up.answering_pushes("item-not-found") });
				local revoked = register(uninstalled).endpoint;
				assert.equal(404, push(revoked, PAYLOAD).status);
				assert.equal(404, push(revoked, PAYLOAD).status);

				-- Expiry.
				local expiring = register(phone);
				assert.is_true(up.wait_past(expiring.expires, TTL + 3), "the clock did not pass the expiry");
				assert.equal(404, push(expiring.endpoint, PAYLOAD).status);

				for _, client in ipairs({ phone, busy, silent, uninstalled }) do client:close(); end
				f.server:stop();
			end);

			-- Everything Prosody wrote: the debug log and stdout/stderr.
			local function everything()
				return f.server:log() .. "\n" .. f.server:output();
			end

			it("was logged at debug level, request paths included", function()
				local text = everything();
				assert.truthy(text:find("\tdebug\tRegistered a push endpoint", 1, true), "no debug line of the module");
				-- Prosody logs each request's path, with the part of the token the endpoint puts there.
				local path_part = up.parse_endpoint(endpoints[1]).path_part;
				assert.truthy(#up.lines_with(text, "/push/" .. path_part) > 0, "request paths are not in the log");
			end);

			it("has no line with a whole token, nor with the part of a token in an endpoint's query", function()
				assert.truthy(#endpoints >= 8, "too few endpoints issued");
				local text = everything();
				local found = {};
				for _, endpoint in ipairs(endpoints) do
					local parts = up.parse_endpoint(endpoint);
					for _, needle in ipairs({ parts.token, parts.query_part }) do
						for _, line in ipairs(up.lines_with(text, needle)) do found[#found + 1] = line; end
					end
				end
				assert.equal("", table.concat(found, "\n"), "log lines revealing a token");
			end);

			it("has no line with the payload, plain or base64-encoded", function()
				local text = everything();
				local found = {};
				for _, needle in ipairs({ PAYLOAD, base64.encode(PAYLOAD), (base64.encode(PAYLOAD):gsub("=+$", "")) }) do
					for _, line in ipairs(up.lines_with(text, needle)) do found[#found + 1] = line; end
				end
				assert.equal("", table.concat(found, "\n"), "log lines with the payload");
			end);

			it("has no error in the log", function()
				f.server:assert_log_clean();
			end);
		end);
	end
end

-- The reference module keeps its storage records under the token itself, and
-- storage drivers name the key in their errors: a failed lookup of such a token
-- must not bring the token into the log (spec/fixtures/mod_storage_broken.lua
-- fails every key with a capital letter, naming it, as a driver would).
describe("the log of a push to a reference-module token whose record cannot be read", function()
	local TOKEN = "REFERENCEmoduleTOKEN_0123456789-"; -- 32 characters of base64url, like util.id.long's
	local f = up.fixture({ users = USERS,
		plugin_paths = { lfs.currentdir() .. "/spec/fixtures" },
		storage = { unified_push = "broken", unified_push_users = "broken" },
		config = { unified_push_backend = "storage", storage_broken_keys = "%u" } });

	it("has a warning, and no line with the token", function()
		local reg = f:register();
		local mark = f.server:log_mark();
		-- Split between path and query as this module issues endpoints (Prosody itself
		-- logs request paths, so a whole token in the path would be its line, not ours).
		local response = f:push(up.endpoint_for(reg.endpoint, TOKEN, "split"), "hello");
		assert.equal(500, response.status);
		local warnings = f.server:log_lines("warn", HOST .. ":unified_push", mark);
		assert.equal(1, #warnings, f.server:log_since(mark));
		assert.truthy(warnings[1]:find("reference module", 1, true), warnings[1]);
		local text = f.server:log() .. "\n" .. f.server:output();
		assert.same({}, up.lines_with(text, TOKEN));
		assert.same({}, up.lines_with(text, TOKEN:sub(9)));
	end);
end);
