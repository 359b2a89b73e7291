-- Unit: the RFC 8030 request headers a push may carry (TTL, Urgency, Topic), as
-- Prosody hands them over (lower-case names). Pure Lua: it also runs under the
-- other Lua versions (spec/unit/lua_versions_spec.lua).
local pushheaders = require "pushheaders";

local TOPIC_32 = ("Az09_-xY"):rep(4);

describe("the push request headers", function()
	-- headers -> { ttl, urgency, topic } that the push is sent with (no TTL header: no ttl).
	local accepted = {
		{ "no headers at all", {}, { urgency = "normal" } },
		{ "TTL 0", { ttl = "0" }, { ttl = 0, urgency = "normal" } },
		{ "TTL 60", { ttl = "60" }, { ttl = 60, urgency = "normal" } },
		{ "TTL with leading zeros", { ttl = "007" }, { ttl = 7, urgency = "normal" } },
		{ "a TTL of a year", { ttl = "31536000" }, { ttl = 31536000, urgency = "normal" } },
		{ "a TTL above a year, taken as a year", { ttl = "99999999999" }, { ttl = 31536000, urgency = "normal" } },
		{ "Urgency very-low", { urgency = "very-low" }, { urgency = "very-low" } },
		{ "Urgency low", { urgency = "low" }, { urgency = "low" } },
		{ "Urgency normal", { urgency = "normal" }, { urgency = "normal" } },
		{ "Urgency high", { urgency = "high" }, { urgency = "high" } },
		{ "Urgency in any case", { urgency = "Very-LOW" }, { urgency = "very-low" } },
		{ "a one-character Topic", { topic = "a" }, { urgency = "normal", topic = "a" } },
		{ "a 32-character Topic", { topic = TOPIC_32 }, { urgency = "normal", topic = TOPIC_32 } },
		{ "all three", { ttl = "86400", urgency = "low", topic = "inbox" }, { ttl = 86400, urgency = "low", topic = "inbox" } },
	};
	for _, case in ipairs(accepted) do
		it("takes " .. case[1], function()
			local problem, ttl, urgency, topic = pushheaders.parsePushHeaders(case[2]);
			assert.is_nil(problem);
			assert.same(case[3], { ttl = ttl, urgency = urgency, topic = topic });
		end);
	end

	-- headers -> the reason given (the 400's body).
	local TTL = "TTL must be a whole number of seconds";
	local URGENCY = "Urgency must be very-low, low, normal or high";
	local TOPIC = "Topic must be 1 to 32 characters of the base64url alphabet";
	local refused = {
		{ "a negative TTL", { ttl = "-1" }, TTL },
		{ "a fractional TTL", { ttl = "1.5" }, TTL },
		{ "a TTL in words", { ttl = "soon" }, TTL },
		{ "an empty TTL", { ttl = "" }, TTL },
		{ "a TTL with a space", { ttl = " 60" }, TTL },
		{ "a TTL in hexadecimal", { ttl = "0x10" }, TTL },
		{ "an unknown Urgency", { urgency = "urgent" }, URGENCY },
		{ "an empty Urgency", { urgency = "" }, URGENCY },
		{ "a 33-character Topic", { topic = TOPIC_32 .. "x" }, TOPIC },
		{ "an empty Topic", { topic = "" }, TOPIC },
		{ "a Topic with a space", { topic = "has space" }, TOPIC },
		{ "a Topic outside base64url", { topic = "a+b/c=" }, TOPIC },
		{ "a good TTL with a bad Urgency", { ttl = "60", urgency = "asap" }, URGENCY },
		{ "a good Urgency with a bad Topic", { urgency = "high", topic = "bad!" }, TOPIC },
	};
	for _, case in ipairs(refused) do
		it("refuses " .. case[1], function()
			local problem, ttl, urgency, topic = pushheaders.parsePushHeaders(case[2]);
			assert.equal(case[3], problem);
			assert.is_nil(ttl);
			assert.is_nil(urgency);
			assert.is_nil(topic);
		end);
	end
end);
