-- Revocation (SPEC §2 "Push delivery", §7, issue 7 item 1): a distributor that
-- answers item-not-found or feature-not-implemented has lost the app, so the
-- endpoint is revoked: this POST and every later one get 404, and later ones
-- never reach the distributor. Every backend this Prosody supports, in a real
-- server; for the stateless ones (jwt, paseto) the revocation survives a
-- restart, for storage the record is deleted.
local prosody = require "prosody";
local xmpp = require "xmpp_client";
local up = require "unified_push";
local datamanager = require "util.datamanager";
local sha256 = require "util.hashes".sha256;
local loop = require "loop";

local HOST = "example.test";
local RESOURCE = "phone";
-- jwt needs a secret; 44 characters, like `openssl rand -base64 32`.
local SECRET = "cmV2b2NhdGlvbiBzcGVjIHNlY3JldCwgdGVzdHMgb25seQ==";

local BACKENDS = { "storage", "jwt" };
if prosody.major >= 13 then BACKENDS[#BACKENDS + 1] = "paseto"; end

-- The answers that mean "the app is gone for good".
local GONE = { "item-not-found", "feature-not-implemented" };
-- Answers that mean "not now": the endpoint must stay.
local TEMPORARY = { "service-unavailable", "recipient-unavailable" };

local function connect(server)
	return xmpp.connect({ port = server.c2s_port, host = HOST, user = "alice", password = "password",
		resource = RESOURCE, timeout = 10 });
end

-- Push IQs the client received after its first `before` IQs.
local function pushes_since(client, before)
	local count = 0;
	for i = before + 1, #client.received do
		if client.received[i]:get_child("push", up.NS) then count = count + 1; end
	end
	return count;
end

for _, backend in ipairs(BACKENDS) do
	describe("the " .. backend .. " backend", function()
		local server, phone;

		setup(function()
			server = prosody.start({
				hosts = { HOST },
				users = { { "alice", HOST, "password" } },
				modules = { "unified_push" },
				config = { unified_push_backend = backend, unified_push_secret = SECRET, unified_push_iq_timeout = 5 },
			});
			phone = connect(server);
		end);

		teardown(function()
			if phone then phone:close(); end
			if server then server:cleanup(); end
		end);

		after_each(function()
			-- Every test starts with a distributor that acknowledges pushes.
			if phone then phone:on_iq(nil); end
		end);

		-- POSTs to the endpoint; returns the response and how many push IQs the
		-- phone got for it. The ping round trip makes that count final: once the
		-- pong is back, every IQ the server sent before it has arrived.
		local function post(endpoint, body)
			local before = #phone.received;
			local response, err = up.push(server, endpoint, body or "hello");
			assert(response, "no answer to the POST: " .. tostring(err));
			local pong = up.ping(phone, HOST);
			assert(pong and pong.attr.type == "result", "no answer to the ping: " .. tostring(pong));
			return response, pushes_since(phone, before);
		end

		local function register(options)
			local registration, err = up.register(phone, HOST, options);
			assert(registration, "registration failed: " .. tostring(err));
			return registration;
		end

		-- Two endpoints of the same user; the first is refused with `condition`.
		-- Returns both and the answer to the refused push.
		local function revoke(condition)
			local gone, other = register(), register();
			phone:on_iq(condition);
			local response, pushes = post(gone.endpoint);
			phone:on_iq(nil);
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
				local registration = register();
				phone:on_iq(condition);
				local response, pushes = post(registration.endpoint);
				assert.equal(503, response.status);
				assert.equal(1, pushes);
				phone:on_iq(nil);
				response, pushes = post(registration.endpoint);
				assert.equal(201, response.status, "a temporary error revoked the endpoint");
				assert.equal(1, pushes);
			end);
		end

		if backend == "storage" then
			it("deletes the revoked endpoint's record from the store", function()
				local registration = register();
				-- Records are kept under a hash of the token (never the token itself).
				local key = sha256(up.token_of(registration.endpoint), true):sub(1, 32);
				datamanager.set_data_path(server.data_dir);
				assert.is_table(datamanager.load(key, HOST, "unified_push"),
					"no record for the new endpoint under the expected key");
				phone:on_iq("item-not-found");
				local response = post(registration.endpoint);
				assert.equal(404, response.status);
				assert.is_nil(datamanager.load(key, HOST, "unified_push"), "the record is still stored");
			end);
		end

		-- An app that unregisters and registers again (same application and
		-- instance) while an app server still pushes to the old endpoint: the
		-- push revokes the old endpoint, the new registration must still work,
		-- even when all of it happens within one second (expiry is in seconds).
		it("gives an app that registers again after a revocation a working endpoint", function()
			local second = os.time();
			assert.is_true(loop.run_until(function() return os.time() > second; end, 2), "the clock stood still");
			local old = register();
			phone:on_iq("item-not-found");
			local response = post(old.endpoint);
			phone:on_iq(nil);
			assert.equal(404, response.status);
			local new = register({ application = old.application, instance = old.instance });
			assert.are_not.equal(old.endpoint, new.endpoint, "the new endpoint is the revoked one");
			local pushes;
			response, pushes = post(new.endpoint);
			assert.equal(201, response.status);
			assert.equal(1, pushes);
		end);

		it("still refuses a revoked endpoint after a restart, without sending an IQ", function()
			local gone, other = revoke("item-not-found");
			phone:close();
			phone = nil;
			server:restart();
			phone = connect(server);
			assert.equal("alice@" .. HOST .. "/" .. RESOURCE, phone.full_jid);
			local response, pushes = post(gone.endpoint);
			assert.equal(404, response.status, "the revocation was lost in the restart");
			assert.equal(0, pushes);
			-- The restart did not make every endpoint 404.
			response, pushes = post(other.endpoint);
			assert.equal(201, response.status);
			assert.equal(1, pushes);
		end);

		it("leaves a clean log", function()
			server:assert_log_clean();
		end);
	end);
end
