-- The HTTP push resource (docs/design.md, "HTTP semantics") as an app server
-- and a distributor see it: a real Prosody with the module on its host, a real
-- XMPP client as the distributor and real HTTP requests to the endpoints it
-- registered. Every row of the semantics is relay_spec's (unit); conformance_spec
-- asserts ours through a server for discovery, the bodies (all 256 byte values,
-- 4096, 4097, empty), unknown and tampered tokens, each distributor answer, TTL 0
-- for an offline distributor, 405 and a malformed TTL; fuzz_spec every method and
-- thousands of mutated paths. Here: what those leave out.
local up = require "unified_push";
local st = require "util.stanza";
local socket = require "socket";

-- Seconds the module waits for the distributor's answer (set short below).
local IQ_TIMEOUT = 2;

-- "a, B ,c" -> { a = true, b = true, c = true }
local function header_set(value)
	local set = {};
	for item in (value or ""):gmatch("[^,]+") do
		set[item:match("^%s*(.-)%s*$"):lower()] = true;
	end
	return set;
end

describe("the push resource", function()
	-- Every test starts with a distributor (f.client) that acknowledges pushes.
	-- Two of mod_http's CORS options, which the endpoints' answers follow.
	local f = up.fixture({ config = {
		unified_push_iq_timeout = IQ_TIMEOUT,
		access_control_max_age = 600,
		access_control_allow_credentials = true,
	} });

	describe("relays a valid POST to the distributor", function()
		it("keeps most of the token out of the path: <origin>/push/<first 8 characters>?<rest>", function()
			local registration = f:register();
			local parts = assert(up.parse_endpoint(registration.endpoint));
			assert.equal("/push/", parts.prefix);
			local path_part, query_part = parts.path_part, parts.query_part;
			assert.is_true(#path_part <= 8, "path part: " .. path_part);
			assert.truthy(#registration.token > 8, "token: " .. registration.token);
			assert.equal(8, #path_part);
			assert.is_string(query_part, "no query in " .. registration.endpoint);
			assert.equal(registration.token, path_part .. query_part);
			assert.is_nil(registration.endpoint:find(registration.token, 1, true),
				"the whole token is in the endpoint as it is: " .. registration.endpoint);
			-- Each part URL-encoded: nothing but unreserved characters and escapes.
			assert.truthy(parts.path:match("^/push/[%w%-._~%%]+$"), "path: " .. parts.path);
			assert.truthy(parts.query:match("^[%w%-._~%%]+$"), "query: " .. parts.query);
			assert.equal(registration.endpoint, up.endpoint_for(registration.endpoint, registration.token));
		end);

		-- Whatever the request's RFC 8030 headers (every value: pushheaders_spec's).
		it("answers 201 with TTL: 0 and a Location under the push base", function()
			local registration = f:register();
			local response, pushes = f:post(registration.endpoint, "where is it?",
				{ TTL = "86400", Urgency = "HIGH", Topic = "inbox" });
			assert.equal(201, response.status);
			assert.equal(1, #pushes);
			assert.equal("0", response.headers["ttl"]);
			local location = response.headers["location"];
			assert.is_string(location, "201 without a Location header");
			local base = assert(up.parse_endpoint(registration.endpoint)).origin .. "/push/message/";
			assert.equal(base, location:sub(1, #base), "Location: " .. location);
			local id = location:sub(#base + 1);
			assert.truthy(id:match("^[%w_%-]+$"), "Location: " .. location);
			-- Each message gets its own.
			local again = f:post(registration.endpoint, "and this one?");
			assert.equal(201, again.status);
			assert.are_not.equal(location, again.headers["location"]);
		end);

		it("still delivers (201) to an old-style endpoint with the whole token in the path", function()
			local registration = f:register();
			local old_style = up.endpoint_for(registration.endpoint, registration.token, "whole");
			local parts = assert(up.parse_endpoint(old_style));
			assert.is_nil(parts.query, old_style);
			assert.equal(registration.token, parts.path_part);
			local response, pushes = f:post(old_style, "the old way");
			assert.equal(201, response.status);
			assert.equal(1, #pushes);
			assert.equal(registration.application, pushes[1].application);
			assert.equal(registration.instance, pushes[1].instance);
			assert.equal("the old way", pushes[1].body);
		end);

	end);

	describe("refuses a POST without sending an IQ", function()
		-- Every refusal is relay_spec's; 4097 bytes (413) and a malformed TTL (400) conformance_spec's.
		local cases = {
			{ "a body of 64 KiB", string.rep("x", 65536), 413 },
		};
		for _, case in ipairs(cases) do
			it(("with %d for %s"):format(case[3], case[1]), function()
				local registration = f:register();
				local response, pushes = f:post(registration.endpoint, case[2]);
				assert.equal(case[3], response.status);
				assert.equal(0, #pushes);
				-- The endpoint itself is fine.
				response, pushes = f:post(registration.endpoint, "x");
				assert.equal(201, response.status);
				assert.equal(1, #pushes);
			end);
		end
	end);

	describe("turns the distributor's answer into the status", function()
		local no_answer = function() return nil; end;
		local cases = {
			-- Every condition's kind is pending_spec's, every kind's status relay_spec's,
			-- each condition through a server conformance_spec's; gone: the case below.
			{ "service-unavailable", "service-unavailable", 503 },
			-- TTL 0: it cannot be kept, so it waits for the answer (a push that can be
			-- kept is kept after the answer window: spec/server/mobile_links_spec.lua).
			{ "no answer at all", no_answer, 503, { TTL = "0" } },
		};
		for _, case in ipairs(cases) do
			local name, policy, status = case[1], case[2], case[3];
			it(("answers %d when the distributor answers %s"):format(status, name), function()
				local registration = f:register();
				f.client:on_iq(policy);
				local started = socket.gettime();
				local response, pushes = f:post(registration.endpoint, "ping?", case[4]);
				local elapsed = socket.gettime() - started;
				assert.equal(status, response.status);
				assert.equal(1, #pushes, "the distributor was not asked");
				if status == 503 then
					up.retry_after(response);
					-- An answer that comes too late changes nothing; not now is not gone: the endpoint stays.
					if policy == no_answer then f.client:send(st.reply(pushes[1].stanza)); end
					f.client:on_iq(nil);
					assert.equal(201, (f:post(registration.endpoint, "and now?")).status);
				end
				if policy == no_answer then
					assert.is_true(elapsed >= IQ_TIMEOUT - 0.5,
						("503 after %.2fs, before the %ds timeout"):format(elapsed, IQ_TIMEOUT));
				else
					assert.is_true(elapsed < IQ_TIMEOUT, ("an answer took %.2fs to relay"):format(elapsed));
				end
			end);
		end
	end);

	describe("revokes an endpoint the distributor disowns", function()
		-- feature-not-implemented is the same kind (pending_spec); on every backend, across a restart, backends_spec's and sql_spec's.
		for _, condition in ipairs({ "item-not-found" }) do
			it("after " .. condition .. ": later POSTs answer 404 without an IQ", function()
				local registration = f:register();
				local other = f:register();
				f.client:on_iq(condition);
				local response, pushes = f:post(registration.endpoint, "anyone?");
				assert.equal(404, response.status);
				assert.equal(1, #pushes, "the distributor was not asked");
				-- The distributor would accept now, but the endpoint is gone.
				f.client:on_iq(nil);
				response, pushes = f:post(registration.endpoint, "again?");
				assert.equal(404, response.status);
				assert.equal(0, #pushes, "a revoked endpoint still sent an IQ");
				response, pushes = f:post(up.endpoint_for(registration.endpoint, registration.token, "whole"), "old style?");
				assert.equal(404, response.status);
				assert.equal(0, #pushes, "a revoked endpoint still sent an IQ (old style)");
				-- Only that endpoint.
				response, pushes = f:post(other.endpoint, "still yours");
				assert.equal(201, response.status);
				assert.equal(1, #pushes);
			end);
		end
	end);

	describe("answers 404 to a POST to a token that names no registration", function()
		-- A token changed, cut short or extended is refused by every backend in
		-- backends_spec (unit); here, what Prosody's path and query handling hands
		-- over, once each (thousands of mutated paths: fuzz_spec).
		local cases = {
			{ "an unknown token, split like ours", function(e) return up.endpoint_for(e, string.rep("A", 16)); end },
			{ "a token of 10000 characters", function() return "/push/" .. string.rep("A", 10000); end },
			{ "percent-encoded control and non-UTF-8 bytes in the query",
				function(e) return up.endpoint_for(e, up.token_of(e):sub(1, 8) .. "\0\1\255\254\r\n"); end },
		};
		for _, case in ipairs(cases) do
			it("for " .. case[1], function()
				local registration = f:register();
				local target = case[2](registration.endpoint);
				assert.are_not.equal(registration.token, up.token_of(target));
				local response, pushes = f:post(target, "for nobody");
				assert.equal(404, response.status);
				assert.equal(0, #pushes);
			end);
		end
	end);

	describe("lets browser-based app servers POST across origins", function()
		local origin = "https://app.example.org";

		it("allows POST and the Web Push headers in a preflight", function()
			local registration = f:register();
			local response = f:push(registration.endpoint, nil, {
				Origin = origin,
				["Access-Control-Request-Method"] = "POST",
				["Access-Control-Request-Headers"] = "content-encoding, ttl",
			}, "OPTIONS");
			assert.truthy(response.status >= 200 and response.status < 300, "status " .. response.status);
			local methods = header_set(response.headers["access-control-allow-methods"]);
			assert.is_true(methods.post == true,
				"Access-Control-Allow-Methods: " .. tostring(response.headers["access-control-allow-methods"]));
			local headers = header_set(response.headers["access-control-allow-headers"]);
			for _, name in ipairs({ "Content-Encoding", "TTL", "Urgency", "Topic", "Content-Type", "Authorization" }) do
				assert.is_true(headers[name:lower()] == true, name .. " missing from Access-Control-Allow-Headers: "
					.. tostring(response.headers["access-control-allow-headers"]));
			end
			local allowed_origin = response.headers["access-control-allow-origin"];
			assert.is_true(allowed_origin == origin or allowed_origin == "*",
				"Access-Control-Allow-Origin: " .. tostring(allowed_origin));
			assert.equal("600", response.headers["access-control-max-age"]);
			assert.equal("true", response.headers["access-control-allow-credentials"]);
			assert.equal("Origin", response.headers["vary"]);
		end);

		it("lets the browser read the answer to the POST itself", function()
			local registration = f:register();
			local response = f:post(registration.endpoint, "from a browser", { Origin = origin });
			assert.equal(201, response.status);
			local allowed_origin = response.headers["access-control-allow-origin"];
			assert.is_true(allowed_origin == origin or allowed_origin == "*",
				"Access-Control-Allow-Origin: " .. tostring(allowed_origin));
			-- The answer names the Origin: a shared cache must keep it apart from other origins'.
			assert.equal("Origin", response.headers["vary"]);
		end);

		it("sends no CORS headers to an app server that is not a browser (no Origin)", function()
			local registration = f:register();
			local response = f:post(registration.endpoint, "from a server");
			assert.equal(201, response.status);
			for name in pairs(response.headers) do
				assert.is_nil(name:match("^access%-control%-"), name .. " sent without an Origin");
			end
			assert.is_nil(response.headers["vary"]);
		end);
	end);

	describe("after all of the above", function()
		it("still delivers a valid push (201)", function()
			local registration = f:register();
			local response, pushes = f:post(registration.endpoint, "still here");
			assert.equal(201, response.status);
			assert.equal(1, #pushes);
		end);

		it("never answered with a Lua traceback", function()
			local exchanges = up.exchanges(f.server);
			assert.is_true(#exchanges >= 15, "only " .. #exchanges .. " responses recorded");
			for _, exchange in ipairs(exchanges) do
				assert.is_false(up.traceback_in(exchange.response.body),
					exchange.method .. " " .. exchange.url:sub(1, 200) .. " answered:\n" .. exchange.response.body);
			end
		end);

		it("leaves a clean log", function()
			f.server:assert_log_clean();
		end);
	end);
end);
