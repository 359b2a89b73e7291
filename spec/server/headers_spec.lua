-- RFC 8030 headers on the push resource (docs/design.md, "HTTP semantics"): every 201
-- says the message was not stored (TTL: 0) and names it (Location); the request
-- headers TTL, Urgency and Topic are validated, and a malformed one is answered
-- 400 with a short plain-text reason before anything reaches the distributor.
local up = require "unified_push";

local HOST = "example.test";

-- Request headers that are well-formed: one of each through a real server; every value, accepted or refused, is
-- pushheaders_spec's, and the 400 with its plain-text reason relay_spec's.
local ACCEPTED = {
	{ TTL = "86400", Urgency = "HIGH", Topic = "inbox" },
}

-- A malformed header, and the name the reason must mention.
local REJECTED = {
	{ "TTL", "-1" },
	{ "Topic", "bad!" },
}

-- "TTL: 60, Urgency: low" for a test name.
local function describe_headers(headers)
	local names = {};
	for name in pairs(headers) do names[#names + 1] = name; end
	table.sort(names);
	local parts = {};
	for _, name in ipairs(names) do parts[#parts + 1] = ("%s: %q"):format(name, headers[name]); end
	return table.concat(parts, ", ");
end

describe("RFC 8030 headers", function()
	local f = up.fixture({ hosts = { HOST } });

	-- POSTs to the endpoint; returns the response and how many push IQs the
	-- distributor got for it (final once the ping's answer is back).
	local function post(endpoint, headers)
		local response, pushes = f:post(endpoint, "hello", headers);
		return response, #pushes;
	end

	-- Checks a 201's TTL and Location; returns the Location.
	local function assert_message_headers(endpoint, response)
		assert.equal(201, response.status);
		assert.equal("0", response.headers["ttl"], "TTL of a message that was not stored");
		local location = response.headers["location"];
		assert.is_string(location, "201 without a Location");
		local origin = endpoint:match("^(%a+://[^/?#]+)");
		assert.is_string(origin, "endpoint without an origin: " .. endpoint);
		assert.equal(origin, location:match("^(%a+://[^/?#]+)"), "Location not on the endpoint's origin: " .. location);
		local id = location:match("^%a+://[^/?#]+/push/message/([^/?#]+)$");
		assert.is_string(id, "Location is not <origin>/push/message/<id>: " .. location);
		assert.truthy(id:match("^[%w_%-%.~%%]+$"), "message id is not URL-safe: " .. id);
		return location;
	end

	describe("on every 201", function()
		for _, headers in ipairs({ {}, { TTL = "60" }, { Urgency = "high", Topic = "news" } }) do
			local name = next(headers) and describe_headers(headers) or "no request headers";
			it("sends TTL: 0 and a Location under the push base (" .. name .. ")", function()
				local registration = f:register();
				local response, pushes = post(registration.endpoint, headers);
				assert.equal(1, pushes);
				assert_message_headers(registration.endpoint, response);
			end);
		end

		it("names each push message with a Location of its own", function()
			local first, second = f:register(), f:register();
			local seen = {};
			for i = 1, 6 do
				local endpoint = (i % 2 == 0 and first or second).endpoint;
				local location = assert_message_headers(endpoint, (post(endpoint)));
				assert.is_nil(seen[location], "Location given twice: " .. location);
				seen[location] = true;
			end
		end);
	end);

	describe("accepts well-formed request headers", function()
		for _, headers in ipairs(ACCEPTED) do
			it(describe_headers(headers), function()
				local registration = f:register();
				local response, pushes = post(registration.endpoint, headers);
				assert.equal(201, response.status);
				assert.equal(1, pushes);
			end);
		end
	end);

	describe("answers 400 with a plain-text reason, and sends no IQ, for", function()
		for _, case in ipairs(REJECTED) do
			local name, value = case[1], case[2];
			it(describe_headers({ [name] = value }), function()
				local registration = f:register();
				local response, pushes = post(registration.endpoint, { [name] = value });
				assert.equal(400, response.status);
				assert.equal(0, pushes, "a malformed push reached the distributor");
				local content_type = response.headers["content-type"] or "";
				assert.truthy(content_type:lower():match("^text/plain"), "Content-Type: " .. content_type);
				assert.truthy(response.body:lower():find(name:lower(), 1, true),
					"the reason does not mention " .. name .. ": " .. response.body);
				-- The endpoint itself is fine.
				response, pushes = post(registration.endpoint);
				assert.equal(201, response.status);
				assert.equal(1, pushes);
			end);
		end
	end);

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);
