-- A tiny select()-based event loop over luasocket sockets.
--
-- Lets one Lua process drive several connections at once, e.g. an XMPP client
-- that must answer the IQ a push triggers while the HTTP request that caused
-- the push is still waiting for its response.
--
--   loop.add(sock, on_readable)   call on_readable(sock) whenever sock is readable
--   loop.remove(sock)             stop watching sock
--   loop.run_until(pred, secs)    run until pred() is true (-> true) or secs pass (-> false)
--   loop.clear()                  forget every socket (between tests)

local socket = require "socket";

local loop = {};

-- Sockets in the order they were added, so select() sees a stable list.
local watched = {};
local handlers = {};

-- Upper bound of one select() wait, so predicates that depend on time (or on
-- state changed outside the loop) are re-checked at least this often.
local max_wait = 0.25;

function loop.add(sock, on_readable)
	assert(sock, "loop.add: no socket");
	assert(type(on_readable) == "function", "loop.add: on_readable must be a function");
	if not handlers[sock] then
		watched[#watched + 1] = sock;
	end
	handlers[sock] = on_readable;
	return sock;
end

function loop.remove(sock)
	if not handlers[sock] then return; end
	handlers[sock] = nil;
	for i = #watched, 1, -1 do
		if watched[i] == sock then
			table.remove(watched, i);
		end
	end
end

function loop.clear()
	watched, handlers = {}, {};
end

-- Number of sockets watched (for specs that check helpers clean up).
function loop.count()
	return #watched;
end

local function is_open(sock)
	local ok, fd = pcall(sock.getfd, sock);
	return ok and fd and fd >= 0;
end

-- One select() round: calls the handler of every readable socket.
-- Returns the number of handlers called.
function loop.step(timeout)
	local readers = {};
	for i = #watched, 1, -1 do
		local sock = watched[i];
		if is_open(sock) then
			readers[#readers + 1] = sock;
		else
			-- Closed behind our back: select() would reject it.
			loop.remove(sock);
		end
	end
	if #readers == 0 then
		socket.sleep(timeout);
		return 0;
	end
	local readable, _, err = socket.select(readers, nil, timeout);
	if err and err ~= "timeout" then
		error("loop.step: select failed: " .. tostring(err));
	end
	local called = 0;
	for _, sock in ipairs(readable or {}) do
		local handler = handlers[sock];
		if handler then
			called = called + 1;
			handler(sock);
		end
	end
	return called;
end

function loop.run_until(predicate, timeout)
	assert(type(predicate) == "function", "loop.run_until: predicate must be a function");
	assert(type(timeout) == "number" and timeout >= 0, "loop.run_until: timeout (seconds) required");
	local deadline = socket.gettime() + timeout;
	while true do
		if predicate() then return true; end
		local remaining = deadline - socket.gettime();
		if remaining <= 0 then return false; end
		loop.step(math.min(remaining, max_wait));
	end
end

return loop;
