-- The UnifiedPush side of the tests: what a distributor and an app server do.
--
--   local up = require "unified_push";
--   local reg = assert(up.register(client, "example.test"));   -- reg.endpoint, reg.token, reg.expiration
--   local res = up.push(server, reg.endpoint, "body");          -- an http_client response
--   up.token_of(reg.endpoint)                                   -- the whole token
--   up.endpoint_for(reg.endpoint, other_token)                  -- same origin and shape, another token
--
-- This is the one endpoint parser of the specs: the other helpers use it.
require "prosody_libs";
local st = require "util.stanza";
local base64 = require "util.encodings".base64;
local http_util = require "util.http";
local random = require "util.random";
local new_id = require "util.id".short;
local http = require "http_client";

local up = {};

up.NS = "http://gultsch.de/xmpp/drafts/unified-push";

-- Endpoints: our module issues `<origin>/push/<first 8 characters>?<rest>`, each
-- part URL-encoded (a token of 8 characters or fewer is all in the path); the
-- whole token is the decoded path part followed by the decoded query. Endpoints
-- with the whole token in the path (`<origin>/push/<token>`, issued by the
-- reference module and by earlier versions) name the same token and still work.
up.PATH_CHARACTERS = 8;

-- Prosody's URL coding, the one the module uses: urlencode leaves only
-- [A-Za-z0-9.~_-] as they are; urldecode turns %XX back (and nothing else: no '+').
up.urlencode = http_util.urlencode;
up.urldecode = http_util.urldecode;

-- The parts of an endpoint: an absolute http(s) URL or a path such as "/push/x?y".
-- Returns { origin, authority, host, port, scheme, prefix, path, query, path_part,
-- query_part, token, shape }, or nil and why:
--   origin      "https://push.example.test" ("" for a bare path), authority its host[:port]
--   prefix      the path up to and with its last '/' ("/push/")
--   path, query the path and the query as sent (query nil when there is no '?')
--   target      path and query as a request line carries them
--   path_part   the last path segment, decoded; query_part the decoded query (or nil)
--   token       path_part .. (query_part or "")
--   shape       "split" (a query holds the rest, or the token fits in the path) or
--               "whole" (no query, and the path segment holds more than 8 characters)
function up.parse_endpoint(endpoint)
	if type(endpoint) ~= "string" then return nil, "not a string: " .. tostring(endpoint); end
	local origin, rest = endpoint:match("^(%a[%w+.-]*://[^/?#]+)(.*)$");
	if not origin then origin, rest = "", endpoint; end
	local path, query = rest:match("^([^?#]*)%??([^#]*)");
	if not path or path:sub(1, 1) ~= "/" then return nil, "no path in " .. endpoint; end
	if not rest:find("?", 1, true) then query = nil; end
	local prefix, segment = path:match("^(.*/)([^/]*)$");
	local parts = {
		origin = origin, prefix = prefix, path = path, query = query,
		target = path .. (query and "?" .. query or ""),
		path_part = up.urldecode(segment),
		query_part = query and up.urldecode(query) or nil,
	};
	if origin ~= "" then
		parts.scheme, parts.authority = origin:match("^(%a[%w+.-]*)://(.+)$");
		local host, port = parts.authority:match("^(.-):(%d+)$");
		parts.host, parts.port = host or parts.authority, tonumber(port);
	end
	parts.token = parts.path_part .. (parts.query_part or "");
	parts.shape = (query == nil and #parts.path_part > up.PATH_CHARACTERS) and "whole" or "split";
	return parts;
end

-- The whole token an endpoint names (raises if it is not an endpoint).
function up.token_of(endpoint)
	return assert(up.parse_endpoint(endpoint)).token;
end

-- The path and query naming `token` under `prefix` ("/push/"), in the given shape.
function up.token_path(prefix, token, shape)
	if shape == "whole" or #token <= up.PATH_CHARACTERS then
		return prefix .. up.urlencode(token);
	end
	return prefix .. up.urlencode(token:sub(1, up.PATH_CHARACTERS)) .. "?"
		.. up.urlencode(token:sub(up.PATH_CHARACTERS + 1));
end

-- An endpoint of the same origin and path prefix as `endpoint` for another token
-- (a tampered or truncated one, say), in the same shape unless `shape` is given
-- ("whole": the old style, all of the token in the path; "split": ours).
function up.endpoint_for(endpoint, token, shape)
	local parts = assert(up.parse_endpoint(endpoint));
	return parts.origin .. up.token_path(parts.prefix, token, shape or parts.shape);
end

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
		token = up.token_of(registered.attr.endpoint),
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
	return server.http_base .. assert(up.parse_endpoint(endpoint)).target;
end

-- POSTs `body` to an endpoint of `server`; returns the response or nil, error.
-- The request goes to the server's port, with the endpoint's host as Host header
-- (Prosody picks the HTTP host by it).
function up.push(server, endpoint, body, headers, method)
	local request_headers = { Host = assert(up.parse_endpoint(endpoint)).host or "example.test" };
	for name, value in pairs(headers or {}) do request_headers[name] = value; end
	return http.request({
		method = method or "POST",
		url = up.local_url(server, endpoint),
		headers = request_headers,
		body = body,
		timeout = 15,
	});
end

-- The Matrix push gateway: where a homeserver posts notifications and an app
-- looks for a gateway on the endpoint's server (Matrix Push Gateway API).
up.MATRIX_GATEWAY_PATH = "/_matrix/push/v1/notify";

-- Sends `body` (a notification's JSON text) to the Matrix gateway of `server`
-- for HTTP host `host`; `method` defaults to POST (GET: gateway discovery).
-- Returns the http_client response, or nil and an error.
function up.matrix_notify(server, host, body, method)
	return http.request({
		method = method or "POST",
		url = server.http_base .. up.MATRIX_GATEWAY_PATH,
		headers = { Host = host, ["Content-Type"] = body and "application/json" or nil },
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
