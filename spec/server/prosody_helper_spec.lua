-- spec/helpers/prosody.lua against a real Prosody: components, restarts,
-- HTTP, and the failures the helper must report.
local prosody = require "prosody";
local xmpp = require "xmpp_client";
local http = require "http_client";
local up = require "unified_push";

local function write_temp(text)
	local path = os.tmpname();
	local f = assert(io.open(path, "w"));
	f:write(text);
	f:close();
	return path;
end

describe("prosody helper", function()
	describe("with a component and the admin shell", function()
		local server;
		setup(function()
			server = prosody.start({
				users = { { "alice", "example.test", "password" } },
				modules = { "admin_shell" },
				components = { ["push.example.test"] = { module = "unified_push", options = {
					http_host = "example.test",
					modules_enabled = { "disco" }, -- components do not inherit it
				} } },
				http_external_url = "http://push.example.test/",
			});
		end);
		teardown(function() if server then server:cleanup(); end end);

		it("loads the module on the component", function()
			local client = xmpp.connect({ port = server.c2s_port, host = "example.test", user = "alice", password = "password" });
			local features = assert(client:disco_info("push.example.test"));
			client:close();
			assert.truthy(table.concat(features, " "):find(up.NS, 1, true));
		end);

		it("keeps the admin socket in its own directory", function()
			assert.truthy(os.execute("test -S '" .. server.dir .. "/prosody.sock'"), "no admin socket in " .. server.dir);
		end);

		it("serves HTTP on its own port", function()
			local res = assert(http.request({ url = server.http_base .. "/no-such-path", timeout = 5 }));
			assert.equal(404, res.status);
		end);

		it("restarts on the same ports with the same accounts", function()
			local c2s_port, http_port = server.c2s_port, server.http_port;
			server:restart();
			assert.same({ c2s_port, http_port }, { server.c2s_port, server.http_port });
			local client = xmpp.connect({ port = server.c2s_port, host = "example.test", user = "alice", password = "password" });
			assert.truthy(client.full_jid);
			client:close();
			server:assert_log_clean();
		end);
	end);

	it("reports error lines and tracebacks from the log", function()
		local broken = write_temp("error('boom: this module cannot load')\n");
		local server = prosody.start({ module_file = broken, module_name = "broken", modules = { "broken" } });
		finally(function() server:cleanup(); os.remove(broken); end);
		assert.truthy(server:wait_log("boom: this module cannot load", 5, true));
		local ok, err = pcall(server.assert_log_clean, server);
		assert.is_false(ok);
		assert.truthy(tostring(err):find("boom: this module cannot load", 1, true));
		assert.truthy(server:assert_log_clean({ allow = { "boom", "^%s" , "traceback" } }));
	end);

	it("fails with the log tail when Prosody exits during startup", function()
		local ok, err = pcall(prosody.start, { config = "this is not lua" });
		assert.is_false(ok);
		err = tostring(err);
		local dir = err:match("(/tmp/mup%-server%.%w+)/");
		if dir then os.execute("rm -rf '" .. dir .. "'"); end
		assert.truthy(err:find("exited during startup", 1, true), err);
		assert.truthy(err:find("syntax error", 1, true), err); -- Prosody's own complaint
	end);
end);
