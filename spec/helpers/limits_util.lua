-- Several push requests outstanding at once, for the limits spec: http_client's
-- request() waits for its answer, these return at once and are answered while
-- loop.lua runs (an XMPP client in the same process keeps answering meanwhile).
--
--   local limits_util = require "limits_util";
--   local pending = limits_util.post(server, endpoint, "body")  -- sent, not waited for
--   limits_util.wait({ pending, ... }, 10)  -> true once every one has an answer (bounded)
--   pending.response (http_client's shape: status, headers, body), pending.error, pending.done
--   limits_util.wait_until(t, timeout)  -> true once socket.gettime() >= t (bounded)

require "prosody_libs";
local socket = require "socket";
local loop = require "loop";
local http = require "http_client";
local up = require "unified_push";

local limits_util = {};

local read_size = 65536;

-- Starts a POST of body to the endpoint on server and returns without waiting.
-- The request goes to the server's port with the endpoint's host as Host header,
-- as up.push does. Raises if the request cannot be written.
function limits_util.post(server, endpoint, body, headers)
	local target = assert(http.parse_url(up.local_url(server, endpoint)));
	local lines = {
		"POST " .. target.path .. " HTTP/1.1",
		"Host: " .. (endpoint:match("^%a+://([^:/]+)") or "example.test"),
		"Connection: close",
		"Content-Length: " .. #body,
	};
	for name, value in pairs(headers or {}) do lines[#lines + 1] = name .. ": " .. value; end
	local request = table.concat(lines, "\r\n") .. "\r\n\r\n" .. body;

	local sock = assert(socket.tcp());
	sock:settimeout(5);
	assert(sock:connect(target.host, target.port));
	-- Small enough to go out in one blocking send.
	assert(sock:send(request));
	sock:settimeout(0);

	local pending = { done = false };
	local parser = http.parser("POST");
	local function finish(response, err)
		pending.done, pending.response, pending.error = true, response, err;
		loop.remove(sock);
		sock:close();
	end
	loop.add(sock, function()
		local data, err, partial = sock:receive(read_size);
		data = data or partial;
		if data and #data > 0 then
			local complete, perr = parser:feed(data);
			if complete then return finish(parser.response); end
			if complete == nil then return finish(nil, perr); end
		end
		if err == "closed" then
			local complete, perr = parser:finish();
			return finish(complete and parser.response or nil, perr);
		elseif err and err ~= "timeout" then
			return finish(nil, err);
		end
	end);
	return pending;
end

-- Runs the loop until every pending request has its answer; false when the time is up.
function limits_util.wait(pendings, timeout)
	return loop.run_until(function()
		for _, pending in ipairs(pendings) do
			if not pending.done then return false; end
		end
		return true;
	end, timeout);
end

-- Runs the loop (so clients keep answering) until the clock reaches t; bounded.
function limits_util.wait_until(t, timeout)
	return loop.run_until(function() return socket.gettime() >= t; end, timeout);
end

return limits_util;
