-- The built module loads into a real Prosody and announces its feature.
local up = require "unified_push";

describe("mod_unified_push in a real Prosody", function()
	local f = up.fixture();

	it("binds the client's resource", function()
		assert.equal("alice@example.test/phone", f.client.full_jid);
	end);

	it("advertises the UnifiedPush feature on the host", function()
		local features = assert(f.client:disco_info("example.test"));
		assert.truthy(table.concat(features, "\n"):find(up.NS, 1, true),
			"features: " .. table.concat(features, ", "));
	end);

	it("runs the module on the host", function()
		-- Any log line from the module's own logger means its code ran there.
		assert.truthy(f.server:wait_log("%sexample%.test:unified_push\t%a+\t", 5),
			"no log line from example.test:unified_push");
		assert.falsy(f.server:log():find("Error initializing module 'unified_push'", 1, true));
	end);

	it("leaves a clean log", function()
		f.server:assert_log_clean();
	end);
end);
