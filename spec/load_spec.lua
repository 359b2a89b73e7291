-- The built module loads into a real Prosody and announces its feature.
local prosody = require "prosody";
local xmpp = require "xmpp_client";

local NS = "http://gultsch.de/xmpp/drafts/unified-push";

describe("mod_unified_push in a real Prosody", function()
	local server, client;

	setup(function()
		server = prosody.start({
			hosts = { "example.test" },
			users = { { "alice", "example.test", "password" } },
			modules = { "unified_push" },
		});
		client = xmpp.connect({
			port = server.c2s_port, host = "example.test",
			user = "alice", password = "password", resource = "phone",
		});
	end);

	teardown(function()
		if client then client:close(); end
		if server then server:cleanup(); end
	end);

	it("binds the client's resource", function()
		assert.equal("alice@example.test/phone", client.full_jid);
	end);

	it("advertises the UnifiedPush feature on the host", function()
		local features = assert(client:disco_info("example.test"));
		assert.truthy(table.concat(features, "\n"):find(NS, 1, true),
			"features: " .. table.concat(features, ", "));
	end);

	it("runs the module on the host", function()
		-- Any log line from the module's own logger means its code ran there.
		assert.truthy(server:wait_log("%sexample%.test:unified_push\t%a+\t", 5),
			"no log line from example.test:unified_push");
		assert.falsy(server:log():find("Error initializing module 'unified_push'", 1, true));
	end);

	it("leaves a clean log", function()
		server:assert_log_clean();
	end);
end);
