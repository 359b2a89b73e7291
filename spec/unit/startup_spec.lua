-- Unit: what the module checks and says as it starts on a host (src/startup.ts):
-- the paths mod_http serves it under, routes claimed by two instances, the
-- published URL against Prosody's Host routing, and the load line.
local startup = require "startup";

describe("an app's path", function()
	local cases = {
		{ "the default", {}, "/push" },
		{ "the host's http_paths", { { push = "/up" }, { push = "/global" } }, "/up" },
		{ "the global http_paths when the host has none for it", { { other = "/x" }, { push = "/global" } }, "/global" },
		{ "with a slash added and the trailing one dropped", { { push = "up/" } }, "/up" },
		{ "with $host replaced", { { push = "/push-$host" } }, "/push-example.test" },
	};
	for _, case in ipairs(cases) do
		it("is " .. case[1], function()
			assert.equal(case[3], startup.appPath(case[2], "push", "/push", "example.test"));
		end);
	end
end);

describe("two instances' HTTP routes", function()
	local function claim(host, http_host, push_path, matrix_path)
		return { host = host, httpHost = http_host, pushPath = push_path or "/push", matrixPath = matrix_path };
	end
	local GATEWAY = "/_matrix/push/v1/notify";

	it("refuse the later instance on the same HTTP host and path, naming both and the fixes", function()
		local outcome = startup.checkClaim({ claim("example.test", "example.test", "/push", GATEWAY) },
			claim("push.example.test", "example.test", "/push", GATEWAY));
		assert.equal('mod_unified_push on example.test already serves /push on HTTP host example.test, '
			.. 'so its endpoints would answer 404 on push.example.test: enable the module on only one of '
			.. 'example.test and push.example.test (a component with http_host = "example.test" replaces it '
			.. 'on that VirtualHost), or give one of them its own path with http_paths = { push = "/push-$host" }',
			outcome.refusal);
	end);

	it("let the later go without the Matrix gateway when only the gateway's path is shared", function()
		local outcome = startup.checkClaim({ claim("example.test", "example.test", "/push", GATEWAY) },
			claim("push.example.test", "example.test", "/push-component", GATEWAY));
		assert.is_nil(outcome.refusal);
		assert.equal("the Matrix push gateway of example.test already serves " .. GATEWAY .. " on HTTP host "
			.. "example.test, so push.example.test serves none: set unified_push_matrix_gateway = false on "
			.. "push.example.test or example.test", outcome.noGateway);
	end);

	it("are fine on other HTTP hosts, other paths, a gateway turned off, or the instance's own earlier claim", function()
		local others = {
			claim("a.test", "a.test", "/push", GATEWAY),
			claim("push.b.test", "b.test", "/push", nil),
			claim("c.test", "c.test", "/push", GATEWAY),
		};
		assert.same({}, startup.checkClaim(others, claim("b.test", "b.test", "/push-b", GATEWAY)));
		assert.same({}, startup.checkClaim(others, claim("d.test", "d.test", "/push", GATEWAY)));
		assert.same({}, startup.checkClaim(others, claim("push.c.test", "c.test", "/push-c", nil)));
		assert.same({}, startup.checkClaim(others, claim("a.test", "a.test", "/push", GATEWAY)));
	end);
end);

describe("the published endpoint URL", function()
	local PROSODY_HOSTS = { ["example.test"] = true, ["other.test"] = true, ["push.example.test"] = true };
	local function problem(push_url, http_host, default_host)
		return startup.externalUrlProblem({
			pushUrl = push_url,
			httpHost = http_host or "example.test",
			isProsodyHost = function(host) return PROSODY_HOSTS[host] == true; end,
			defaultHost = default_host,
		});
	end

	it("is fine when it names the HTTP host the routes are for, in any case and with any port", function()
		assert.is_nil(problem("http://example.test:5280/push"));
		assert.is_nil(problem("https://EXAMPLE.test/push"));
		assert.is_nil(problem("https://example.test/push", "Example.Test"));
	end);

	it("is fine under a name Prosody does not serve when http_default_host is the HTTP host", function()
		assert.is_nil(problem("https://push.example.org/push", "example.test", "example.test"));
	end);

	it("warns when it names another of Prosody's hosts, whose apps would get the requests", function()
		assert.equal("endpoints are published under https://other.test/push (http_external_url) but served "
			.. "for HTTP host example.test: requests reaching Prosody with Host: other.test go to other.test's "
			.. "HTTP apps and answer 404. Set http_external_url in this host's section rather than globally, "
			.. "have your reverse proxy send Host: example.test", problem("https://other.test/push"));
		-- http_default_host does not apply to a name Prosody serves.
		assert.truthy(problem("https://other.test/push", "example.test", "example.test"));
	end);

	it("warns when it names a host Prosody does not serve and http_default_host is not the HTTP host", function()
		local text = problem("https://push.example.org/push");
		assert.truthy(text:find('get "Unknown host" and answer 404', 1, true), text);
		assert.truthy(text:find('or set http_default_host = "example.test"', 1, true), text);
		assert.truthy(problem("https://push.example.org/push", "example.test", "other.test"));
	end);
end);

describe("the load line", function()
	it("names the module, version, host, backend and where it serves", function()
		assert.equal("mod_unified_push 1.2.3 on example.test: paseto backend, endpoints under "
			.. "https://example.test/push/, Matrix push gateway https://example.test/_matrix/push/v1/notify",
			startup.announcement("1.2.3", "example.test", "paseto", "https://example.test/push",
				"https://example.test/_matrix/push/v1/notify"));
		assert.equal("mod_unified_push 1.2.3 on push.example.test: storage backend, endpoints under "
			.. "https://example.test/push/, no Matrix push gateway",
			startup.announcement("1.2.3", "push.example.test", "storage", "https://example.test/push", nil));
	end);
end);

describe("refusing to load", function()
	it("logs each problem on its own line, then raises a value that is not a string", function()
		local logged = {};
		local ok, err = pcall(startup.refuseToLoad, function(line) logged[#logged + 1] = line; end, "bad.test",
			{ "option a is wrong", "option b is wrong", "option c is wrong" });
		assert.is_false(ok);
		assert.same({ "option a is wrong", "option b is wrong", "option c is wrong" }, logged);
		-- debug.traceback, Prosody's handler, passes anything but a string through untouched.
		assert.equal("table", type(err));
		assert.equal(err, debug.traceback(err));
		assert.equal("not loaded on bad.test: the 3 problems logged above", tostring(err));
	end);
end);
