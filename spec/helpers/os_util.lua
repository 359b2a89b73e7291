-- What the server launchers (prosody.lua, postgres.lua) need of the system:
-- shell commands, files, free ports and signals. Loopback only.
--
--   local sys = require "os_util";
--   sys.shell_quote(s)            s as one shell word
--   sys.run(command)              -> exited 0, everything it printed, exit code
--   sys.read_file(path)           -> contents, or nil
--   sys.write_file(path, data)    raises on failure
--   sys.tail(text, n)             the last n lines of text
--   sys.free_ports(n)             -> n distinct free 127.0.0.1 ports
--   sys.port_accepts(port)        -> true when 127.0.0.1:port accepts a connection
--   sys.own_pid()                 -> this Lua process's PID (0 if unknown)
--   sys.signal(pid, sig)          kill -sig pid
require "prosody_libs";
local socket = require "socket";

local sys = {};

function sys.shell_quote(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'";
end

function sys.run(command)
	local pipe = assert(io.popen(command .. " 2>&1", "r"));
	local output = pipe:read("*a");
	local ok, _, code = pipe:close();
	return ok and code == 0, output, code;
end

function sys.read_file(path)
	local f = io.open(path, "rb");
	if not f then return nil; end
	local data = f:read("*a");
	f:close();
	return data;
end

function sys.write_file(path, data)
	local f = assert(io.open(path, "wb"));
	assert(f:write(data));
	assert(f:close());
end

function sys.tail(text, n)
	local lines = {};
	for line in (text or ""):gmatch("[^\n]*") do lines[#lines + 1] = line; end
	return table.concat(lines, "\n", math.max(1, #lines - n + 1));
end

-- Bound together (so they differ), then released for the server.
function sys.free_ports(n)
	local socks, ports = {}, {};
	for i = 1, n do
		local sock = assert(socket.bind("127.0.0.1", 0));
		socks[i] = sock;
		local _, port = sock:getsockname();
		ports[i] = tonumber(port);
	end
	for _, sock in ipairs(socks) do sock:close(); end
	return ports;
end

function sys.port_accepts(port)
	local sock = socket.tcp();
	sock:settimeout(0.5);
	local ok = sock:connect("127.0.0.1", port);
	sock:close();
	return ok ~= nil;
end

function sys.own_pid()
	local ok, pposix = pcall(require, "util.pposix");
	return ok and pposix.getpid and pposix.getpid() or 0;
end

function sys.signal(pid, sig)
	return sys.run("kill -" .. sig .. " " .. math.floor(pid));
end

return sys;
