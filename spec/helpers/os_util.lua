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
--   sys.launch(options)           starts a server in the background under a watchdog (below)
--   sys.checked()                 a helper's check passed: it counts as the running case's assertion
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

-- Under busted, every `it` must assert (spec/helpers/busted_helper.lua counts
-- luassert's calls): a helper that checks with error() says here that its check
-- passed. Outside busted (the bench's servers) it does nothing.
function sys.checked()
	local luassert = package.loaded.luassert;
	if luassert then luassert(true); end
end

-- The launcher: starts a server in the background in `dir`, records its PID,
-- waits for it and records its exit status, so a caller can tell that it exited
-- without /proc (not mounted in the chroots) and without reaping it itself. A
-- watchdog stops the server (`stop_signal`, then KILL 5 s later) when the Lua
-- process that started it is gone (busted killed by a timeout), and after
-- `lifetime` seconds in any case; with `cleanup`, that directory is removed when
-- the Lua process is gone.
local launcher = [[
dir=$1 pidfile=$2 exitfile=$3 logfile=$4 parent=$5 lifetime=$6 stopsig=$7 cleanup=$8
shift 8
cd "$dir" || exit 1
"$@" >>"$logfile" 2>&1 </dev/null &
server=$!
echo "$server" >"$pidfile"
(
	n=0
	while [ "$n" -lt "$lifetime" ]; do
		if [ "$parent" != 0 ] && ! kill -0 "$parent" 2>/dev/null; then break; fi
		sleep 1
		n=$((n + 1))
	done
	kill -"$stopsig" "$server" 2>/dev/null
	sleep 5
	kill -KILL "$server" 2>/dev/null
) >/dev/null 2>&1 </dev/null &
watchdog=$!
wait "$server"
echo "$?" >"$exitfile"
kill "$watchdog" 2>/dev/null
if [ -n "$cleanup" ] && [ "$parent" != 0 ] && ! kill -0 "$parent" 2>/dev/null; then rm -rf "$cleanup"; fi
]];

-- Starts options.argv (a list of words) under the launcher, written to
-- options.script; options.dir, pid_file, exit_file, log_file, lifetime (seconds),
-- stop_signal ("TERM" unless given) and cleanup (a directory, or nil).
-- Returns like sys.run; the PID appears in pid_file shortly after.
function sys.launch(options)
	sys.write_file(options.script, launcher);
	local words = { "sh", options.script, options.dir, options.pid_file, options.exit_file, options.log_file,
		("%d"):format(sys.own_pid()), ("%d"):format(options.lifetime), options.stop_signal or "TERM",
		options.cleanup or "" };
	for _, word in ipairs(options.argv) do words[#words + 1] = word; end
	for i, word in ipairs(words) do words[i] = sys.shell_quote(word); end
	return sys.run(table.concat(words, " ") .. " >/dev/null 2>&1 </dev/null &");
end

return sys;
