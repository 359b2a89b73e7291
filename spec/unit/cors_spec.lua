-- Unit: the CORS answers of the push endpoints (src/cors.ts), worked out from
-- mod_http's options the way mod_http does, once at load. Pure Lua: it also runs
-- under the other Lua versions (spec/unit/lua_versions_spec.lua).
local cors_lib = require "cors";

local ROUTES = { "GET", "POST", "DELETE", "OPTIONS" };
local APP = { enabled = true, headers = { TTL = true, Authorization = true } };
local ORIGIN = "https://app.example.org";

-- mod_http's defaults, with `changes` on top.
local function settings(changes)
	local s = {
		methods = { "GET", "OPTIONS" },
		headers = { "Content-Type" },
		origins = {},
		credentials = false,
		maxAge = 7200,
	};
	for k, v in pairs(changes or {}) do s[k] = v; end
	return s;
end

-- The response headers a request from `origin` gets.
local function answer(cors, origin)
	local headers = {};
	cors.allow(origin, headers);
	return headers;
end

-- A header value as a set of its comma-separated names (their order is not fixed).
local function names(value)
	local set, count = {}, 0;
	for name in tostring(value):gmatch("[^,%s]+") do
		assert.is_nil(set[name], name .. " listed twice in " .. value);
		set[name], count = true, count + 1;
	end
	return set, count;
end

describe("the CORS answers", function()
	it("allow the route methods and the app's headers, from any origin, by default", function()
		local headers = answer(cors_lib.corsFor(settings(), ROUTES, APP), ORIGIN);
		assert.same({ GET = true, OPTIONS = true, POST = true, DELETE = true },
			(names(headers.access_control_allow_methods)));
		assert.same({ ["Content-Type"] = true, TTL = true, Authorization = true },
			(names(headers.access_control_allow_headers)));
		assert.equal("7200", headers.access_control_max_age);
		assert.equal(ORIGIN, headers.access_control_allow_origin);
		assert.is_nil(headers.access_control_allow_credentials);
	end);

	it("allow any origin with * when the request names none (a preflight without Origin)", function()
		assert.equal("*", answer(cors_lib.corsFor(settings(), ROUTES, APP), nil).access_control_allow_origin);
	end);

	it("take the operator's methods, headers, credentials and max age", function()
		local cors = cors_lib.corsFor(settings({
			methods = { "GET", "POST", "HEAD" },
			headers = { "X-Custom" },
			credentials = true,
			maxAge = 60,
		}), ROUTES, APP);
		local headers = answer(cors, ORIGIN);
		local methods, count = names(headers.access_control_allow_methods);
		assert.same({ GET = true, POST = true, HEAD = true, DELETE = true, OPTIONS = true }, methods);
		assert.equal(5, count);
		assert.same({ ["X-Custom"] = true, TTL = true, Authorization = true },
			(names(headers.access_control_allow_headers)));
		assert.equal("true", headers.access_control_allow_credentials);
		assert.equal("60", headers.access_control_max_age);
	end);

	it("answer only the origins the operator lists", function()
		local cors = cors_lib.corsFor(settings({ origins = { ORIGIN, "https://other.example" } }), ROUTES, APP);
		assert.equal(ORIGIN, answer(cors, ORIGIN).access_control_allow_origin);
		-- Left out for this Origin, so still an answer that depends on it.
		assert.same({ vary = "Origin" }, answer(cors, "https://evil.example"));
		assert.same({}, answer(cors, nil));
	end);

	-- Fetch, "CORS protocol and HTTP caches": an answer that echoes the Origin must
	-- say so, or a shared cache may hand it to another origin.
	it("say Vary: Origin when they echo the Origin, and not without one", function()
		local cors = cors_lib.corsFor(settings(), ROUTES, APP);
		local headers = answer(cors, ORIGIN);
		assert.equal(ORIGIN, headers.access_control_allow_origin);
		assert.equal("Origin", headers.vary);
		headers = answer(cors, nil);
		assert.equal("*", headers.access_control_allow_origin);
		assert.is_nil(headers.vary);
	end);

	it("answer any origin when the operator's list has *", function()
		local cors = cors_lib.corsFor(settings({ origins = { ORIGIN, "*" } }), ROUTES, APP);
		assert.equal("https://evil.example", answer(cors, "https://evil.example").access_control_allow_origin);
	end);

	describe("with the operator's http_cors_override entry for the app", function()
		it("are off when it says enabled = false", function()
			assert.is_nil(cors_lib.corsFor(settings({ override = { enabled = false } }), ROUTES, APP));
		end);

		it("follow it instead of the app's own field", function()
			local override = {
				enabled = true,
				credentials = true,
				headers = { TTL = false, ["X-Extra"] = true, ["Content-Type"] = false },
				origins = { ORIGIN },
			};
			local cors = cors_lib.corsFor(settings({ override = override }), ROUTES, APP);
			local headers = answer(cors, ORIGIN);
			assert.same({ ["X-Extra"] = true }, (names(headers.access_control_allow_headers)));
			assert.equal("true", headers.access_control_allow_credentials);
			assert.same({ vary = "Origin" }, answer(cors, "https://other.example"));
		end);

		it("keep the defaults when it does not say enabled = true (mod_http's rule)", function()
			local cors = cors_lib.corsFor(settings({ override = { credentials = true, origins = { ORIGIN } } }), ROUTES, APP);
			local headers = answer(cors, "https://other.example");
			assert.same({ ["Content-Type"] = true }, (names(headers.access_control_allow_headers)));
			assert.is_nil(headers.access_control_allow_credentials);
		end);

		it("let any origin in with origins = \"*\" even if the operator's list is narrower", function()
			local cors = cors_lib.corsFor(settings({ origins = { ORIGIN }, override = { enabled = true, origins = "*" } }), ROUTES, APP);
			assert.equal("https://other.example", answer(cors, "https://other.example").access_control_allow_origin);
		end);
	end);
end);
