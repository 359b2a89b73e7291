-- Bench only: the relay floor, the least any module can do per push. It answers
-- a registration with a short token (a counter) kept in a Lua table with the
-- distributor's full JID; a POST to /push/<token> becomes one push IQ with the
-- base64 body, and the distributor's answer sends 201 (503 for an error). No
-- token cryptography, storage, checks, limits, promises or timeouts: a measuring
-- instrument for `npm run bench` ("ours of floor"), not a product. bench/run.mjs
-- loads it under the name unified_push, so the same distributors and load reach it.
local st = require "util.stanza";
local base64 = require "util.encodings".base64;

local NS = "http://gultsch.de/xmpp/drafts/unified-push";

module:depends("http");

local targets = {}; -- token -> { full JID, application, instance }
local waiting = {}; -- IQ id -> the HTTP response waiting for its answer
local last_token, last_id = 0, 0;
local base;

module:hook("iq-set/host/" .. NS .. ":register", function(event)
	local stanza = event.stanza;
	local register = stanza.tags[1];
	last_token = last_token + 1;
	local token = tostring(last_token);
	targets[token] = { stanza.attr.from, register.attr.application, register.attr.instance };
	base = base or module:http_url("push", "/push");
	event.origin.send(st.reply(stanza):tag("registered", {
		xmlns = NS, expiration = "2099-01-01T00:00:00Z", endpoint = base .. "/" .. token,
	}));
	return true;
end);

-- Answers to our pushes, before mod_iq looks for per-id handlers.
module:hook("iq/host", function(event)
	local stanza = event.stanza;
	local kind = stanza.attr.type;
	if kind ~= "result" and kind ~= "error" then return; end
	local response = waiting[stanza.attr.id];
	if not response then return; end
	waiting[stanza.attr.id] = nil;
	response.status_code = kind == "result" and 201 or 503;
	response:send("");
	return true;
end, 10);

module:provides("http", {
	name = "push";
	default_path = "/push";
	-- No per-request CORS work from mod_http: any module can switch it off, and ours
	-- answers CORS itself (only to browsers), so a floor that paid for it would flatter ours.
	cors = { enabled = false };
	route = {
		["POST /*"] = function(event, token)
			local target = targets[token];
			if not target then return 404; end
			last_id = last_id + 1;
			local id = "f" .. last_id;
			waiting[id] = event.response;
			module:send(st.iq({ type = "set", from = module.host, to = target[1], id = id })
				:text_tag("push", base64.encode(event.request.body), { xmlns = NS, application = target[2], instance = target[3] }));
			return true;
		end;
		-- The load generator's connection check before the clock starts.
		["GET /*"] = function()
			return 200;
		end;
	};
});
