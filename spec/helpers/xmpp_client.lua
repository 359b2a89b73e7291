-- A real XMPP client (c2s) over luasocket, built on Prosody's own
-- util.xmppstream (parsing) and util.stanza (building), driven by loop.lua so
-- it keeps answering IQs while other work (an HTTP request) is in flight.
--
--   local c = xmpp.connect({ port = server.c2s_port, host = "example.test",
--     user = "alice", password = "password", resource = "phone" })
--   c.full_jid                    bound JID
--   c:send(stanza_or_string)
--   c:request(iq, timeout)        -> reply stanza | nil, "timeout" | nil, "closed"
--   c:on_iq(policy)               how to answer incoming IQ get/set (see below)
--   c.received                    every incoming IQ get/set, in order
--   c:wait_received(n, timeout)   -> true once #c.received >= n, false on timeout
--   c:disco_info(jid, timeout)    -> list of feature vars, reply stanza
--   c:close()
--
-- Stream management (XEP-0198) with `sm = true`: enabled with resumption after
-- binding; the client counts what it handled and answers <r/>.
--   c:drop()                      the link dies: the socket closes without </stream>
--   c:resume(timeout)             a new connection resumes the session -> true | nil, err
--   c:stop_reading() / c:start_reading()   a silent link: nothing read meanwhile

require "prosody_libs";
local socket = require "socket";
local st = require "util.stanza";
local xmppstream = require "util.xmppstream";
local base64 = require "util.encodings".base64;
local new_id = require "util.id".short;
local loop = require "loop";

local xmlns_client = "jabber:client";
local xmlns_streams = "http://etherx.jabber.org/streams";
local xmlns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
local xmlns_bind = "urn:ietf:params:xml:ns:xmpp-bind";
local xmlns_session = "urn:ietf:params:xml:ns:xmpp-session";
local xmlns_disco_info = "http://jabber.org/protocol/disco#info";
local xmlns_sm = "urn:xmpp:sm:3";

local default_timeout = 10;

-- Read everything available at once, so a stanza arrives whole (see README).
local read_size = 65536;

-- Error type for each condition a policy may answer with (RFC 6120 8.3.3).
local error_types = {
	["bad-request"] = "modify";
	["conflict"] = "cancel";
	["feature-not-implemented"] = "cancel";
	["forbidden"] = "auth";
	["internal-server-error"] = "wait";
	["item-not-found"] = "cancel";
	["not-acceptable"] = "modify";
	["not-allowed"] = "cancel";
	["not-authorized"] = "auth";
	["policy-violation"] = "modify";
	["recipient-unavailable"] = "wait";
	["remote-server-not-found"] = "cancel";
	["remote-server-timeout"] = "wait";
	["resource-constraint"] = "wait";
	["service-unavailable"] = "cancel";
	["undefined-condition"] = "cancel";
	["unexpected-request"] = "wait";
};

-- Default policy: acknowledge sets, refuse gets (we offer no features).
local function default_policy(stanza)
	if stanza.attr.type == "set" then return "result"; end
	return "service-unavailable";
end

local client_mt = {};
client_mt.__index = client_mt;

function client_mt:__tostring()
	return "xmpp_client(" .. tostring(self.full_jid or self.jid) .. ")";
end

function client_mt:send(stanza)
	if self.closed then return nil, "closed"; end
	local data = tostring(stanza);
	local sock = self.sock;
	sock:settimeout(default_timeout);
	local ok, err = sock:send(data);
	sock:settimeout(0);
	if not ok then
		self:_closed(err);
		return nil, err;
	end
	return true;
end

function client_mt:_closed(reason)
	if self.closed then return; end
	self.closed = reason or "closed";
	loop.remove(self.sock);
	self.sock:close();
end

function client_mt:_wait(predicate, timeout, what)
	local ok = loop.run_until(function()
		return predicate() or self.closed or self.stream_error;
	end, timeout or default_timeout);
	if predicate() then return true; end
	if self.stream_error then
		return nil, "stream error while waiting for " .. what .. ": " .. tostring(self.stream_error);
	end
	if self.closed then
		return nil, "connection closed while waiting for " .. what .. " (" .. tostring(self.closed) .. ")";
	end
	assert(not ok);
	return nil, "timeout waiting for " .. what;
end

function client_mt:_answer(stanza)
	local policy = self.policy;
	local answer;
	if type(policy) == "function" then
		answer = policy(stanza);
	else
		answer = policy;
	end
	if answer == nil then return; end
	if answer == "result" then
		self:send(st.reply(stanza));
	elseif type(answer) == "string" then
		local error_type = error_types[answer];
		assert(error_type, "xmpp_client: unknown answer '" .. answer .. "' from the IQ policy");
		self:send(st.error_reply(stanza, error_type, answer));
	else
		self:send(answer);
	end
end

function client_mt:_handle(stanza)
	local name, attr = stanza.name, stanza.attr;
	if attr.xmlns == xmlns_streams or attr.xmlns == xmlns_sasl then
		-- stream:features and SASL replies, read by the connect sequence.
		self.last_nonza = stanza;
		return;
	end
	if attr.xmlns == xmlns_sm then
		if name == "r" then
			self:send(st.stanza("a", { xmlns = xmlns_sm, h = tostring(self.handled) }));
		elseif name ~= "a" then
			self.last_nonza = stanza; -- enabled, resumed, failed: read by enable and resume
		end
		return;
	end
	if self.sm_id then self.handled = self.handled + 1; end
	if name == "iq" then
		local t = attr.type;
		if t == "result" or t == "error" then
			local id = attr.id;
			if id and self.pending[id] ~= nil then
				self.pending[id] = stanza;
			end
			return;
		end
		self.received[#self.received + 1] = stanza;
		self:_answer(stanza);
	elseif name == "message" then
		self.messages[#self.messages + 1] = stanza;
	elseif name == "presence" then
		self.presences[#self.presences + 1] = stanza;
	end
end

function client_mt:_open_stream()
	self.stream_opened = false;
	-- util.xmppstream only accepts a stream header while session.notopen is set.
	self.notopen = true;
	self.last_nonza = nil;
	self.stream:reset();
	return self:send("<?xml version='1.0'?>"
		.. st.stanza("stream:stream", {
			xmlns = xmlns_client;
			["xmlns:stream"] = xmlns_streams;
			to = self.host;
			version = "1.0";
			["xml:lang"] = "en";
		}):top_tag());
end

-- Waits for the next stream-level element (features, SASL reply).
function client_mt:_next_nonza(what, timeout)
	local ok, err = self:_wait(function() return self.last_nonza ~= nil; end, timeout, what);
	if not ok then return nil, err; end
	local element = self.last_nonza;
	self.last_nonza = nil;
	return element;
end

function client_mt:request(iq, timeout)
	if self.closed then return nil, "closed"; end
	if type(iq) == "string" then
		error("xmpp_client:request needs a stanza, not a string");
	end
	local id = iq.attr.id;
	if not id then
		id = new_id();
		iq.attr.id = id;
	end
	self.pending[id] = false;
	local ok, err = self:send(iq);
	if not ok then
		self.pending[id] = nil;
		return nil, err;
	end
	loop.run_until(function()
		return self.pending[id] or self.closed;
	end, timeout or default_timeout);
	local reply = self.pending[id];
	self.pending[id] = nil;
	if reply then return reply; end
	if self.closed then return nil, "closed"; end
	return nil, "timeout";
end

function client_mt:on_iq(policy)
	assert(policy == nil or type(policy) == "function" or type(policy) == "string" or st.is_stanza(policy),
		"xmpp_client:on_iq: policy must be a function, a string or a stanza");
	self.policy = policy or default_policy;
	return self;
end

function client_mt:wait_received(n, timeout)
	return loop.run_until(function()
		return #self.received >= n;
	end, timeout or default_timeout);
end

function client_mt:disco_info(jid, timeout)
	local reply, err = self:request(st.iq({ type = "get", to = jid, id = new_id() })
		:tag("query", { xmlns = xmlns_disco_info }), timeout);
	if not reply then return nil, err; end
	if reply.attr.type ~= "result" then
		return nil, "disco#info failed: " .. tostring(reply);
	end
	local features = {};
	local query = reply:get_child("query", xmlns_disco_info);
	for feature in query:childtags("feature") do
		features[#features + 1] = feature.attr.var;
	end
	return features, reply;
end

function client_mt:close(timeout)
	if self.closed then return; end
	self:send("</stream:stream>");
	-- Give the server a moment to close its side; bounded.
	self:_wait(function() return self.stream_closed; end, timeout or 2, "stream close");
	self:_closed("closed by client");
end

-- The link dies without a goodbye: the server sees the connection close.
function client_mt:drop()
	if self.closed then return; end
	self:_closed("dropped by client");
end

function client_mt:stop_reading()
	loop.remove(self.sock);
end

function client_mt:start_reading()
	loop.add(self.sock, function() self:_on_readable(); end);
	self:_on_readable();
end

local on_readable;

function client_mt:_on_readable() on_readable(self); end

-- Enables stream management with resumption (after binding).
function client_mt:_enable_sm(timeout)
	self.handled = 0;
	self:send(st.stanza("enable", { xmlns = xmlns_sm, resume = "true" }));
	local enabled, err = self:_next_nonza("stream management", timeout);
	if not enabled then return nil, err; end
	if enabled.name ~= "enabled" or not enabled.attr.id then
		return nil, "stream management refused: " .. tostring(enabled);
	end
	self.sm_id = enabled.attr.id;
	return true;
end

function on_readable(self)
	local data, err, partial = self.sock:receive(read_size);
	data = data or partial;
	if data and #data > 0 then
		local ok, perr = self.stream:feed(data);
		if not ok then
			self.stream_error = "XML parse error: " .. tostring(perr);
			self:_closed(self.stream_error);
			return;
		end
	end
	if err == "closed" then
		self:_closed("closed by server");
	elseif err and err ~= "timeout" then
		self:_closed(err);
	end
end

local function new_client(options)
	local self = setmetatable({
		host = assert(options.host, "xmpp_client: host required");
		user = options.user;
		password = options.password;
		resource = options.resource or "spec";
		received = {};
		messages = {};
		presences = {};
		pending = {};
		policy = options.on_iq or default_policy;
	}, client_mt);
	self.jid = self.user and (self.user .. "@" .. self.host) or self.host;

	local callbacks = {
		stream_ns = xmlns_streams;
		default_ns = xmlns_client;
	};
	function callbacks.streamopened(_, attr)
		self.stream_opened = true;
		self.notopen = nil;
		self.stream_id = attr.id;
	end
	function callbacks.streamclosed()
		self.stream_closed = true;
	end
	function callbacks.handlestanza(_, stanza)
		self:_handle(stanza);
	end
	function callbacks.error(_, kind, detail)
		if kind == "stream-error" and st.is_stanza(detail) then
			local condition = detail.tags[1] and detail.tags[1].name;
			local text = detail:get_child_text("text", "urn:ietf:params:xml:ns:xmpp-streams");
			self.stream_error = tostring(condition) .. (text and (": " .. text) or "");
		else
			self.stream_error = tostring(kind) .. (detail and (": " .. tostring(detail)) or "");
		end
	end
	self.stream = xmppstream.new(self, callbacks, 1024 * 1024);
	return self;
end

local xmpp = {};

-- Connects, authenticates (SASL PLAIN), binds a resource, starts a session when
-- offered and sends initial presence. Raises an error (with the reason) on
-- failure, since a spec cannot go on without its client.
function xmpp.connect(options)
	assert(type(options) == "table", "xmpp.connect: options table required");
	local port = assert(options.port, "xmpp.connect: port required");
	local timeout = options.timeout or default_timeout;
	local self = new_client(options);

	local sock = assert(socket.tcp());
	sock:settimeout(timeout);
	local ok, err = sock:connect(options.address or "127.0.0.1", port);
	if not ok then
		sock:close();
		error("xmpp.connect: cannot connect to port " .. tostring(port) .. ": " .. tostring(err), 2);
	end
	sock:settimeout(0);
	self.sock = sock;
	loop.add(sock, function() on_readable(self); end);

	local function fail(message)
		self:_closed("connect failed");
		error("xmpp.connect(" .. self.jid .. "): " .. message, 3);
	end

	local function expect_features(what)
		local features, ferr = self:_next_nonza(what, timeout);
		if not features then fail(ferr); end
		if features.name ~= "features" then
			fail("expected stream features " .. what .. ", got " .. tostring(features));
		end
		return features;
	end

	self:_open_stream();
	local features = expect_features("before authentication");

	if self.user then
		local mechanisms = features:get_child("mechanisms", xmlns_sasl);
		local offered = {};
		for mechanism in (mechanisms and mechanisms:childtags("mechanism") or function() end) do
			offered[mechanism:get_text()] = true;
		end
		if not offered.PLAIN then
			fail("server does not offer SASL PLAIN (features: " .. tostring(features) .. ")");
		end
		local credentials = "\0" .. self.user .. "\0" .. assert(self.password, "xmpp.connect: password required");
		self:send(st.stanza("auth", { xmlns = xmlns_sasl, mechanism = "PLAIN" }):text(base64.encode(credentials)));
		local outcome, aerr = self:_next_nonza("SASL outcome", timeout);
		if not outcome then fail(aerr); end
		if outcome.name ~= "success" then
			fail("authentication failed: " .. tostring(outcome));
		end
		self:_open_stream();
		features = expect_features("after authentication");

		if not features:get_child("bind", xmlns_bind) then
			fail("server does not offer resource binding: " .. tostring(features));
		end
		local bound, berr = self:request(st.iq({ type = "set", id = new_id() })
			:tag("bind", { xmlns = xmlns_bind })
				:text_tag("resource", self.resource), timeout);
		if not bound then fail("bind: " .. tostring(berr)); end
		if bound.attr.type ~= "result" then fail("bind refused: " .. tostring(bound)); end
		self.full_jid = bound:get_child("bind", xmlns_bind):get_child_text("jid");

		local session = features:get_child("session", xmlns_session);
		if session and not session:get_child("optional") then
			local reply, serr = self:request(st.iq({ type = "set", id = new_id() })
				:tag("session", { xmlns = xmlns_session }), timeout);
			if not reply or reply.attr.type ~= "result" then
				fail("session: " .. tostring(reply or serr));
			end
		end

		if options.sm then
			local enabled, eerr = self:_enable_sm(timeout);
			if not enabled then fail(eerr); end
		end

		if options.presence ~= false then
			self:send(st.presence());
		end
	end
	self.features = features;
	self.options = options;
	return self;
end

-- A new connection that authenticates and resumes the dropped session (same
-- object: what it received stays in `received`).
function client_mt:resume(timeout)
	assert(self.sm_id, "xmpp_client:resume needs a session with stream management");
	local options = self.options;
	timeout = timeout or default_timeout;
	local sock = assert(socket.tcp());
	sock:settimeout(timeout);
	local ok, err = sock:connect(options.address or "127.0.0.1", options.port);
	if not ok then sock:close(); return nil, "cannot connect: " .. tostring(err); end
	sock:settimeout(0);
	self.sock, self.closed, self.stream_error, self.stream_closed = sock, nil, nil, nil;
	loop.add(sock, function() on_readable(self); end);
	self:_open_stream();
	local features, ferr = self:_next_nonza("features before authentication", timeout);
	if not features then return nil, ferr; end
	local credentials = "\0" .. self.user .. "\0" .. self.password;
	self:send(st.stanza("auth", { xmlns = xmlns_sasl, mechanism = "PLAIN" }):text(base64.encode(credentials)));
	local outcome, aerr = self:_next_nonza("SASL outcome", timeout);
	if not outcome then return nil, aerr; end
	if outcome.name ~= "success" then return nil, "authentication failed: " .. tostring(outcome); end
	self:_open_stream();
	features, ferr = self:_next_nonza("features after authentication", timeout);
	if not features then return nil, ferr; end
	self:send(st.stanza("resume", { xmlns = xmlns_sm, previd = self.sm_id, h = tostring(self.handled) }));
	local resumed, rerr = self:_next_nonza("resumption", timeout);
	if not resumed then return nil, rerr; end
	if resumed.name ~= "resumed" then return nil, "resumption refused: " .. tostring(resumed); end
	return true;
end

return xmpp;
