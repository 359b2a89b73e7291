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

-- The README's option table (README "Options") against what readConfig does: the
-- same names, each default the one the table gives, each range accepted at its
-- ends and refused just beyond them.
describe("the README's option table", function()
	local rows, order = {}, {};
	setup(function()
		local file = assert(io.open("README.md"));
		local text = file:read("*a");
		file:close();
		local section = assert(text:match("\n## Options\n(.-)\n## "), "no Options section in README.md");
		for line in section:gmatch("[^\n]+") do
			local name, meaning, default, valid = line:match("^| `(unified_push_[%w_]+)` +| (.-) +| (.-) +| (.-) +|$");
			if name then
				rows[name] = { meaning = meaning, default = default, valid = valid };
				order[#order + 1] = name;
			end
		end
	end);

	-- The names readConfig reads.
	local function names_read()
		local read = {};
		config.readConfig(function(name)
			if name:match("^unified_push_") then read[name] = true; end
			return nil;
		end, VIRTUAL_HOST);
		return read;
	end

	-- A cell's one code literal as a Lua value (`86400` -> 86400, `true` -> true), or nil.
	local function literal(cell)
		local code = cell:match("^`([^`]+)`$");
		if code == "true" or code == "false" then return code == "true"; end
		return code and (tonumber(code) or code);
	end

	it("lists every option the module reads, and no other", function()
		local listed = {};
		for name in pairs(rows) do listed[name] = true; end
		assert.is_true(#order > 0, "no option rows found");
		assert.same(names_read(), listed);
	end);

	it("gives each option's default", function()
		local defaults = read_config({});
		local checked = 0;
		for _, name in ipairs(order) do
			local value = literal(rows[name].default);
			if value ~= nil then
				assert.same(defaults, read_config({ [name] = value }), name .. " defaults to " .. rows[name].default);
				checked = checked + 1;
			end
		end
		-- All but acl, backend and secret, which the table gives in words.
		assert.equal(#order - 3, checked);
		-- The defaults the table gives in words.
		assert.truthy(rows.unified_push_acl.default:find("the host; for a component, its parent domain", 1, true));
		assert.same({ "example.test" }, defaults.acl);
		assert.same({ "example.test" }, read_config({}, COMPONENT).acl);
		assert.truthy(rows.unified_push_backend.default:find("`paseto` where Prosody has it (13), else `storage`", 1, true));
		assert.equal("paseto", defaults.backend);
		assert.equal("storage", read_config({}, OLD_PROSODY).backend);
		assert.is_nil(defaults.secret);
	end);

	it("gives each whole number's range: accepted at both ends, refused beyond them", function()
		local checked = 0;
		for _, name in ipairs(order) do
			local low, high = rows[name].valid:match("^`(%-?%d+)` to `(%-?%d+)`$");
			if low then
				low, high = tonumber(low), tonumber(high);
				assert.is_nil(problems_of({ [name] = low }), name .. " = " .. low);
				assert.is_nil(problems_of({ [name] = high }), name .. " = " .. high);
				for _, beyond in ipairs({ low - 1, high + 1 }) do
					local problems = problems_of({ [name] = beyond });
					assert.same({ ("option %s must be a whole number from %d to %d (got %d)"):format(name, low, high, beyond) },
						problems);
				end
				checked = checked + 1;
			end
		end
		-- Every option but the four below is a whole number.
		assert.equal(#order - 4, checked);
	end);

	it("gives the values of the other options", function()
		assert.equal("`true`, `false`", rows.unified_push_matrix_gateway.valid);
		assert.is_table(problems_of({ unified_push_matrix_gateway = "yes" }));

		assert.equal("`paseto` (Prosody 13), `storage`, `jwt`", rows.unified_push_backend.valid);
		for _, backend in ipairs({ "paseto", "storage", "jwt" }) do
			assert.equal(backend, read_config({ unified_push_backend = backend, unified_push_secret = SECRET }).backend);
		end
		assert.is_table(problems_of({ unified_push_backend = "paseto" }, OLD_PROSODY));

		local length = tonumber(rows.unified_push_secret.valid:match("^a string of at least (%d+) characters$"));
		assert.equal(16, length);
		assert.is_nil(problems_of({ unified_push_backend = "jwt", unified_push_secret = ("x"):rep(length) }));
		assert.is_table(problems_of({ unified_push_backend = "jwt", unified_push_secret = ("x"):rep(length - 1) }));

		assert.equal("domains and bare JIDs, no resources", rows.unified_push_acl.valid);
		assert.same({ "a.test", "bob@b.test" }, read_config({ unified_push_acl = { "a.test", "bob@b.test" } }).acl);
		assert.is_table(problems_of({ unified_push_acl = { "bob@b.test/phone" } }));
	end);
end);
