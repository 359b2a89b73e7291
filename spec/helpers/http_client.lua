-- Raw HTTP/1.1 client over a non-blocking luasocket socket, driven by loop.lua
-- so XMPP clients in the same process keep answering while a request waits.
--
--   local res, err = http.request({ method = "POST", url = "http://127.0.0.1:PORT/push/TOKEN",
--     headers = { ["Content-Type"] = "text/plain" }, body = "...", timeout = 10 })
--   res.status (number), res.reason, res.headers (names lowercased), res.body
--   err: "timeout", "connection refused", ... when no complete response arrived
--
--   local handle = http.start(options)   same options; returns at once (see below)
--   http.wait({ handle, ... })          -> true once every one has its response
--
--   http.parser() -> p; p:feed(bytes) -> true once a whole response was read;
--   p:finish() at end of stream; p.response. Exposed for unit specs.

require "prosody_libs";
local socket = require "socket";
local loop = require "loop";

local http = {};

local default_timeout = 10;

-- Read everything available at once, so a stanza arrives whole (see README).
local read_size = 65536;

local function parse_url(url)
	local scheme, authority, path = url:match("^(%a[%w+.-]*)://([^/?#]+)(.*)$");
	if scheme ~= "http" then
		return nil, "only http:// URLs are supported: " .. tostring(url);
	end
	local host, port = authority:match("^(.-):(%d+)$");
	if not host then host, port = authority, "80"; end
	host = host:gsub("^%[(.*)%]$", "%1");
	if path == "" then path = "/"; end
	path = path:gsub("#.*$", "");
	return { host = host; port = tonumber(port); authority = authority; path = path };
end
http.parse_url = parse_url;

-- Incremental response parser. feed() returns true once the response is
-- complete, nil+error on a malformed response.
local parser_mt = {};
parser_mt.__index = parser_mt;

function http.parser(request_method)
	return setmetatable({
		buffer = "";
		state = "head";
		method = request_method or "GET";
		response = nil;
		done = false;
	}, parser_mt);
end

local function no_body(method, status)
	return method == "HEAD" or (status >= 100 and status < 200) or status == 204 or status == 304;
end

function parser_mt:_parse_head(head)
	local status_line, rest = head:match("^([^\r\n]*)\r?\n(.*)$");
	status_line = status_line or head;
	local version, status, reason = status_line:match("^HTTP/(%d%.%d) (%d%d%d) ?(.*)$");
	if not version then
		return nil, "malformed status line: " .. status_line;
	end
	local headers = {};
	for line in (rest or ""):gmatch("[^\r\n]+") do
		local name, value = line:match("^([^:]+):%s*(.-)%s*$");
		if not name then
			return nil, "malformed header line: " .. line;
		end
		name = name:lower();
		if headers[name] then
			headers[name] = headers[name] .. ", " .. value;
		else
			headers[name] = value;
		end
	end
	self.response = {
		status = tonumber(status);
		reason = reason;
		version = version;
		headers = headers;
		body = "";
	};
	local res = self.response;
	if no_body(self.method, res.status) then
		self.state = "done";
	elseif (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
		self.state = "chunk-size";
		self.chunks = {};
	elseif headers["content-length"] then
		local length = tonumber(headers["content-length"]:match("^%d+$"));
		if not length then
			return nil, "malformed Content-Length: " .. headers["content-length"];
		end
		self.remaining = length;
		self.state = length > 0 and "length" or "done";
	else
		-- Body runs until the server closes the connection.
		self.state = "until-close";
		self.chunks = {};
	end
	return true;
end

function parser_mt:feed(data)
	if self.done then return true; end
	self.buffer = self.buffer .. data;
	while true do
		local state = self.state;
		if state == "head" then
			local head_end = self.buffer:find("\r\n\r\n", 1, true);
			if not head_end then return false; end
			local head = self.buffer:sub(1, head_end - 1);
			self.buffer = self.buffer:sub(head_end + 4);
			local ok, err = self:_parse_head(head);
			if not ok then return nil, err; end
		elseif state == "length" then
			local take = self.buffer:sub(1, self.remaining);
			self.buffer = self.buffer:sub(#take + 1);
			self.response.body = self.response.body .. take;
			self.remaining = self.remaining - #take;
			if self.remaining > 0 then return false; end
			self.state = "done";
		elseif state == "chunk-size" then
			local line_end = self.buffer:find("\r\n", 1, true);
			if not line_end then return false; end
			local size_hex = self.buffer:sub(1, line_end - 1):match("^%s*(%x+)");
			if not size_hex then
				return nil, "malformed chunk size: " .. self.buffer:sub(1, line_end - 1);
			end
			self.buffer = self.buffer:sub(line_end + 2);
			self.remaining = tonumber(size_hex, 16);
			self.state = self.remaining == 0 and "trailer" or "chunk-data";
		elseif state == "chunk-data" then
			-- The chunk plus its trailing CRLF.
			if #self.buffer < self.remaining + 2 then return false; end
			self.chunks[#self.chunks + 1] = self.buffer:sub(1, self.remaining);
			if self.buffer:sub(self.remaining + 1, self.remaining + 2) ~= "\r\n" then
				return nil, "chunk not followed by CRLF";
			end
			self.buffer = self.buffer:sub(self.remaining + 3);
			self.state = "chunk-size";
		elseif state == "trailer" then
			-- Trailer headers (ignored) end with an empty line.
			local line_end = self.buffer:find("\r\n", 1, true);
			if not line_end then return false; end
			local line = self.buffer:sub(1, line_end - 1);
			self.buffer = self.buffer:sub(line_end + 2);
			if line == "" then
				self.response.body = table.concat(self.chunks);
				self.state = "done";
			end
		elseif state == "until-close" then
			self.chunks[#self.chunks + 1] = self.buffer;
			self.buffer = "";
			return false;
		elseif state == "done" then
			self.done = true;
			return true;
		end
	end
end

-- End of stream: completes a body delimited by the connection closing.
function parser_mt:finish()
	if self.done then return true; end
	if self.state == "until-close" then
		self.response.body = table.concat(self.chunks);
		self.state, self.done = "done", true;
		return true;
	end
	return nil, "connection closed before the response was complete (state " .. self.state .. ")";
end

local function build_request(method, target, headers, body)
	local lines = { method .. " " .. target.path .. " HTTP/1.1" };
	local seen = {};
	for name, value in pairs(headers) do
		seen[name:lower()] = true;
		lines[#lines + 1] = name .. ": " .. tostring(value);
	end
	if not seen.host then lines[#lines + 1] = "Host: " .. target.authority; end
	if not seen.connection then lines[#lines + 1] = "Connection: close"; end
	if body and not seen["content-length"] then
		lines[#lines + 1] = "Content-Length: " .. #body;
	end
	return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "");
end

-- Sends all of data within the deadline; the socket stays non-blocking for the loop.
local function send_all(sock, data, deadline)
	local sent = 0;
	while sent < #data do
		local remaining = deadline - socket.gettime();
		if remaining <= 0 then return nil, "timeout"; end
		sock:settimeout(remaining);
		local last, err, partial_last = sock:send(data, sent + 1);
		sock:settimeout(0);
		if last then
			sent = last;
		elseif err == "timeout" then
			sent = partial_last or sent;
		else
			return nil, err;
		end
	end
	return true;
end

-- Starts a request and returns at once; the answer is read while loop.lua runs
-- (http.wait, or any other wait on the loop). Returns a handle:
--   handle.done      true once a response, an error or the deadline came
--   handle.response  the response (as http.request returns it), or nil
--   handle.error     why there is none ("timeout", "connection refused", ...)
-- options as for http.request, plus `raw`: bytes to send exactly as given instead
-- of a request built from method, headers and body (the URL still names the
-- server; method still tells the parser whether a body follows).
function http.start(options)
	assert(type(options) == "table", "http.start: options table required");
	local method = (options.method or "GET"):upper();
	local timeout = options.timeout or default_timeout;
	local target = assert(parse_url(assert(options.url, "http.start: url required")));
	local body = options.body;
	if body == nil and (method == "POST" or method == "PUT") then body = ""; end
	local handle = { done = false, deadline = socket.gettime() + timeout };

	local sock = assert(socket.tcp());
	sock:settimeout(timeout);
	local ok, err = sock:connect(target.host, target.port);
	if not ok then
		sock:close();
		handle.done, handle.error = true, err;
		return handle;
	end
	sock:settimeout(0);

	-- A server may answer (413, 400) and close before reading a large body;
	-- a failed send is reported only if no response arrives either.
	local sent, send_err = send_all(sock, options.raw or build_request(method, target, options.headers or {}, body),
		handle.deadline);

	local parser = http.parser(method);
	local function finish(response, failure)
		handle.done, handle.response, handle.error = true, response, failure;
		loop.remove(sock);
		sock:close();
	end
	function handle.expire()
		if not handle.done then finish(nil, not sent and send_err or "timeout"); end
	end
	loop.add(sock, function()
		local data, rerr, partial = sock:receive(read_size);
		data = data or partial;
		if data and #data > 0 then
			local complete, perr = parser:feed(data);
			if complete then return finish(parser.response); end
			if complete == nil then return finish(nil, perr); end
		end
		if rerr == "closed" then
			local complete, perr = parser:finish();
			return finish(complete and parser.response or nil, perr);
		elseif rerr and rerr ~= "timeout" then
			return finish(nil, rerr);
		end
	end);
	return handle;
end

-- Runs the loop until every handle is done or its deadline has passed; those
-- past it end with error "timeout". True when every one has a response.
function http.wait(handles)
	local latest = 0;
	for _, handle in ipairs(handles) do latest = math.max(latest, handle.deadline); end
	loop.run_until(function()
		for _, handle in ipairs(handles) do
			if not handle.done then return false; end
		end
		return true;
	end, math.max(latest - socket.gettime(), 0));
	local all = true;
	for _, handle in ipairs(handles) do
		if not handle.done then handle.expire(); end
		if not handle.response then all = false; end
	end
	return all;
end

function http.request(options)
	assert(type(options) == "table", "http.request: options table required");
	local handle = http.start(options);
	http.wait({ handle });
	if handle.response then return handle.response; end
	return nil, handle.error;
end

return http;
