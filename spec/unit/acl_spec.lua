-- Unit: who may register (unified_push_acl), against Prosody's real util.jid. The
-- entries reach it normalised (src/config.ts); senders are full JIDs as the
-- server stamps them.
local acl = require "acl";

describe("the registration ACL", function()
	local ACL = { "example.test", "bob@other.test" };
	local cases = {
		{ "a user of a listed domain", "alice@example.test/phone", true },
		{ "another resource of that user", "alice@example.test/tablet", true },
		{ "a listed bare JID, any resource", "bob@other.test/laptop", true },
		{ "another user of a domain listed only by one JID", "carol@other.test/phone", false },
		{ "a subdomain of a listed domain", "alice@push.example.test/phone", false },
		{ "a domain that ends like a listed one", "alice@badexample.test/phone", false },
		{ "a parent of a listed domain", "alice@test/phone", false },
		{ "no sender", nil, false },
	};
	for _, case in ipairs(cases) do
		it((case[3] and "lets in " or "keeps out ") .. case[1], function()
			assert.equal(case[3], acl.isPermitted(ACL, case[2]));
		end);
	end

	it("lets nobody in with an empty list", function()
		assert.is_false(acl.isPermitted({}, "alice@example.test/phone"));
	end);
end);
