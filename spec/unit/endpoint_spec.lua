-- Unit: where the token sits in an endpoint URL.
local endpoint = require "endpoint";
local http = require "util.http";

describe("an endpoint path", function()
	local cases = {
		{ "a short token stays in the path", "abc", "abc" },
		{ "eight characters stay in the path", "abcdefgh", "abcdefgh" },
		{ "the rest goes in the query", "abcdefghijk", "abcdefgh?ijk" },
		{ "a paseto token", "v3.local.AbC-_x", "v3.local?.AbC-_x" },
	};
	for _, case in ipairs(cases) do
		it(case[1], function()
			local path = endpoint.endpointPath(case[2], http.urlencode);
			assert.equal(case[3], path);
			local head, query = path:match("^([^?]*)%??(.*)$");
			assert.equal(case[2], endpoint.tokenOf(http.urldecode(head), query ~= "" and query or nil, http.urldecode));
		end);
	end

	it("decodes an escaped query", function()
		assert.equal("abcdefgh?i j", endpoint.tokenOf("abcdefgh", "%3Fi%20j", http.urldecode));
	end);

	it("keeps accepting the whole token in the path", function()
		assert.equal("v3.local.whole", endpoint.tokenOf("v3.local.whole", nil, http.urldecode));
	end);
end);
