-- Shared steps of the push specs: register a distributor, send HTTP requests to
-- the push resource the way an app server would, and look at the push IQs the
-- distributor received.
--
--   local push = push_util.new(server, "example.test")
--   local reg = push_util.register(client, "example.test")
--     -> { endpoint, expiration, application, instance, token }  (token: the whole token)
--   push:request("POST", reg.endpoint, { body = "hi" })   endpoint URL or "/path"
--   push.responses                  every response received, with what was asked
--   push_util.pushes(client, after) push IQs received after index `after`
--   push_util.sync(client, host)    round trip: stanzas sent before it have arrived
--   push_util.traceback_in(text)    true when text looks like a Lua traceback

require "prosody_libs";
local st = require "util.stanza";
local base64 = require "util.encodings".base64;
local new_id = require "util.id".short;
local http = require "http_client";
local up = require "unified_push";

local push_util = {};

push_util.NS = "http://gultsch.de/xmpp/drafts/unified-push";
local xmlns_ping = "urn:xmpp:ping";

local request_timeout = 10;

-- Distinct 32-byte values, standing in for the salted SHA-256 hashes a
-- distributor sends as application and instance.
local hashes_made = 0;
local function new_hash()
	hashes_made = hashes_made + 1;
	local bytes = {};
	for i = 1, 32 do
		bytes[i] = string.char((hashes_made * 37 + i * 11) % 256);
	end
	return base64.encode(table.concat(bytes));
end

-- Registers the client with the push service on host; raises unless it
-- got an endpoint of our shape: <origin>/push/<at most 8 characters>[?<rest>].
function push_util.register(client, host)
	local application, instance = new_hash(), new_hash();
	local reply, err = client:request(st.iq({ type = "set", to = host, id = new_id() })
		:tag("register", { xmlns = push_util.NS, application = application, instance = instance }), request_timeout);
	assert(reply, "registration got no reply: " .. tostring(err));
	assert(reply.attr.type == "result", "registration refused: " .. tostring(reply));
	local registered = assert(reply:get_child("registered", push_util.NS),
		"no <registered/> in the answer: " .. tostring(reply));
	local endpoint = assert(registered.attr.endpoint, "no endpoint in " .. tostring(reply));
	local parts = up.parse_endpoint(endpoint);
	assert(parts and parts.scheme and parts.scheme:match("^https?$") and parts.prefix == "/push/"
		and parts.shape == "split" and #parts.path_part <= up.PATH_CHARACTERS,
		"endpoint is not <origin>/push/<first 8 characters>?<rest>: " .. endpoint);
	return {
		endpoint = endpoint;
		expiration = registered.attr.expiration;
		application = application;
		instance = instance;
		token = parts.token;
	};
end

function push_util.traceback_in(text)
	text = text or "";
	return text:find("stack traceback", 1, true) ~= nil or text:find(".lua:", 1, true) ~= nil;
end

-- Push IQs (set, with a <push/> child) received after the first `after` IQs.
function push_util.pushes(client, after)
	local found = {};
	for i = (after or 0) + 1, #client.received do
		local stanza = client.received[i];
		if stanza.attr.type == "set" and stanza:get_child("push", push_util.NS) then
			found[#found + 1] = stanza;
		end
	end
	return found;
end

-- Pings the host and waits for the answer. The server writes to one stream in
-- order, so every stanza it sent the client before the pong has arrived.
function push_util.sync(client, host)
	local reply, err = client:request(st.iq({ type = "get", to = host, id = new_id() })
		:tag("ping", { xmlns = xmlns_ping }), request_timeout);
	assert(reply, "ping to " .. host .. " got no reply: " .. tostring(err));
	assert(reply.attr.type == "result", "ping refused: " .. tostring(reply));
end

local pusher_mt = {};
pusher_mt.__index = pusher_mt;

-- One HTTP request to the push resource. `target` is an endpoint URL (its
-- origin is replaced by the server's address, its authority kept as the Host
-- header, since test hosts are not in DNS) or a path such as "/push/x".
-- options: body, headers, timeout. Returns the response, raises if none came.
function pusher_mt:request(method, target, options)
	options = options or {};
	local parts = up.parse_endpoint(target);
	assert(parts, "not an endpoint URL or path: " .. target);
	assert(parts.origin == "" or parts.scheme:match("^https?$"), "not an http(s) URL: " .. target);
	local url, host = self.server.http_base .. parts.target, parts.authority or self.host;
	local headers = { Host = host };
	for name, value in pairs(options.headers or {}) do headers[name] = value; end
	local response, err = http.request({
		method = method; url = url; headers = headers; body = options.body;
		timeout = options.timeout or request_timeout;
	});
	assert(response, method .. " " .. url .. " got no response: " .. tostring(err));
	self.responses[#self.responses + 1] = { method = method; url = url; response = response };
	return response;
end

function push_util.new(server, host)
	return setmetatable({ server = server; host = host; responses = {} }, pusher_mt);
end

return push_util;
