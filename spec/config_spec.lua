-- Unit: option validation. Every wrong option of a host is reported at load, one
-- line each naming the option, and the host gets no configuration.
local config = require "config";

local VIRTUAL_HOST = { host = "example.test", isComponent = false, backends = { "paseto", "storage", "jwt" } };
local OLD_PROSODY = { host = "example.test", isComponent = false, backends = { "storage", "jwt" } };
local COMPONENT = { host = "push.example.test", isComponent = true, backends = { "storage", "jwt" } };
local SECRET = "0123456789abcdef0123456789abcdef";

-- The configuration, failing the test if it is refused.
local function read_config(options, context)
	local c, problems = config.readConfig(function(name) return options[name]; end, context or VIRTUAL_HOST);
	assert(c, "refused: " .. table.concat(problems or {}, "; "));
	return c;
end

-- The problems of a refused configuration (nil if it was accepted).
local function problems_of(options, context)
	local c, problems = config.readConfig(function(name) return options[name]; end, context or VIRTUAL_HOST);
	assert.is_true(c == nil or problems == nil);
	return problems;
end

describe("configuration defaults", function()
	it("uses the host as ACL, paseto where available, a day of TTL", function()
		local c = read_config({});
		assert.same({ "example.test" }, c.acl);
		assert.equal("paseto", c.backend);
		assert.equal(86400, c.registrationTtl);
	end);

	it("sets limits that leave room for bursts", function()
		local c = read_config({});
		assert.same({ 10, 100, 64, 100, 20 }, { c.rateLimit, c.rateBurst, c.maxInFlight, c.maxRegistrations, c.iqTimeout });
	end);

	it("serves the Matrix push gateway unless turned off", function()
		assert.is_true(read_config({}).matrixGateway);
		assert.is_false(read_config({ unified_push_matrix_gateway = false }).matrixGateway);
		assert.is_true(read_config({ unified_push_matrix_gateway = true }).matrixGateway);
	end);

	it("uses storage where paseto is missing", function()
		assert.equal("storage", read_config({}, OLD_PROSODY).backend);
	end);

	it("gives a component's parent domain as ACL", function()
		assert.same({ "example.test" }, read_config({}, COMPONENT).acl);
	end);

	it("accepts a single ACL entry as a string and normalises entries", function()
		assert.same({ "example.test" }, read_config({ unified_push_acl = "Example.TEST" }).acl);
		assert.same({ "a.test", "bob@b.test" }, read_config({ unified_push_acl = { "a.test", "bob@b.test" } }).acl);
	end);
end);

describe("a wrong option", function()
	local cases = {
		{ { unified_push_backend = "redis" }, VIRTUAL_HOST, "option unified_push_backend must be one of paseto, storage, jwt (got \"redis\")" },
		{ { unified_push_backend = "redis" }, OLD_PROSODY, "option unified_push_backend must be one of storage, jwt (got \"redis\")" },
		{ { unified_push_backend = "paseto" }, OLD_PROSODY, "option unified_push_backend: \"paseto\" is not supported by this Prosody" },
		{ { unified_push_backend = "jwt" }, VIRTUAL_HOST, "option unified_push_secret is required" },
		{ { unified_push_backend = "jwt", unified_push_secret = "short" }, VIRTUAL_HOST, "option unified_push_secret must be at least 16 characters" },
		{ { unified_push_secret = 42 }, VIRTUAL_HOST, "option unified_push_secret must be a string" },
		{ { unified_push_registration_ttl = "1d" }, VIRTUAL_HOST, "option unified_push_registration_ttl must be a whole number" },
		{ { unified_push_registration_ttl = 1.5 }, VIRTUAL_HOST, "option unified_push_registration_ttl must be a whole number" },
		{ { unified_push_registration_ttl = 0 }, VIRTUAL_HOST, "option unified_push_registration_ttl must be a whole number from 1" },
		{ { unified_push_iq_timeout = 1000 }, VIRTUAL_HOST, "option unified_push_iq_timeout must be a whole number from 1 to 300" },
		{ { unified_push_rate_limit = 0 }, VIRTUAL_HOST, "option unified_push_rate_limit must be a whole number from 1" },
		{ { unified_push_rate_burst = "lots" }, VIRTUAL_HOST, "option unified_push_rate_burst must be a whole number" },
		{ { unified_push_max_in_flight = -5 }, VIRTUAL_HOST, "option unified_push_max_in_flight must be a whole number from 1" },
		{ { unified_push_max_registrations = 2.5 }, VIRTUAL_HOST, "option unified_push_max_registrations must be a whole number" },
		{ { unified_push_matrix_gateway = "no" }, VIRTUAL_HOST, "option unified_push_matrix_gateway must be true or false (got \"no\")" },
		{ { unified_push_matrix_gateway = 0 }, VIRTUAL_HOST, "option unified_push_matrix_gateway must be true or false (got 0)" },
		{ { unified_push_acl = 5 }, VIRTUAL_HOST, "option unified_push_acl must be a list of strings" },
		{ { unified_push_acl = { "alice@example.test/phone" } }, VIRTUAL_HOST, "option unified_push_acl must list domains or bare JIDs" },
		{ { unified_push_acl = { "bad host" } }, VIRTUAL_HOST, "option unified_push_acl must list domains or bare JIDs" },
	};
	for _, case in ipairs(cases) do
		local options, context, message = case[1], case[2], case[3];
		local shown = {};
		for k, v in pairs(options) do shown[#shown + 1] = k .. "=" .. tostring(v); end
		table.sort(shown);
		it("is refused: " .. table.concat(shown, ", "), function()
			local problems = problems_of(options, context);
			assert.equal(1, problems and #problems, "problems: " .. table.concat(problems or {}, "; "));
			assert.truthy(problems[1]:find(message, 1, true), "got: " .. problems[1]);
		end);
	end

	it("accepts a jwt configuration with a real secret", function()
		local c = read_config({ unified_push_backend = "jwt", unified_push_secret = SECRET });
		assert.equal("jwt", c.backend);
		assert.equal(SECRET, c.secret);
	end);
end);

describe("several wrong options", function()
	it("are all reported, one line each, in the order they are read", function()
		local problems = problems_of({
			unified_push_acl = { "alice@example.test/phone", "ok.test", "bad host" },
			unified_push_backend = "jwt",
			unified_push_registration_ttl = "1 day",
			unified_push_iq_timeout = 0,
			unified_push_matrix_gateway = "yes",
		});
		assert.same({
			'option unified_push_acl must list domains or bare JIDs (got "alice@example.test/phone")',
			'option unified_push_acl must list domains or bare JIDs (got "bad host")',
			'option unified_push_secret is required by unified_push_backend = "jwt" (generate one with: openssl rand -base64 32)',
			'option unified_push_registration_ttl must be a whole number from 1 to 31536000 (got "1 day")',
			"option unified_push_iq_timeout must be a whole number from 1 to 300 (got 0)",
			'option unified_push_matrix_gateway must be true or false (got "yes")',
		}, problems);
	end);

	it("leave no problems behind for the next host", function()
		assert.is_table(problems_of({ unified_push_rate_limit = 0 }));
		assert.is_nil(problems_of({}));
	end);
end);
