-- The UnifiedPush side of the tests: what a distributor and an app server do.
--
--   local up = require "unified_push";
--   local reg = assert(up.register(client, "example.test"));   -- reg.endpoint, reg.token, reg.expiration
--   local res = up.push(server, reg.endpoint, "body");          -- an http_client response
local st = require "util.stanza";
local base64 = require "util.encodings".base64;
local random = require "util.random";
local new_id = require "util.id".short;
local http = require "http_client";

local up = {};

up.NS = "http://gultsch.de/xmpp/drafts/unified-push";

-- A fresh application or instance value: base64 of 32 random bytes.
function up.hash()
	return base64.encode(random.bytes(32));
end

-- The registration IQ, with attributes as given (nil leaves one out).
function up.register_iq(service, application, instance, iq_type)
	return st.iq({ type = iq_type or "set", to = service, id = new_id() })
		:tag("register", { xmlns = up.NS, application = application, instance = instance });
end

-- Registers `client` with `service`. Returns { endpoint, expiration, token,
-- application, instance, reply }, or nil, the reply (an error stanza) or "timeout".
function up.register(client, service, options)
	options = options or {};
	local application = options.application or up.hash();
	local instance = options.instance or up.hash();
	local reply, err = client:request(up.register_iq(service, application, instance), options.timeout or 10);
	if not reply then return nil, err; end
	local registered = reply.attr.type == "result" and reply:get_child("registered", up.NS);
	if not registered then return nil, reply; end
	return {
		endpoint = registered.attr.endpoint,
		expiration = registered.attr.expiration,
		token = registered.attr.endpoint:match("/([^/]*)$"),
		application = application,
		instance = instance,
		reply = reply,
	};
end

-- A ping to `service`: once its answer is back, the server has processed everything
-- this client sent before it (one stream, in order).
function up.ping(client, service)
	return client:request(st.iq({ type = "get", to = service, id = new_id() }):tag("ping", { xmlns = "urn:xmpp:ping" }), 5);
end

-- type, condition and text of an error reply.
function up.error_of(reply)
	if type(reply) ~= "table" then return nil; end
	return reply:get_error();
end

-- The endpoint's path on this test server (endpoints name hosts that are not in DNS).
function up.local_url(server, endpoint)
	local path = endpoint:match("^%a+://[^/]+(/.*)$") or endpoint;
	return server.http_base .. path;
end

-- POSTs `body` to an endpoint of `server`; returns the response or nil, error.
-- The request goes to the server's port, with the endpoint's host as Host header
-- (Prosody picks the HTTP host by it).
function up.push(server, endpoint, body, headers, method)
	local request_headers = { Host = endpoint:match("^%a+://([^:/]+)") or "example.test" };
	for name, value in pairs(headers or {}) do request_headers[name] = value; end
	return http.request({
		method = method or "POST",
		url = up.local_url(server, endpoint),
		headers = request_headers,
		body = body,
		timeout = 15,
	});
end

-- The pushes a client received: { application, instance, from, body } each.
function up.pushes(client)
	local found = {};
	for _, iq in ipairs(client.received) do
		local push = iq:get_child("push", up.NS);
		if push then
			found[#found + 1] = {
				from = iq.attr.from,
				application = push.attr.application,
				instance = push.attr.instance,
				body = base64.decode(push:get_text()),
			};
		end
	end
	return found;
end

return up;
