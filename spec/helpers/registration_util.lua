-- Shared by the registration and deployment specs: building <register/> IQs,
-- reading the answers, and pushing to an endpoint through the server's real
-- HTTP port.
--
--   local reg = require "registration_util";
--   reg.NS
--   reg.hash(seed)                    -> standard base64 of 32 bytes (what distributors send)
--   reg.iq(service, type)             -> an <iq/> with an id (Prosody 13's st.iq requires one)
--   reg.register_iq(service, attrs, type) -> <iq><register/></iq> (attrs as given, nil = absent)
--   reg.register(client, service, application, instance) -> reply stanza (or error)
--   reg.registered(reply)             -> the <registered/> element, or nil and why
--   reg.error_of(reply)               -> { type, condition, text } of an error reply, or nil
--   reg.parse_utc(text)               -> seconds since the epoch of "YYYY-MM-DDThh:mm:ssZ", or nil
--   reg.split_url(url)                -> the parts of an http(s) endpoint (unified_push.parse_endpoint:
--                                        scheme, host, port, authority, path, query, target, token, ...) or nil
--   reg.token(endpoint)               -> the whole token of an endpoint (unified_push.token_of)
--   reg.post(server, endpoint, body, host_header) -> HTTP response (or nil, err)

require "prosody_libs";
local st = require "util.stanza";
local hashes = require "util.hashes";
local base64 = require "util.encodings".base64;
local new_id = require "util.id".short;
local http = require "http_client";
local up = require "unified_push";

local reg = {};

reg.NS = "http://gultsch.de/xmpp/drafts/unified-push";

-- A distributor sends salted SHA-256 hashes; a seed gives a stable one per test.
function reg.hash(seed)
	return base64.encode(hashes.sha256(seed));
end

function reg.iq(service, iq_type)
	return st.iq({ type = iq_type or "set", to = service, id = new_id() });
end

function reg.register_iq(service, attrs, iq_type)
	local register = { xmlns = reg.NS };
	for name, value in pairs(attrs or {}) do register[name] = value; end
	return reg.iq(service, iq_type):tag("register", register):up();
end

function reg.register(client, service, application, instance, timeout)
	return client:request(reg.register_iq(service, { application = application, instance = instance }), timeout or 5);
end

function reg.registered(reply)
	if not reply then return nil, "no reply"; end
	if reply.attr.type ~= "result" then return nil, "not a result: " .. tostring(reply); end
	local registered = reply:get_child("registered", reg.NS);
	if not registered then return nil, "no <registered/> in " .. tostring(reply); end
	return registered;
end

function reg.error_of(reply)
	if not reply or reply.attr.type ~= "error" then return nil; end
	local error_type, condition, text = reply:get_error();
	return { type = error_type, condition = condition, text = text };
end

-- Days from 1970-01-01 to a civil date (proleptic Gregorian), independent of the
-- local time zone, so the check does not lean on os.time() or util.datetime.
local function days_from_civil(y, m, d)
	if m <= 2 then y = y - 1; end
	local era = (y >= 0 and y or y - 399) // 400;
	local yoe = y - era * 400;
	local mp = (m + 9) % 12;
	local doy = (153 * mp + 2) // 5 + d - 1;
	local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy;
	return era * 146097 + doe - 719468;
end

-- XEP-0082 DateTime in UTC with a literal Z and no fraction, as the spec asks.
function reg.parse_utc(text)
	if type(text) ~= "string" then return nil; end
	local y, mo, d, h, mi, s = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)Z$");
	if not y then return nil; end
	y, mo, d, h, mi, s = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s);
	if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 then return nil; end
	return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
end

-- Endpoints are parsed by the shared parser (unified_push.lua); only absolute
-- http(s) URLs without a fragment are endpoints here.
function reg.split_url(url)
	local parts = up.parse_endpoint(tostring(url));
	if not parts or not (parts.scheme == "http" or parts.scheme == "https") or url:find("#", 1, true) then
		return nil;
	end
	return parts;
end

reg.token = up.token_of;

-- POSTs to the endpoint's path on the server's real HTTP port. Prosody routes
-- HTTP by the Host header, so it carries the endpoint's host (or host_header,
-- for a URL that names a reverse proxy).
function reg.post(server, endpoint, body, host_header)
	local url = reg.split_url(endpoint);
	if not url then return nil, "not an http(s) URL: " .. tostring(endpoint); end
	return http.request({
		method = "POST",
		url = server.http_base .. url.target,
		headers = { Host = host_header or url.authority, ["Content-Type"] = "application/octet-stream" },
		body = body,
		timeout = 10,
	});
end

return reg;
