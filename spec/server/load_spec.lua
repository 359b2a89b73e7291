-- The built module loads into a real Prosody (docs/design.md, "Startup"): on
-- several VirtualHosts and a component, with the admin shell and statistics, it
-- says which module and version serve where, and a correct configuration logs
-- nothing an operator must act on. A host with wrong options gets every one of
-- them on a line of its own and no traceback, and the others keep serving.
local up = require "unified_push";
local prosody = require "prosody";

-- The version the built file says it is (its first line, from package.json).
local function built_version(server)
	local file = assert(io.open(server.module_file or "dist/mod_unified_push.lua"));
	local first = file:read("*l");
	file:close();
	return assert(first:match("^%-%- mod_unified_push (%S+):"), first);
end

local BAD_OPTIONS = {
	unified_push_registration_ttl = "1 day",
	unified_push_iq_timeout = 0,
	unified_push_backend = "redis",
};

describe("mod_unified_push in a real Prosody", function()
	local f = up.fixture({
		hosts = { "example.test", "second.test", "bad.test", "plain.test" },
		modules = { "unified_push", "admin_shell", "http_openmetrics" },
		config = { statistics = "internal", statistics_interval = "manual" },
		host_options = {
			["bad.test"] = BAD_OPTIONS,
			-- plain.test serves HTTP for the component only.
			["plain.test"] = { modules_disabled = { "unified_push" } },
		},
		components = {
			["push.plain.test"] = { module = "unified_push", options = {
				http_host = "plain.test",
				modules_enabled = { "disco" },
			} },
			-- For example.test's users too, on an HTTP host of its own.
			["push.example.test"] = { module = "unified_push", options = { modules_enabled = { "disco" } } },
		},
	});

	it("binds the client's resource", function()
		assert.equal("alice@example.test/phone", f.client.full_jid);
	end);

	it("advertises the UnifiedPush feature on the host", function()
		local features = assert(f.client:disco_info("example.test"));
		assert.truthy(table.concat(features, "\n"):find(up.NS, 1, true),
			"features: " .. table.concat(features, ", "));
	end);

	it("says once per host which module and version serve where", function()
		local version = built_version(f.server);
		local backend = prosody.major >= 13 and "paseto" or "storage";
		local origin = "http://%s:" .. f.server.http_port;
		local expected = {
			["example.test"] = origin:format("example.test"),
			["second.test"] = origin:format("second.test"),
			["push.plain.test"] = origin:format("plain.test"),
			["push.example.test"] = origin:format("push.example.test"),
		};
		for host, base in pairs(expected) do
			local line = ("mod_unified_push %s on %s: %s backend, endpoints under %s/push/, Matrix push gateway %s/_matrix/push/v1/notify")
				:format(version, host, backend, base, base);
			assert(f.server:wait_log(host .. ":unified_push\tinfo\t" .. line, 5, true), "no load line: " .. line);
			assert.equal(1, #up.lines_with(f.server:log(), "mod_unified_push " .. version .. " on " .. host .. ":"));
		end
	end);

	it("reports every wrong option of a host, one line each, and no traceback", function()
		assert(f.server:wait_log("Error initializing module 'unified_push' on 'bad.test'", 5, true));
		local errors = f.server:log_lines("error", "bad.test:unified_push");
		assert.same({
			'option unified_push_backend must be one of ' .. (prosody.major >= 13 and "paseto, storage, jwt" or "storage, jwt") .. ' (got "redis")',
			'option unified_push_registration_ttl must be a whole number from 1 to 31536000 (got "1 day")',
			"option unified_push_iq_timeout must be a whole number from 1 to 300 (got 0)",
		}, (function()
			local messages = {};
			for i, line in ipairs(errors) do messages[i] = line:match("\terror\t(.*)$"); end
			return messages;
		end)());
		assert.truthy(f.server:log():find(
			"Error initializing module 'unified_push' on 'bad.test': not loaded on bad.test: the 3 problems logged above\n", 1, true));
		assert.falsy(f.server:log():find("stack traceback", 1, true), "a traceback in the log");
	end);

	it("serves the other hosts while the module is not loaded on the refused one", function()
		local registered = f:register();
		local res, pushes = f:post(registered.endpoint, "still serving");
		assert.equal(201, res.status);
		assert.equal("still serving", pushes[1] and pushes[1].body);
		local features = assert(f.client:disco_info("bad.test"));
		assert.falsy(table.concat(features, "\n"):find(up.NS, 1, true), "bad.test advertises the feature");
	end);

	-- 0.12's admin shell takes no commands from modules (operability_spec.lua).
	if prosody.major >= 13 then
		it("keeps its server-wide shell command out of the hosts' items, where the admin shell finds no host_selector for it", function()
			for _, host in ipairs({ "example.test", "second.test", "push.plain.test", "push.example.test" }) do
				local missing = f.server:eval(([[local n = 0; ]]
					.. [[for _, c in ipairs(hosts[%q].modules.unified_push.module.items["shell-command"] or {}) do ]]
					.. [[if type(c.host_selector) ~= "string" then n = n + 1; end end; return n]]):format(host));
				assert.equal("0", missing, host);
			end
			local ok, output = f.server:shell("unified_push:stats()");
			assert.is_true(ok, output);
			assert.truthy(output:find("OK: 4 hosts", 1, true), output);
		end);

		it("lists a user's registrations with every service for the user's host", function()
			up.must_register(f.client, "push.example.test");
			local ok, output = f.server:shell('unified_push:list("alice@example.test")');
			assert.is_true(ok, output);
			assert.truthy(("\n" .. output):find("\nexample.test:\n", 1, true), output);
			assert.truthy(("\n" .. output):find("\npush.example.test:\n", 1, true), output);
			assert.truthy(output:find("push.example.test: 1 push registration of alice@example.test", 1, true), output);
		end);
	end

	it("logs nothing at warn or above but the refused host's option errors", function()
		-- Every host has loaded its modules once each has said it is ready.
		for _, host in ipairs({ "example.test", "second.test", "push.plain.test", "push.example.test" }) do
			assert(f.server:wait_log(host .. ":unified_push\tinfo\tmod_unified_push ", 10, true), "no load line of " .. host);
		end
		local others = {};
		for _, line in ipairs(f.server:warnings()) do
			if not line:find("bad.test", 1, true) then others[#others + 1] = line; end
		end
		assert.same({}, others);
		assert.equal(4, #f.server:warnings());
	end);
end);
