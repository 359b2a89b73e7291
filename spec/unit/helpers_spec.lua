-- The test helpers themselves, against Prosody's real util libraries: the unit
-- spec pattern (plain Lua, no server) that specs of build/lua modules follow.
local socket = require "socket";
local st = require "util.stanza";
local xmppstream = require "util.xmppstream";
local base64 = require "util.encodings".base64;
local sha256 = require "util.hashes".sha256;
local loop = require "loop";
local http = require "http_client";
local up = require "unified_push";

-- A one-shot HTTP server on 127.0.0.1 driven by the same loop as the client.
-- respond(request, reply) returns the raw response, or nil to answer later
-- with reply(raw) or never.
local function serve(respond)
	local listener = assert(socket.bind("127.0.0.1", 0));
	listener:settimeout(0);
	local server = { requests = {}, sockets = { listener } };
	loop.add(listener, function()
		local conn = listener:accept();
		if not conn then return; end
		conn:settimeout(0);
		server.sockets[#server.sockets + 1] = conn;
		local buffer = "";
		loop.add(conn, function()
			local data, err, partial = conn:receive(8192);
			buffer = buffer .. (data or partial or "");
			local head_end = buffer:find("\r\n\r\n", 1, true);
			local length = head_end and tonumber(buffer:sub(1, head_end):lower():match("content%-length: (%d+)")) or 0;
			if head_end and #buffer >= head_end + 3 + length then
				local request = { head = buffer:sub(1, head_end - 1), body = buffer:sub(head_end + 4) };
				server.requests[#server.requests + 1] = request;
				buffer = "";
				local function reply(response)
					conn:settimeout(2);
					conn:send(response);
					loop.remove(conn);
					conn:close();
				end
				local response = respond(request, reply);
				if response then reply(response); end
			elseif err == "closed" then
				loop.remove(conn);
				conn:close();
			end
		end);
	end);
	local _, port = listener:getsockname();
	server.url = "http://127.0.0.1:" .. port .. "/push/token";
	function server.close()
		for _, sock in ipairs(server.sockets) do
			loop.remove(sock);
			sock:close();
		end
	end
	return server;
end

describe("loop", function()
	after_each(function() loop.clear(); end);

	it("returns false once its timeout has passed", function()
		local started = socket.gettime();
		assert.is_false(loop.run_until(function() return false; end, 0.3));
		local elapsed = socket.gettime() - started;
		assert.is_true(elapsed >= 0.3 and elapsed < 1.5, "elapsed " .. elapsed);
	end);

	it("returns true as soon as the predicate holds", function()
		assert.is_true(loop.run_until(function() return true; end, 0));
	end);
end);

describe("http_client", function()
	local server;
	after_each(function()
		if server then server.close(); end
		loop.clear();
	end);

	local responses = {
		{ "Content-Length", "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Thing: a\r\n\r\nhello", 201, "hello" },
		{ "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Thing: a\r\n\r\n"
			.. "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n", 200, "hello world" },
		{ "Connection: close", "HTTP/1.1 404 Not Found\r\nConnection: close\r\nX-Thing: a\r\n\r\nbye", 404, "bye" },
		{ "no body (204)", "HTTP/1.1 204 No Content\r\nX-Thing: a\r\n\r\n", 204, "" },
	};
	for _, case in ipairs(responses) do
		local name, raw, status, body = case[1], case[2], case[3], case[4];

		it("reads a response delimited by " .. name, function()
			server = serve(function() return raw; end);
			local res = assert(http.request({ url = server.url, timeout = 5 }));
			assert.same({ status, body, "a" }, { res.status, res.body, res.headers["x-thing"] });
		end);

		it("reads a response delimited by " .. name .. " fed one byte at a time", function()
			local parser = http.parser("GET");
			local complete;
			for i = 1, #raw do
				complete = assert.not_nil(parser:feed(raw:sub(i, i)));
			end
			if not complete then complete = parser:finish(); end
			assert.is_true(complete);
			assert.same({ status, body }, { parser.response.status, parser.response.body });
		end);
	end

	it("sends a binary body byte for byte", function()
		local bytes = {};
		for i = 0, 255 do bytes[#bytes + 1] = string.char(i); end
		local body = table.concat(bytes):rep(20);
		server = serve(function(request)
			local digest = sha256(request.body, true);
			return "HTTP/1.1 200 OK\r\nContent-Length: " .. #digest .. "\r\n\r\n" .. digest;
		end);
		local res = assert(http.request({ method = "POST", url = server.url, body = body, timeout = 5,
			headers = { ["Content-Type"] = "application/octet-stream" } }));
		assert.equal(sha256(body, true), res.body);
		assert.truthy(server.requests[1].head:find("^POST /push/token HTTP/1.1\r\n"));
		assert.truthy(server.requests[1].head:find("\r\nContent%-Length: 5120"));
	end);

	it("keeps other sockets served while a request waits", function()
		-- A stand-in for an XMPP client that must answer before the server replies.
		local listener = assert(socket.bind("127.0.0.1", 0));
		local _, port = listener:getsockname();
		local peer_out = assert(socket.connect("127.0.0.1", port));
		local peer_in = assert(listener:accept());
		listener:close();
		finally(function() peer_out:close(); peer_in:close(); end);
		server = serve(function(_, reply)
			loop.add(peer_in, function()
				loop.remove(peer_in);
				if peer_in:receive("*l") == "ping" then
					reply("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
				end
			end);
			peer_out:send("ping\n");
		end);
		local res = assert(http.request({ method = "POST", url = server.url, body = "x", timeout = 5 }));
		assert.equal(201, res.status);
	end);

	it("gives up with 'timeout' when no response comes", function()
		server = serve(function() return nil; end);
		local started = socket.gettime();
		local res, err = http.request({ url = server.url, timeout = 0.5 });
		assert.same({ nil, "timeout" }, { res, err });
		assert.is_true(socket.gettime() - started < 2);
	end);

	it("answers requests started together in the order the replies come (start and wait)", function()
		local replies = {};
		server = serve(function(request, reply)
			replies[#replies + 1] = { body = request.body, reply = reply };
			if #replies == 2 then
				-- The second request is answered first.
				replies[2].reply("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
				replies[1].reply("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
			end
		end);
		local first = http.start({ method = "POST", url = server.url, body = "1", timeout = 5 });
		local second = http.start({ method = "POST", url = server.url, body = "2", timeout = 5 });
		assert.is_false(first.done or second.done, "answered before the server replied");
		assert.is_true(http.wait({ first, second }));
		assert.same({ "first", "second" }, { first.response.body, second.response.body });
	end);

	it("sends raw request bytes exactly as given", function()
		server = serve(function() return "HTTP/1.1 204 No Content\r\n\r\n"; end);
		local raw = "POST /push/token HTTP/1.1\r\nX-Odd:  spaced \r\nContent-Length: 3\r\n\r\nabc";
		local res = assert(http.request({ url = server.url, method = "POST", raw = raw, timeout = 5 }));
		assert.equal(204, res.status);
		assert.equal(raw, server.requests[1].head .. "\r\n\r\n" .. server.requests[1].body);
	end);

	it("ends a started request with 'timeout' at its deadline", function()
		server = serve(function() return nil; end);
		local handle = http.start({ url = server.url, timeout = 0.3 });
		assert.is_false(http.wait({ handle }));
		assert.same({ true, "timeout" }, { handle.done, handle.error });
	end);

	it("reports a refused connection", function()
		local probe = assert(socket.bind("127.0.0.1", 0));
		local _, port = probe:getsockname();
		probe:close();
		local res, err = http.request({ url = "http://127.0.0.1:" .. port .. "/", timeout = 2 });
		assert.is_nil(res);
		assert.equal("connection refused", err);
	end);
end);

describe("util.stanza and util.xmppstream as xmpp_client uses them", function()
	-- Fed whole: Expat's reparse deferral (bookworm and trixie) holds back the
	-- last token of byte-by-byte input until more input arrives.
	it("round-trips a push IQ with a binary payload", function()
		local payload = "\0\1\2\255 binary \r\n";
		local sent = st.iq({ type = "set", id = "p1", from = "example.test", to = "alice@example.test/phone" })
			:text_tag("push", base64.encode(payload), { xmlns = up.NS,
				instance = "I", application = "A" });
		local received = {};
		local session = { notopen = true };
		local stream = xmppstream.new(session, {
			default_ns = "jabber:client";
			streamopened = function() session.notopen = nil; end;
			handlestanza = function(_, stanza) received[#received + 1] = stanza; end;
		});
		local data = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
			.. tostring(sent);
		assert(stream:feed(data));
		assert.equal(1, #received);
		local got = received[1];
		got.attr["xml:lang"] = nil; -- inherited from the stream
		assert.same({ sent.attr, sent.tags[1].attr }, { got.attr, got.tags[1].attr });
		assert.equal(payload, base64.decode(got:get_child_text("push", up.NS)));
	end);
end);

describe("the UnifiedPush kit's endpoints and tokens", function()
	local cases = {
		{ "an endpoint of ours", "https://push.example.test/push/AbCdEfGh?IjKl-_Mn",
			{ host = "push.example.test", prefix = "/push/", path_part = "AbCdEfGh", query_part = "IjKl-_Mn",
				token = "AbCdEfGhIjKl-_Mn", shape = "split" } },
		{ "an old-style endpoint (the whole token in the path)", "http://example.test:5280/push/AbCdEfGhIjKl",
			{ host = "example.test", port = 5280, prefix = "/push/", path_part = "AbCdEfGhIjKl", token = "AbCdEfGhIjKl",
				shape = "whole" } },
		{ "a short token, all in the path", "/push/AbC", { prefix = "/push/", token = "AbC", shape = "split" } },
		{ "escapes in both parts", "/push/v3.local?.a%2Fb%3D", { path_part = "v3.local", query_part = ".a/b=",
			token = "v3.local.a/b=", shape = "split" } },
	};
	for _, case in ipairs(cases) do
		it("parses " .. case[1] .. " and rebuilds it", function()
			local parts = assert(up.parse_endpoint(case[2]));
			for name, value in pairs(case[3]) do
				assert.equal(value, parts[name], name);
			end
			local rebuilt = up.endpoint_for(case[2], parts.token);
			assert.equal(parts.token, up.token_of(rebuilt));
			assert.equal(parts.shape, assert(up.parse_endpoint(rebuilt)).shape);
		end);
	end

	it("refuses what is not an endpoint", function()
		for _, text in ipairs({ "push/x", "https://example.test", 42 }) do
			assert.is_nil((up.parse_endpoint(text)), tostring(text));
		end
	end);

	it("tampers a token by one letter or digit from its middle on", function()
		for _, token in ipairs({ "AAAAAAAAAAAA", "abc.def.ghi", "a-_-_-_-_-b", "v3.local.Zm9vYmFy" }) do
			local tampered = up.tamper_token(token);
			assert.equal(#token, #tampered);
			local differ = 0;
			for i = 1, #token do
				if token:sub(i, i) ~= tampered:sub(i, i) then
					differ = differ + 1;
					assert.truthy(token:sub(i, i):match("%w") and tampered:sub(i, i):match("%w"), token);
					assert.is_true(i > #token // 2, token);
				end
			end
			assert.equal(1, differ, token);
		end
	end);

	it("reads only XEP-0082 UTC times with a literal Z", function()
		assert.equal(0, up.parse_utc("1970-01-01T00:00:00Z"));
		assert.equal(951868800, up.parse_utc("2000-03-01T00:00:00Z"));
		for _, text in ipairs({ "1970-01-01T00:00:00", "1970-01-01T00:00:00.5Z", "1970-01-01 00:00:00Z",
			"1970-13-01T00:00:00Z", "1970-01-01T00:00:00+00:00" }) do
			assert.is_nil(up.parse_utc(text), text);
		end
	end);

	it("makes hashes the module accepts: base64 of 32 bytes, stable for a seed", function()
		assert.equal(up.hash("seed"), up.hash("seed"));
		assert.are_not.equal(up.hash(), up.hash());
		for _, value in ipairs({ up.hash(), up.hash("seed"), up.hash(7) }) do
			assert.equal(32, #base64.decode(value));
			assert.equal(44, #value);
		end
	end);

	it("names a token's key as the module's stores do: 32 hex digits of its SHA-256", function()
		assert.equal(sha256("token", true):sub(1, 32), up.token_key("token"));
		assert.truthy(up.token_key("token"):match("^%x+$") and #up.token_key("token") == 32);
	end);
end);
