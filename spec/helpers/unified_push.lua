-- The specs' one UnifiedPush kit: what a distributor and an app server do, the
-- endpoints and tokens the module issues, and a fixture that starts a server with
-- a connected distributor. Every spec that registers, pushes or looks at a token
-- goes through here; spec/helpers/README.md lists it all.
--
--   local up = require "unified_push";
--   local f = up.fixture({ config = { unified_push_iq_timeout = 2 } }); -- inside describe()
--   local reg = f:register();                  -- { endpoint, expiration, expires, token, application, instance, reply }
--   local res, pushes = f:post(reg.endpoint, "body"); -- the answer and the push IQs it caused
require "prosody_libs";
local luassert = require "luassert";
local st = require "util.stanza";
local base64 = require "util.encodings".base64;
local hashes = require "util.hashes";
local json = require "util.json";
local http_util = require "util.http";
local random = require "util.random";
local new_id = require "util.id".short;
local http = require "http_client";
local loop = require "loop";
local xmpp = require "xmpp_client";

local up = {};

-- Protocol ---------------------------------------------------------------------

up.NS = "http://gultsch.de/xmpp/drafts/unified-push";

-- An application or instance value: standard base64 of 32 bytes, as the salted
-- SHA-256 hashes a distributor sends. Random, or the same for the same seed.
function up.hash(seed)
	if seed == nil then return base64.encode(random.bytes(32)); end
	return base64.encode(hashes.sha256(tostring(seed)));
end

-- The registration IQ, with attributes as given (nil leaves one out).
function up.register_iq(service, application, instance, iq_type)
	return st.iq({ type = iq_type or "set", to = service, id = new_id() })
		:tag("register", { xmlns = up.NS, application = application, instance = instance });
end

-- Days from 1970-01-01 to a civil date (proleptic Gregorian), independent of the
-- local time zone, so the check leans neither on os.time() nor on util.datetime.
local function days_from_civil(y, m, d)
	if m <= 2 then y = y - 1; end
	local era = (y >= 0 and y or y - 399) // 400;
	local yoe = y - era * 400;
	local mp = (m + 9) % 12;
	local doy = (153 * mp + 2) // 5 + d - 1;
	local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy;
	return era * 146097 + doe - 719468;
end

-- Seconds since the epoch of an XEP-0082 DateTime in UTC with a literal Z and no
-- fraction ("2024-05-01T12:00:00Z"), the form the module answers; nil otherwise.
function up.parse_utc(text)
	if type(text) ~= "string" then return nil; end
	local y, mo, d, h, mi, s = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)Z$");
	if not y then return nil; end
	y, mo, d, h, mi, s = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s);
	if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 then return nil; end
	return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
end

-- Endpoints and tokens ---------------------------------------------------------

-- The module issues `<origin>/push/<first 8 characters>?<rest>`, each part
-- URL-encoded (a token of 8 characters or fewer is all in the path); the whole
-- token is the decoded path part followed by the decoded query. Endpoints with the
-- whole token in the path (`<origin>/push/<token>`, issued by the reference module
-- and by earlier versions) name the same token and still work.
up.PATH_CHARACTERS = 8;

-- Prosody's URL coding, the one the module uses: urlencode leaves only
-- [A-Za-z0-9.~_-] as they are; urldecode turns %XX back (and nothing else: no '+').
up.urlencode = http_util.urlencode;
up.urldecode = http_util.urldecode;

-- The parts of an endpoint: an absolute http(s) URL or a path such as "/push/x?y".
-- Returns { origin, authority, host, port, scheme, prefix, path, query, target,
-- path_part, query_part, token, shape }, or nil and why:
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

-- Checks `endpoint` has the shape the module issues, an absolute http(s) URL
-- `<origin>/push/<at most 8 characters>[?<rest>]`; returns its parts.
function up.check_endpoint(endpoint)
	local parts = up.parse_endpoint(endpoint);
	luassert(parts and parts.scheme and parts.scheme:match("^https?$") and parts.prefix == "/push/"
		and parts.shape == "split" and #parts.path_part <= up.PATH_CHARACTERS,
		"endpoint is not <origin>/push/<first 8 characters>?<rest>: " .. tostring(endpoint));
	return parts;
end

-- The token with one character changed: the first letter or digit from its middle
-- on becomes another, so the token stays as well-formed as it was, only wrong.
function up.tamper_token(token)
	local i = #token // 2 + 1;
	while i <= #token and not token:sub(i, i):match("%w") do i = i + 1; end
	assert(i <= #token, "no character to change in the token");
	local old = token:sub(i, i);
	return token:sub(1, i - 1) .. (old == "A" and "B" or "A") .. token:sub(i + 1);
end

-- The endpoint with a tampered token, rebuilt with the same origin and shape.
function up.tamper(endpoint)
	return up.endpoint_for(endpoint, up.tamper_token(up.token_of(endpoint)));
end

-- The key the module keeps a token under in its stores: the first 32 hex digits of
-- the token's SHA-256 (what src/backends/backend.ts tokenKey computes).
function up.token_key(token)
	return hashes.sha256(token, true):sub(1, 32);
end

-- base64url (no padding) to bytes.
function up.base64url_decode(s)
	local std = s:gsub("-", "+"):gsub("_", "/");
	std = std .. string.rep("=", (4 - #std % 4) % 4);
	return base64.decode(std);
end

-- A JWT's header and payload, decoded from JSON, and its signature; nil and why
-- if it is not a JWT.
function up.jwt_parts(token)
	local header, payload, signature = token:match("^([%w_%-]+)%.([%w_%-]+)%.([%w_%-]+)$");
	if not header then return nil, "not three base64url parts: " .. token; end
	local decoded_header = json.decode(up.base64url_decode(header) or "");
	local decoded_payload = json.decode(up.base64url_decode(payload) or "");
	if type(decoded_header) ~= "table" or type(decoded_payload) ~= "table" then
		return nil, "header or payload is not JSON";
	end
	return decoded_header, decoded_payload, signature;
end

-- The distributor ----------------------------------------------------------------

-- An XMPP client logged in to `server`. options: a JID string ("bob@b.test",
-- "alice@example.test/tablet"), or a table of user (default "alice"), host
-- ("example.test"), resource ("phone"), password ("password"), timeout (10),
-- presence (false: none), policy (how it answers IQs: xmpp_client's on_iq).
function up.connect(server, options)
	if type(options) == "string" then
		local user, host, resource = options:match("^([^@/]+)@([^/]+)/?(.*)$");
		assert(user, "not a JID with a user: " .. options);
		options = { user = user, host = host, resource = resource ~= "" and resource or nil };
	end
	options = options or {};
	return xmpp.connect({
		port = server.c2s_port,
		host = options.host or "example.test",
		user = options.user or "alice",
		password = options.password or "password",
		resource = options.resource or "phone",
		timeout = options.timeout or 10,
		presence = options.presence,
		on_iq = options.policy,
		sm = options.sm,
	});
end

-- Registers `client` with `service`. Returns { endpoint, expiration, token,
-- application, instance, reply }, or nil, the reply (an error stanza) or "timeout".
-- options: application, instance (fresh hashes by default), timeout.
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

-- up.register that fails the test unless the module registered: the endpoint has
-- the module's shape (up.check_endpoint) and the expiration is an XEP-0082 UTC
-- time, also given as `expires` (seconds since the epoch).
function up.must_register(client, service, options)
	local registration, err = up.register(client, service, options);
	luassert(registration, "registration with " .. service .. " failed: " .. tostring(err));
	up.check_endpoint(registration.endpoint);
	registration.expires = up.parse_utc(registration.expiration);
	luassert(registration.expires, "expiration is not an XEP-0082 UTC time: " .. tostring(registration.expiration));
	return registration;
end

-- A ping to `service`: once its answer is back, the server has processed everything
-- this client sent before it, and the client has everything the server sent it
-- before the answer (one stream, in order).
function up.ping(client, service)
	return client:request(st.iq({ type = "get", to = service, id = new_id() }):tag("ping", { xmlns = "urn:xmpp:ping" }), 5);
end

-- up.ping (by default to the client's own host) that fails the test unless the
-- ping was answered with a result.
function up.sync(client, service)
	local pong, err = up.ping(client, service or client.host);
	luassert(pong and pong.attr.type == "result", "no answer to the ping: " .. tostring(pong or err));
end

-- type, condition and text of an error reply.
function up.error_of(reply)
	if type(reply) ~= "table" then return nil; end
	return reply:get_error();
end

-- Makes the module's hourly job on `host` of `server` due. mod_cron runs due tasks
-- one second after it starts (both versions; neither can run one on demand), so the
-- job's last run is recorded as two hours ago in mod_cron's own store (through the
-- module API in the admin shell, so any storage driver works): restart the server
-- next. Raises unless the module has exactly one such job.
function up.make_hourly_due(server, host)
	local prefix = server.module_name .. "/";
	local code = ([[local m = prosody.hosts[%q].modules[%q].module; local runs = m:open_store("cron", "map"); ]]
		.. [[local n = 0; for _, task in ipairs(m:get_host_items("task")) do ]]
		.. [[if task.id and task.id:sub(1, %d) == %q then assert(runs:set(nil, task.id, os.time() - 7200)); n = n + 1; end end; ]]
		.. [[return n]]):format(host, server.module_name, #prefix, prefix);
	local found = server:eval(code);
	if found ~= "1" then error(("%s tasks of the module on %s, expected 1"):format(found, host), 2); end
end

-- The Matrix push gateway: where a homeserver posts notifications and an app
-- looks for a gateway on the endpoint's server (Matrix Push Gateway API).
up.MATRIX_GATEWAY_PATH = "/_matrix/push/v1/notify";

-- Sends `body` (a notification's JSON text) to the Matrix gateway of `server`
-- for HTTP host `host`; `method` defaults to POST (GET: gateway discovery);
-- `headers` are added to the request. Returns the http_client response, or nil and an error.
function up.matrix_notify(server, host, body, method, headers)
	local all = { Host = host, ["Content-Type"] = body and "application/json" or nil };
	for name, value in pairs(headers or {}) do all[name] = value; end
	return http.request({
		method = method or "POST",
		url = server.http_base .. up.MATRIX_GATEWAY_PATH,
		headers = all,
		body = body,
		timeout = 15,
	});
end

-- Sends the gateway on `host` a notification naming `pushkeys` (one device each);
-- returns the answer, the pushkeys it rejected, the pushes `client` got for it
-- (made final by up.sync) and the notification as sent.
function up.matrix_relay(server, host, client, pushkeys)
	local devices = {};
	for i, pushkey in ipairs(pushkeys) do devices[i] = { app_id = "im.example.chat", pushkey = pushkey }; end
	local body = json.encode({ notification = { event_id = "$event", devices = devices } });
	local before = #client.received;
	local response = assert(up.matrix_notify(server, host, body));
	up.sync(client);
	local answer = response.status == 200 and json.decode(response.body) or {};
	return response, answer.rejected, up.pushes(client, before), body;
end

-- The pushes a client received after its first `after` IQs (all of them when
-- `after` is nil): { from, to, application, instance, body, stanza } each.
function up.pushes(client, after)
	local found = {};
	for i = (after or 0) + 1, #client.received do
		local iq = client.received[i];
		local push = iq.attr.type == "set" and iq:get_child("push", up.NS);
		if push then
			found[#found + 1] = {
				from = iq.attr.from,
				to = iq.attr.to,
				application = push.attr.application,
				instance = push.attr.instance,
				body = base64.decode(push:get_text()),
				stanza = iq,
			};
		end
	end
	return found;
end

-- The pushes a client received after its first `after` IQs, once a ping round
-- trip (up.sync) has made the list final.
function up.new_pushes(client, after)
	up.sync(client);
	return up.pushes(client, after);
end

-- An IQ policy for xmpp_client: pushes get `answer` (a condition, "result", a
-- function of the stanza, or nil for no answer at all); other sets a result and
-- gets service-unavailable, as the default policy does.
function up.answering_pushes(answer)
	return function(stanza)
		if stanza:get_child("push", up.NS) then
			if type(answer) == "function" then return answer(stanza); end
			return answer;
		end
		if stanza.attr.type == "set" then return "result"; end
		return "service-unavailable";
	end;
end

-- True if another IQ get/set reaches the client within `seconds` (bounded).
function up.iq_arrives(client, seconds)
	local before = #client.received;
	return loop.run_until(function() return #client.received > before; end, seconds);
end

-- The app server -------------------------------------------------------------------

-- The endpoint's path on this test server (endpoints name hosts that are not in DNS).
function up.local_url(server, endpoint)
	return server.http_base .. assert(up.parse_endpoint(endpoint)).target;
end

-- Every request up.push sent to a server, with its answer: { method, url, response }.
local exchanges = setmetatable({}, { __mode = "k" });

function up.exchanges(server)
	exchanges[server] = exchanges[server] or {};
	return exchanges[server];
end

local function push_request(server, endpoint, body, headers, method, timeout)
	-- The endpoint's host goes in the Host header: Prosody picks the HTTP host by it.
	local request_headers = { Host = assert(up.parse_endpoint(endpoint)).host or "example.test" };
	for name, value in pairs(headers or {}) do request_headers[name] = value; end
	return {
		method = method or "POST",
		url = up.local_url(server, endpoint),
		headers = request_headers,
		body = body,
		timeout = timeout or 15,
	};
end

-- POSTs `body` to an endpoint of `server` (or sends `method`); returns the
-- http_client response, or nil and why.
function up.push(server, endpoint, body, headers, method)
	local request = push_request(server, endpoint, body, headers, method);
	local response, err = http.request(request);
	if response then
		local log = up.exchanges(server);
		log[#log + 1] = { method = request.method, url = request.url, response = response };
	end
	return response, err;
end

-- up.push that fails the test unless an HTTP answer came.
function up.must_push(server, endpoint, body, headers, method)
	local response, err = up.push(server, endpoint, body, headers, method);
	luassert(response, (method or "POST") .. " " .. tostring(endpoint) .. " got no answer: " .. tostring(err));
	return response;
end

-- Starts a POST to an endpoint and returns at once with http_client's handle
-- (done, response, error); up.wait runs the loop until the answers are in, while
-- the clients of this process keep answering pushes.
function up.push_later(server, endpoint, body, headers, timeout)
	return http.start(push_request(server, endpoint, body, headers, "POST", timeout));
end

up.wait = http.wait;

-- The Retry-After of a response, checked to be a positive whole number of seconds.
function up.retry_after(response)
	local value = response.headers["retry-after"];
	luassert.is_string(value, response.status .. " without a Retry-After header");
	luassert.truthy(value:match("^%d+$") and tonumber(value) > 0,
		"Retry-After is not a positive whole number of seconds: " .. value);
	return tonumber(value);
end

-- True when text holds a Lua error location or a traceback.
function up.traceback_in(text)
	text = text or "";
	return text:find("stack traceback", 1, true) ~= nil or text:find("%.lua:%d+") ~= nil;
end

-- A Lua pattern for the line the module logs on a host once it serves there
-- ("mod_unified_push 0.1.0 on example.test: paseto backend, endpoints under ...");
-- any host or backend when nil.
function up.load_line(host, backend)
	local escaped = host and host:gsub("%p", "%%%0") or "%S+";
	return "mod_unified_push %S+ on " .. escaped .. ": " .. (backend or "%w+") .. " backend";
end

-- The lines of text that contain needle (plain).
function up.lines_with(text, needle)
	local found = {};
	for line in text:gmatch("[^\n]+") do
		if line:find(needle, 1, true) then found[#found + 1] = line; end
	end
	return found;
end

-- Metrics ---------------------------------------------------------------------------

local metrics_mt = {};
metrics_mt.__index = metrics_mt;

-- The server's metrics as mod_http_openmetrics serves them on /metrics (the server
-- needs "http_openmetrics" in modules and statistics on): { text, samples }, each
-- sample { name, labels = { key = value }, value }. Fails the test unless the
-- answer is a 200 of well-formed samples.
function up.scrape(server)
	local response, err = http.request({ method = "GET", url = server.http_base .. "/metrics", timeout = 10 });
	luassert(response, "GET /metrics got no answer: " .. tostring(err));
	luassert.equal(200, response.status, "GET /metrics: " .. tostring(response.body));
	local samples = {};
	for line in response.body:gmatch("[^\n]+") do
		if line:sub(1, 1) ~= "#" then
			local name, labels, value = line:match("^([%w_:]+)(%b{}) (%S+)$");
			if not name then
				name, value = line:match("^([%w_:]+) (%S+)$");
				labels = "{}";
			end
			luassert(name and tonumber(value), "not an OpenMetrics sample: " .. line);
			local parsed = {};
			for key, label_value in labels:gmatch('([%w_]+)="([^"]*)"') do parsed[key] = label_value; end
			samples[#samples + 1] = { name = name, labels = parsed, value = tonumber(value) };
		end
	end
	return setmetatable({ text = response.body, samples = samples }, metrics_mt);
end

-- The value of the one sample named `name` whose labels include `labels`; nil when
-- there is none, a failed test when there are several.
function metrics_mt:value(name, labels)
	local found;
	for _, sample in ipairs(self.samples) do
		local matches = sample.name == name;
		for key, label_value in pairs(labels or {}) do
			matches = matches and sample.labels[key] == label_value;
		end
		if matches then
			luassert(found == nil, "more than one sample " .. name .. " with those labels");
			found = sample.value;
		end
	end
	return found;
end

-- Time -----------------------------------------------------------------------------
-- Expiry is about the clock itself: these wait on it, running the
-- loop meanwhile (so clients keep answering), never longer than `timeout`.

-- True once os.time() is past t (whole seconds, as expiry is checked).
function up.wait_past(t, timeout)
	return loop.run_until(function() return os.time() > t; end, timeout);
end

-- True once the clock has moved on to a new second (a fresh second to work in).
function up.next_second(timeout)
	return up.wait_past(os.time(), timeout or 2);
end

-- The fixture ------------------------------------------------------------------------

local fixture_mt = {};
fixture_mt.__index = fixture_mt;

-- A server with the module and a connected distributor, for one describe block:
-- call it inside describe(); it starts both in setup and stops them in teardown,
-- and gives the distributor its default IQ policy back after each test.
--   options: everything prosody.start takes (users default to alice@<host> with
--   password "password", modules to { "unified_push" }), plus
--     service      the JID distributors register with (default: the first host)
--     distributor  up.connect options of f.client (default alice@<service host>/phone),
--                  or false for none
-- Fields once started: f.server, f.client, f.service, f.host.
function up.fixture(options)
	local busted = require "busted";
	options = options or {};
	local host = options.hosts and options.hosts[1] or "example.test";
	local f = setmetatable({ options = options, host = host, service = options.service or host, clients = {} },
		fixture_mt);
	busted.setup(function() f:start(); end);
	busted.teardown(function() f:stop(); end);
	busted.after_each(function()
		if f.client then f.client:on_iq(nil); end
	end);
	return f;
end

function fixture_mt:start()
	local prosody = require "prosody";
	local start_options = { users = { { "alice", self.host, "password" } }, modules = { "unified_push" } };
	for name, value in pairs(self.options) do
		if name ~= "service" and name ~= "distributor" then start_options[name] = value; end
	end
	self.server = prosody.start(start_options);
	self:connect_distributor();
end

function fixture_mt:connect_distributor()
	if self.options.distributor == false then return; end
	local options = { host = self.host };
	for name, value in pairs(self.options.distributor or {}) do options[name] = value; end
	self.client = self:connect(options);
end

-- Another client, closed in teardown.
function fixture_mt:connect(options)
	local client = up.connect(self.server, options);
	self.clients[#self.clients + 1] = client;
	return client;
end

function fixture_mt:close_clients()
	for _, client in ipairs(self.clients) do client:close(); end
	self.clients, self.client = {}, nil;
end

function fixture_mt:stop()
	self:close_clients();
	if self.server then self.server:cleanup(); end
	loop.clear();
end

-- Restarts the server (same directory, data and ports) and connects the
-- distributor again with the same options.
function fixture_mt:restart()
	self:close_clients();
	self.server:restart();
	self:connect_distributor();
end

-- Registers the distributor (or `client`) with the service: up.must_register.
function fixture_mt:register(options, client)
	return up.must_register(client or self.client, self.service, options);
end

-- Sends to an endpoint of the server: up.must_push.
function fixture_mt:push(endpoint, body, headers, method)
	return up.must_push(self.server, endpoint, body, headers, method);
end

-- POSTs `body` (default "hello") to an endpoint; returns the answer and the push
-- IQs the distributor (or `client`) received meanwhile, made final by a ping.
function fixture_mt:post(endpoint, body, headers, client)
	client = client or self.client;
	local before = #client.received;
	local response = self:push(endpoint, body or "hello", headers);
	return response, up.new_pushes(client, before);
end

-- Doubles for unit specs ---------------------------------------------------------------

-- A counter as the logic modules record to (src/metrics.ts Count): `n` is what was added.
function up.counter()
	return { n = 0, add = function(self, delta) self.n = self.n + delta; end };
end

-- One counter per name; asking for any other name is an error (so a typo cannot pass).
function up.counters(names)
	local t = {};
	for _, name in ipairs(names) do t[name] = up.counter(); end
	return setmetatable(t, { __index = function(_, name) error("no such counter: " .. tostring(name), 2); end });
end

-- Counters made on first use, whatever their name (for contexts that take a table of them).
function up.any_counters()
	return setmetatable({}, { __index = function(t, name)
		local counter = up.counter();
		rawset(t, name, counter);
		return counter;
	end });
end

-- A keyval store in memory, for unit specs: `data` is what it holds, `reads` counts
-- its gets, `broken = true` makes a set fail; `users` lists a snapshot, sorted, as
-- the SQL driver does (a user added meanwhile cannot break the listing).
function up.memory_keyval()
	local data = {};
	return {
		data = data,
		reads = 0,
		get = function(self, key) self.reads = self.reads + 1; return data[key]; end,
		set = function(self, key, value)
			if self.broken then return nil, "disk full"; end
			data[key] = value;
			return true;
		end,
		users = function()
			local list = {};
			for user in pairs(data) do list[#list + 1] = user; end
			table.sort(list);
			local i = 0;
			return function() i = i + 1; return list[i]; end;
		end,
	};
end

-- The real journal (src/journal.ts) over a store in memory (`records`, default
-- up.memory_keyval()), its timers in the spec's hands. `options`: foldDelay (0),
-- maxUnfolded (1000), slice (records per fold slice, 1000), log. The kit's
-- `run_later()` runs every timer due in under a second, over and over (the end of
-- a turn, and a fold under way or due at once); `elapse()` runs every timer (time
-- passes until none is left); `step()` runs the first timer waiting, whatever its
-- delay, and returns that; `timers` lists those waiting, as { delay, callback }.
function up.journal(options)
	options = options or {};
	local timers = {};
	local records = options.records or up.memory_keyval();
	local journal = require "journal".journal({ store = records,
		addTimer = function(delay, callback) timers[#timers + 1] = { delay = delay, callback = callback }; end,
		foldDelay = options.foldDelay or 0, maxUnfolded = options.maxUnfolded or 1000,
		budget = up.slice_budget(options.slice or 1000),
		log = options.log or function() end });
	local kit = { journal = journal, records = records, timers = timers };
	-- Runs the first timer due within `longest` seconds; its delay, or nil if none was.
	local function step(longest)
		for i, timer in ipairs(timers) do
			if timer.delay <= longest then
				table.remove(timers, i);
				local again = timer.callback();
				if again then timers[#timers + 1] = { delay = again, callback = timer.callback }; end
				return timer.delay;
			end
		end
	end
	local function run(longest)
		for ran = 1, 10000 do
			if not step(longest) then return ran - 1; end
		end
		error("timers keep asking for more", 3);
	end
	function kit.run_later() return run(0.5); end
	function kit.elapse() return run(math.huge); end
	function kit.step() return step(math.huge); end
	return kit;
end

-- The real endpoints (src/endpoints.ts) over a real user index (src/userindex.ts)
-- through the real journal (up.journal) on a store in memory. `options`: backend
-- (required); store (default up.memory_keyval()), records (the journal's, default
-- a new one; it is replayed), maxPerUser (10), cacheSize (16, for both caches),
-- revocations (any counters; the kit has them as `revocations`), foldDelay (0,
-- so a turn's writes reach `store` with `run_later()`). `stored(user)` is what
-- `store` holds once that ran; `fail_writes(true)` breaks every write. The index's writes wait for `run_later()`, as for the end of a
-- turn of the event loop; `register(...)` takes the arguments of
-- Endpoints.register up to `longest` (default: no limit), runs them, and returns
-- what the registration was answered with. `forgotten` lists the keys of the
-- endpoints forgotten, in order.
function up.endpoints(options)
	local store = options.store or up.memory_keyval();
	local size = options.cacheSize or 16;
	local revocations = options.revocations or up.any_counters();
	local kit = up.journal({ foldDelay = options.foldDelay, records = options.records });
	local index = require "userindex".userIndex({ store = kit.journal.open("users", store), cacheSize = size });
	assert(kit.journal.replay() == nil);
	local endpoints = require "endpoints".endpoints({ backend = options.backend, index = index,
		maxPerUser = options.maxPerUser or 10, cacheSize = size, revocations = revocations });
	kit.endpoints, kit.index, kit.store, kit.revocations, kit.forgotten = endpoints, index, store, revocations, {};
	endpoints.onForgotten(function(_, key) kit.forgotten[#kit.forgotten + 1] = key; end);
	-- What the store holds for `user` once what is due has run (the fold).
	function kit.stored(user) kit.run_later(); return store.data[user]; end
	-- Makes every write fail (the journal's and the store's), or work again.
	function kit.fail_writes(on) kit.records.broken, store.broken = on, on; end
	function kit.register(full_jid, application, instance, exp, now, longest)
		local answer;
		endpoints.register(full_jid, application, instance, exp, now, longest or math.huge,
			function(...) answer = table.pack(...); end);
		kit.run_later();
		assert(answer, "the registration was never answered");
		return table.unpack(answer, 1, answer.n);
	end
	return kit;
end

-- A SliceBudget (src/slices.ts): `users` per slice (default 1), no time limit, 0.02 s apart.
function up.slice_budget(users)
	return { users = users or 1, seconds = math.huge, clock = function() return 0; end, pause = 0.02 };
end

-- Runs a Walk (src/slices.ts) slice by slice to its end, at most `limit` slices
-- (default 1000); how many it took.
function up.finish_walk(walk, limit)
	for steps = 1, limit or 1000 do
		if walk.step() then return steps; end
	end
	error("the walk did not end", 2);
end

-- { name = n } of the counters above zero.
function up.counted(counters, names)
	local found = {};
	for _, name in ipairs(names) do
		if counters[name].n ~= 0 then found[name] = counters[name].n; end
	end
	return found;
end

-- A Logger (src/log.ts) that records into `entries` as { level, line }: the message
-- formatted with its arguments, and every argument appended as well, so that a
-- value passed to the log is found even where the format leaves it out.
function up.recording_log(entries)
	return function(level, message, ...)
		local args = table.pack(...);
		local ok, line = pcall(string.format, message, ...);
		if not ok then line = message; end
		for i = 1, args.n do line = line .. " | " .. tostring(args[i]); end
		entries[#entries + 1] = { level = level, line = line };
	end;
end

-- The lines recorded at `level`.
function up.lines_at(entries, level)
	local found = {};
	for _, entry in ipairs(entries) do
		if entry.level == level then found[#found + 1] = entry.line; end
	end
	return found;
end

return up;
