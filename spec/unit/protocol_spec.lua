-- Unit: the registration attribute rule and the stanzas we build, against
-- Prosody's real util.encodings, util.stanza and util.datetime.
local protocol = require "protocol";
local base64 = require "util.encodings".base64;
local st = require "util.stanza";

local function b64_of(n) return base64.encode(string.rep("\171", n)); end

describe("a register attribute", function()
	local cases = {
		{ "a valid 32-byte hash", b64_of(32), nil },
		{ "a missing attribute", nil, "application: missing" },
		{ "an empty attribute", "", "application: missing" },
		{ "characters outside base64", string.rep("!", 44), "application: not base64" },
		{ "base64url instead of base64", (b64_of(32):gsub("[+/]", "-")):gsub("^.", "-"), "application: not base64" },
		{ "misplaced padding", "YW=Jj" .. string.rep("A", 39), "application: not base64" },
		{ "a length that is not a multiple of 4", b64_of(32):sub(1, 43), "application: not base64" },
		{ "31 bytes", b64_of(31), "application: decodes to 31 bytes, expected 32" },
		{ "33 bytes", b64_of(33), "application: decodes to 33 bytes, expected 32" },
		{ "64 bytes", b64_of(64), "application: decodes to 64 bytes, expected 32" },
	};
	for _, case in ipairs(cases) do
		it("gives " .. tostring(case[3]) .. " for " .. case[1], function()
			assert.equal(case[3], protocol.hashAttributeProblem("application", case[2]));
		end);
	end
end);

describe("the push IQ", function()
	it("carries every byte of a binary body, base64-encoded, with the registration's names", function()
		local bytes = {};
		for i = 0, 255 do bytes[#bytes + 1] = string.char(i); end
		local body = table.concat(bytes);
		local iq = protocol.pushIq("example.test", "alice@example.test/phone", "p1", "APP", "INST", body);
		assert.same({ type = "set", from = "example.test", to = "alice@example.test/phone", id = "p1" }, iq.attr);
		local push = iq:get_child("push", protocol.NS);
		assert.equal("APP", push.attr.application);
		assert.equal("INST", push.attr.instance);
		assert.equal(body, base64.decode(push:get_text()));
	end);
end);

describe("the registered reply", function()
	it("answers the request with endpoint and an XEP-0082 UTC expiry", function()
		local request = st.iq({ type = "set", id = "r1", from = "alice@example.test/phone", to = "example.test" })
			:tag("register", { xmlns = protocol.NS });
		local answer = protocol.registeredReply(request, "https://example.test/push/T", 86400 * 365);
		assert.equal("result", answer.attr.type);
		assert.equal("r1", answer.attr.id);
		local registered = answer:get_child("registered", protocol.NS);
		assert.equal("https://example.test/push/T", registered.attr.endpoint);
		assert.equal("1971-01-01T00:00:00Z", registered.attr.expiration);
	end);
end);
