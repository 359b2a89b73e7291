-- Revocation (docs/design.md, "Protocol" and "Revocation"): a distributor that
-- answers item-not-found or feature-not-implemented has lost the app, so the
-- endpoint is revoked: this POST and every later one get 404, and later ones
-- never reach the distributor. Every backend this Prosody supports, in a real
-- server; for the stateless ones (jwt, paseto) the revocation survives a
-- restart, for storage the record is deleted.
local prosody = require "prosody";
local up = require "unified_push";

local HOST = "example.test";
local RESOURCE = "phone";
-- jwt needs a secret; 44 characters, like `openssl rand -base64 32`.
local SECRET = "cmV2b2NhdGlvbiBzcGVjIHNlY3JldCwgdGVzdHMgb25seQ==";

local BACKENDS = { "storage", "jwt" };
if prosody.major >= 13 then BACKENDS[#BACKENDS + 1] = "paseto"; end

-- An answer that means "the app is gone for good", and one that means "not now":
-- which conditions are which is pending_spec's (every condition, row by row);
-- here each kind once per backend.
local GONE = { "item-not-found" };
-- The endpoint must stay.
local TEMPORARY = { "service-unavailable" };

for _, backend in ipairs(BACKENDS) do
	describe("the " .. backend .. " backend", function()
		-- Every test starts with a distributor (f.client) that acknowledges pushes.
		local f = up.fixture({
			config = { unified_push_backend = backend, unified_push_secret = SECRET, unified_push_iq_timeout = 5 },
		});

		-- POSTs to the endpoint; returns the response and how many push IQs the
		-- distributor got for it (final: f:post waits for a ping's answer).
		local function post(endpoint, body)
			local response, pushes = f:post(endpoint, body);
			return response, #pushes;
		end

		-- Two endpoints of the same user; the first is refused with `condition`.
		-- Returns both and the answer to the refused push.
		local function revoke(condition)
			local gone, other = f:register(), f:register();
			f.client:on_iq(condition);
			local response, pushes = post(gone.endpoint);
			f.client:on_iq(nil);
			assert.equal(1, pushes, "the distributor was not asked");
			return gone, other, response;
		end

		for _, condition in ipairs(GONE) do
			describe("when the distributor answers " .. condition, function()
				it("answers the push 404", function()
					local _, _, response = revoke(condition);
					assert.equal(404, response.status);
				end);

				it("answers later POSTs to that endpoint 404 without sending an IQ", function()
					local gone = revoke(condition);
					for attempt = 1, 2 do
						local response, pushes = post(gone.endpoint, "again " .. attempt);
						assert.equal(404, response.status);
						assert.equal(0, pushes, "the revoked endpoint still reaches the distributor");
					end
				end);

				it("keeps the user's other endpoints working", function()
					local _, other = revoke(condition);
					local response, pushes = post(other.endpoint);
					assert.equal(201, response.status);
					assert.equal(1, pushes);
				end);
			end);
		end

		for _, condition in ipairs(TEMPORARY) do
			it("does not revoke when the distributor answers " .. condition, function()
				local registration = f:register();
				f.client:on_iq(condition);
				local response, pushes = post(registration.endpoint);
				assert.equal(503, response.status);
				assert.equal(1, pushes);
				f.client:on_iq(nil);
				response, pushes = post(registration.endpoint);
				assert.equal(201, response.status, "a temporary error revoked the endpoint");
				assert.equal(1, pushes);
			end);
		end

		if backend == "storage" then
			it("deletes the revoked endpoint's record from the store", function()
				local registration = f:register();
				-- Records are kept under a hash of the token (never the token itself).
				local key = up.token_key(up.token_of(registration.endpoint));
				local store = f.server:storage();
				assert.is_table(store:load(HOST, "unified_push", key),
					"no record for the new endpoint under the expected key");
				f.client:on_iq("item-not-found");
				local response = post(registration.endpoint);
				assert.equal(404, response.status);
				assert.is_nil(store:load(HOST, "unified_push", key), "the record is still stored");
			end);
		end

		-- An app that unregisters and registers again (same application and
		-- instance) while an app server still pushes to the old endpoint: the
		-- push revokes the old endpoint, the new registration must still work,
		-- even when all of it happens within one second (expiry is in seconds).
		it("gives an app that registers again after a revocation a working endpoint", function()
			assert.is_true(up.next_second(), "the clock stood still");
			local old = f:register();
			f.client:on_iq("item-not-found");
			local response = post(old.endpoint);
			f.client:on_iq(nil);
			assert.equal(404, response.status);
			local new = f:register({ application = old.application, instance = old.instance });
			assert.are_not.equal(old.endpoint, new.endpoint, "the new endpoint is the revoked one");
			local pushes;
			response, pushes = post(new.endpoint);
			assert.equal(201, response.status);
			assert.equal(1, pushes);
		end);

		it("still refuses a revoked endpoint after a restart, without sending an IQ", function()
			local gone, other = revoke("item-not-found");
			f:restart();
			assert.equal("alice@" .. HOST .. "/" .. RESOURCE, f.client.full_jid);
			local response, pushes = post(gone.endpoint);
			assert.equal(404, response.status, "the revocation was lost in the restart");
			assert.equal(0, pushes);
			-- The restart did not make every endpoint 404.
			response, pushes = post(other.endpoint);
			assert.equal(201, response.status);
			assert.equal(1, pushes);
		end);

		it("leaves a clean log", function()
			f.server:assert_log_clean();
		end);
	end);
end
