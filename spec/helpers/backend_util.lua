-- Shared steps of the backend integration specs: register over XMPP, POST to an
-- endpoint on the test server, look inside tokens, wait (bounded) for the clock.
--
--   local util = require "backend_util";
--   local endpoint, expires = util.register(client, "example.test", app, instance)
--   local res = util.push(server, endpoint, body)       -- http_client response
--   util.token(endpoint), util.tamper(endpoint), util.jwt_parts(token), util.token_key(token)
-- Endpoints are parsed by unified_push.lua's parser (util.token is up.token_of).

require "prosody_libs";
local st = require "util.stanza";
local new_id = require "util.id".short;
local base64 = require "util.encodings".base64;
local datetime = require "util.datetime";
local json = require "util.json";
local hashes = require "util.hashes";
local http = require "http_client";
local loop = require "loop";
local up = require "unified_push";

local util = {};

util.NS = "http://gultsch.de/xmpp/drafts/unified-push";

-- Standard base64 of 32 bytes, different for each seed (the distributor's hashes).
function util.hash(seed)
	local bytes = {};
	for i = 1, 32 do bytes[i] = string.char((seed * 31 + i * 7) % 256); end
	return base64.encode(table.concat(bytes));
end

-- The registration IQ a distributor sends.
function util.register_iq(host, application, instance)
	return st.iq({ type = "set", to = host, id = new_id() })
		:tag("register", { xmlns = util.NS, application = application, instance = instance });
end

-- Sends <register/> to the host; returns endpoint, expiry (epoch seconds), reply.
-- Raises with the reply when the service does not answer <registered/>.
function util.register(client, host, application, instance)
	local iq = util.register_iq(host, application, instance);
	local reply, err = client:request(iq, 10);
	assert(reply, "no answer to <register/>: " .. tostring(err));
	local registered = reply:get_child("registered", util.NS);
	assert(reply.attr.type == "result" and registered, "registration failed: " .. tostring(reply));
	local expires = datetime.parse(registered.attr.expiration or "");
	assert(expires, "expiration is not a XEP-0082 datetime: " .. tostring(registered.attr.expiration));
	return registered.attr.endpoint, expires, reply;
end

-- The endpoint's path (with its query) and authority: the request goes to the
-- test server's HTTP port, with the endpoint's own Host header.
local function split_url(endpoint)
	local parts = up.parse_endpoint(endpoint);
	assert(parts and parts.authority and parts.scheme:match("^https?$"), "not an http(s) URL: " .. tostring(endpoint));
	return parts.authority, parts.target;
end

-- POSTs body to endpoint on server; returns the http_client response (raises on no response).
function util.push(server, endpoint, body)
	local authority, path = split_url(endpoint);
	local res, err = http.request({
		method = "POST",
		url = server.http_base .. path,
		headers = { Host = authority, ["Content-Type"] = "application/octet-stream" },
		body = body,
		timeout = 15,
	});
	assert(res, "POST " .. path .. ": " .. tostring(err));
	return res;
end

-- The whole token in an endpoint (path part and query, URL-decoded).
util.token = up.token_of;

-- The endpoint with one token character near the middle of the whole token
-- replaced by another of the same alphabet (so the token stays well-formed, only
-- wrong), rebuilt with the same origin and shape.
function util.tamper(endpoint)
	local token = up.token_of(endpoint);
	local i = #token // 2 + 1;
	while i <= #token and not token:sub(i, i):match("%w") do i = i + 1; end
	assert(i <= #token, "no character to change in the token");
	local old = token:sub(i, i);
	local new = old == "A" and "B" or "A";
	local tampered = token:sub(1, i - 1) .. new .. token:sub(i + 1);
	assert(tampered ~= token and #tampered == #token);
	return up.endpoint_for(endpoint, tampered);
end

-- The key the storage backend keeps a token's record under: the first 32 hex
-- digits of its SHA-256 (what the module's tokenKey computes).
function util.token_key(token)
	return hashes.sha256(token, true):sub(1, 32);
end

-- base64url (no padding) to bytes.
function util.base64url_decode(s)
	local std = s:gsub("-", "+"):gsub("_", "/");
	std = std .. string.rep("=", (4 - #std % 4) % 4);
	return base64.decode(std);
end

-- A JWT's header and payload, decoded from JSON; nil and why if it is not a JWT.
function util.jwt_parts(token)
	local header, payload, signature = token:match("^([%w_%-]+)%.([%w_%-]+)%.([%w_%-]+)$");
	if not header then return nil, "not three base64url parts: " .. token; end
	local decoded_header = json.decode(util.base64url_decode(header) or "");
	local decoded_payload = json.decode(util.base64url_decode(payload) or "");
	if type(decoded_header) ~= "table" or type(decoded_payload) ~= "table" then
		return nil, "header or payload is not JSON";
	end
	return decoded_header, decoded_payload, signature;
end

-- Runs the loop until os.time() is past t (bounded); true once it is.
function util.wait_until_past(t, timeout)
	return loop.run_until(function() return os.time() > t; end, timeout);
end

-- True if another IQ get/set reaches the client within seconds (bounded).
function util.another_iq_arrives(client, seconds)
	local before = #client.received;
	return loop.run_until(function() return #client.received > before; end, seconds);
end

-- A fresh directory for Prosody's data, removed by util.remove_dir.
function util.temp_dir()
	local pipe = assert(io.popen("mktemp -d /tmp/mup-backends.XXXXXXXX"));
	local dir = pipe:read("*l");
	pipe:close();
	assert(dir and dir:match("^/tmp/mup%-backends%.%w+$"), "mktemp failed");
	return dir;
end

function util.remove_dir(dir)
	if dir and dir:match("^/tmp/mup%-backends%.%w+$") then
		os.execute("rm -rf '" .. dir .. "'");
	end
end

return util;
