-- The HTTP push resource (docs/design.md, "HTTP semantics") as an app server
-- and a distributor see it: a real Prosody with the module on its host, a real
-- XMPP client as the distributor and real HTTP requests to the endpoints it
-- registered.
local up = require "unified_push";
local json = require "util.json";
local st = require "util.stanza";
local socket = require "socket";
local loop = require "loop";

local HOST = "example.test";
-- Seconds the module waits for the distributor's answer (set short below).
local IQ_TIMEOUT = 2;

local function all_bytes()
	local bytes = {};
	for i = 0, 255 do bytes[#bytes + 1] = string.char(i); end
	return table.concat(bytes);
end

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

	describe("answers UnifiedPush discovery with GET", function()
		local cases = {
			{ "a registered endpoint", function() return f:register().endpoint; end },
			{ "an unknown token", function() return "/push/no-such-token"; end },
			{ "a token of garbage", function() return "/push/%00%FF%25zz"; end },
		};
		for _, case in ipairs(cases) do
			it("for " .. case[1], function()
				local response = f:push(case[2](), nil, nil, "GET");
				assert.equal(200, response.status);
				assert.truthy((response.headers["content-type"] or ""):match("^application/json"),
					"Content-Type: " .. tostring(response.headers["content-type"]));
				assert.same({ unifiedpush = { version = 1 } }, json.decode(response.body));
			end);
		end
	end);

	describe("relays a valid POST to the distributor", function()
		it("issues endpoints under /push on the host", function()
			local registration = f:register();
			assert.truthy(registration.endpoint:match("^https?://" .. HOST:gsub("%.", "%%.") .. "[:/]"),
				"endpoint: " .. registration.endpoint);
			assert.truthy(registration.expiration:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"),
				"expiration: " .. tostring(registration.expiration));
		end);

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

		it("answers 201 after delivering exactly one push IQ from the host with the registration's names", function()
			local registration = f:register();
			local response, pushes = f:post(registration.endpoint, "hello, phone");
			assert.equal(201, response.status);
			assert.equal(1, #pushes);
			local push = pushes[1];
			assert.equal(HOST, push.from);
			assert.equal(f.client.full_jid, push.to);
			assert.equal(registration.application, push.application);
			assert.equal(registration.instance, push.instance);
			assert.equal("hello, phone", push.body);
		end);

		-- RFC 8030 §5 and the Push API allow a push without payload (a bare "wake up").
		it("relays an empty POST as an empty <push/> and answers 201", function()
			local registration = f:register();
			local response, pushes = f:post(registration.endpoint, "");
			assert.equal(201, response.status);
			assert.equal(1, #pushes);
			assert.equal(registration.application, pushes[1].application);
			assert.equal("", pushes[1].body);
			assert.equal(0, #pushes[1].stanza:get_child("push", up.NS));
		end);

		local bodies = {
			{ "a binary body with all 256 byte values", all_bytes() },
			{ "a one-byte body", "x" },
			{ "a body of exactly 4096 bytes", string.rep(all_bytes(), 16) },
		};
		for _, case in ipairs(bodies) do
			it("carries " .. case[1] .. " byte for byte", function()
				local registration = f:register();
				local response, pushes = f:post(registration.endpoint, case[2],
					{ ["Content-Type"] = "application/octet-stream", ["Content-Encoding"] = "aes128gcm", TTL = "60" });
				assert.equal(201, response.status);
				assert.equal(1, #pushes);
				local decoded = pushes[1].body;
				assert.equal(#case[2], #decoded);
				assert.is_true(case[2] == decoded, "the relayed body differs from the one posted");
			end);
		end
	end);

	describe("refuses a POST without sending an IQ", function()
		-- One of each kind through a real server: every header value is pushheaders_spec's,
		-- every refusal relay_spec's. reason: a word the plain-text answer must name.
		local cases = {
			{ "a body of 64 KiB", string.rep("x", 65536), 413 },
			{ "a malformed header (TTL: -1)", "x", 400, { TTL = "-1" }, "ttl" },
		};
		for _, case in ipairs(cases) do
			it(("with %d for %s"):format(case[3], case[1]), function()
				local registration = f:register();
				local response, pushes = f:post(registration.endpoint, case[2], case[4]);
				assert.equal(case[3], response.status);
				assert.equal(0, #pushes);
				if case[5] then
					local content_type = response.headers["content-type"] or "";
					assert.truthy(content_type:lower():match("^text/plain"), "Content-Type: " .. content_type);
					assert.truthy(response.body:lower():find(case[5], 1, true), "the reason: " .. response.body);
				end
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
			-- One of each kind: every condition's kind is pending_spec's, every
			-- kind's status relay_spec's.
			{ "item-not-found", "item-not-found", 404 },
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

	describe("when the distributor is offline", function()
		local tablet, laptop, registration;

		setup(function()
			-- Alice's laptop sees her tablet go offline (unavailable presence).
			laptop = f:connect({ resource = "laptop" });
			tablet = f:connect({ resource = "tablet" });
			registration = f:register(nil, tablet);
		end);

		local function tablet_gone()
			for _, presence in ipairs(laptop.presences) do
				if presence.attr.from == tablet.full_jid and presence.attr.type == "unavailable" then
					return true;
				end
			end
			return false;
		end

		it("answers 201 with TTL: 0 to TTL: 0 once it has disconnected (it expired: RFC 8030 §5.2)", function()
			tablet:close();
			assert.is_true(loop.run_until(tablet_gone, 10), "the server never saw the tablet leave");
			-- TTL 0: now or never (anything else is kept for later, spec/server/store_forward_spec.lua).
			local response = f:push(registration.endpoint, "anyone there?", { TTL = "0" });
			assert.equal(201, response.status);
			assert.equal("0", response.headers["ttl"]);
			assert.is_false(up.traceback_in(response.body), response.body);
			f.server:assert_log_clean();
		end);

		it("delivers again (201) after the same full JID reconnects", function()
			local full_jid = tablet.full_jid;
			tablet = f:connect({ resource = "tablet" });
			assert.equal(full_jid, tablet.full_jid);
			local response, pushes = f:post(registration.endpoint, "welcome back", nil, tablet);
			assert.equal(201, response.status);
			assert.equal(1, #pushes);
			assert.equal("welcome back", pushes[1].body);
		end);
	end);

	describe("answers 404 to a POST to a token that names no registration", function()
		-- Changes are made to the whole token; the endpoint is rebuilt in the
		-- shape the module issued (up.endpoint_for) or, "old style", with the
		-- whole token in the path. A token changed, cut short or extended is
		-- refused by every backend in backends_spec (unit): here, what Prosody's
		-- path and query handling hands over.
		local cases = {
			{ "an unknown token", function() return "/push/AAAAAAAAAAAAAAAA"; end },
			{ "an unknown token, split like ours", function(e) return up.endpoint_for(e, string.rep("A", 16)); end },
			{ "a token with one character changed, old style",
				function(e) return up.endpoint_for(e, up.tamper_token(up.token_of(e)), "whole"); end },
			{ "the path part of the token alone", function(e) return up.endpoint_for(e, up.token_of(e):sub(1, 8)); end },
			{ "a token of 10000 characters", function() return "/push/" .. string.rep("A", 10000); end },
			{ "a token of 10000 characters, split like ours", function(e) return up.endpoint_for(e, string.rep("A", 10000)); end },
			{ "a token of 100 percent-encoded percent signs", function() return "/push/" .. string.rep("%25", 100); end },
			{ "percent-encoded control and non-UTF-8 bytes", function() return "/push/%00%01%FF%FE%0D%0A"; end },
			{ "percent-encoded control and non-UTF-8 bytes in the query",
				function(e) return up.endpoint_for(e, up.token_of(e):sub(1, 8) .. "\0\1\255\254\r\n"); end },
			{ "a percent-encoded path inside the token", function() return "/push/x%2F..%2F..%2Faccounts%2Falice"; end },
			{ "an invalid percent escape", function() return "/push/%zz%"; end },
			{ "an invalid percent escape in the query", function() return "/push/AAAAAAAA?%zz%"; end },
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

	describe("answers 405 to other methods", function()
		for _, method in ipairs({ "PUT", "DELETE", "PATCH" }) do
			it("for " .. method, function()
				local registration = f:register();
				local response, pushes = f:post(registration.endpoint, "x");
				assert.equal(201, response.status, "the endpoint works for POST");
				assert.equal(1, #pushes);
				local before = #f.client.received;
				response = f:push(registration.endpoint, method ~= "DELETE" and "x" or nil, nil, method);
				assert.equal(405, response.status);
				local allowed = header_set(response.headers["allow"]);
				assert.is_true(allowed.post == true, "Allow: " .. tostring(response.headers["allow"]));
				assert.equal(0, #up.new_pushes(f.client, before));
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
			assert.is_true(#exchanges >= 30, "only " .. #exchanges .. " responses recorded");
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
