-- A real Prosody for the suites that run on the host (spec/interop/): started
-- with prosody.start's options given as JSON, it prints one JSON line
--   {"c2s_port":…,"http_port":…,"http_base":"…","dir":"…","pid":…}
-- (pid: Prosody's process, for tools that read its /proc entry),
-- and stops the server (and removes its directory) when its stdin closes.
--
--   lua5.4 spec/helpers/serve.lua '{"hosts":["localhost"],"modules":["unified_push"]}'
package.path = "spec/helpers/?.lua;/usr/lib/prosody/?.lua;" .. package.path;
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath;
require "prosody_libs";
local json = require "util.json";
local prosody = require "prosody";

local options = assert(json.decode(arg[1] or "{}"), "options must be a JSON object");
local ok, server = pcall(prosody.start, options);
if not ok then
	io.stdout:write(json.encode({ error = tostring(server) }), "\n");
	os.exit(1);
end
io.stdout:write(json.encode({
	c2s_port = server.c2s_port,
	http_port = server.http_port,
	http_base = server.http_base,
	dir = server.dir,
	pid = server.pid,
}), "\n");
io.stdout:flush();
io.stdin:read("a");
server:cleanup();
