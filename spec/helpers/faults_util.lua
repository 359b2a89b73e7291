-- Shared by the hygiene, faults and privacy specs: Prosody's admin shell
-- (prosodyctl shell, both versions), what the module left in storage (internal
-- files or SQLite rows), and reading the log from a point on.
--
--   local fu = require "faults_util";
--   fu.shell(server, line, timeout)        -> ok, output   (needs mod_admin_shell)
--   fu.lua(server, code)                    -> the "Result:" text of `>code` in the shell, or raises
--   fu.shell_background(server, line)      -> job; job:wait(timeout) -> ok, output
--   fu.event_snapshot(server, hosts)       -> { ["bus event"] = handlers, ["items key host"] = n }
--   fu.storage(server, options)            -> inspector: :records(host, store), :entries(host, store, user)
--   fu.log_mark(server)                    -> position; fu.log_since(server, mark) -> text after it
--   fu.wait_log_since(server, mark, pattern, timeout) -> match, or nil and why
--   fu.log_lines(server, level, source, mark) -> lines of one level (and source) after mark
--   fu.lines_with(text, needle)            -> the lines containing needle (plain)
--   fu.traceback_in(text)                  -> true when text holds a Lua error location or traceback

require "prosody_libs";
local socket = require "socket";
local lfs = require "lfs";

local fu = {};

local prosodyctl_bin = "/usr/bin/prosodyctl";

local function shell_quote(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'";
end

local function read_file(path)
	local f = io.open(path, "rb");
	if not f then return nil; end
	local data = f:read("*a");
	f:close();
	return data;
end

local function shell_command(server, line, timeout)
	return string.format("timeout %d %s --config %s shell %s", timeout or 15, prosodyctl_bin,
		shell_quote(server.config_file), shell_quote(line));
end

-- Runs one admin shell line (prosodyctl shell LINE) against a running server,
-- bounded by `timeout` seconds. True when prosodyctl exited 0, and its output.
function fu.shell(server, line, timeout)
	local pipe = assert(io.popen(shell_command(server, line, timeout) .. " 2>&1", "r"));
	local output = pipe:read("*a");
	local ok, _, code = pipe:close();
	return ok and code == 0, output;
end

-- Runs Lua in the server (the shell's ">" escape to the global environment) and
-- returns what it returned, as the shell prints it after "Result: ".
function fu.lua(server, code, timeout)
	local ok, output = fu.shell(server, ">" .. code, timeout);
	local result = output:match("Result: ([^\n]*)");
	if not ok or not result then
		error("admin shell: " .. code .. "\n--- output ---\n" .. output, 2);
	end
	return result;
end

-- Starts an admin shell line in the background (it returns at once).
-- job:wait(timeout) -> true/false (exit status 0), output; nil, "timeout" if still running.
function fu.shell_background(server, line, timeout)
	local base = os.tmpname();
	local out_file, rc_file = base .. ".out", base .. ".rc";
	os.remove(base);
	local command = string.format("(%s >%s 2>&1; echo $? >%s) </dev/null >/dev/null 2>&1 &",
		shell_command(server, line, timeout), shell_quote(out_file), shell_quote(rc_file));
	assert(os.execute(command), "could not start: " .. command);
	local job = {};
	function job.wait(_, wait_timeout)
		local deadline = socket.gettime() + (wait_timeout or 15);
		local rc;
		repeat
			rc = tonumber((read_file(rc_file) or ""):match("%d+"));
			if not rc then socket.sleep(0.05); end
		until rc or socket.gettime() > deadline;
		if not rc then return nil, "timeout"; end
		local output = read_file(out_file) or "";
		os.remove(out_file);
		os.remove(rc_file);
		return rc == 0, output;
	end
	return job;
end

-- Every event handler on the given hosts' event buses, on the global bus and on
-- the HTTP server's bus, counted per event, plus the items (cron tasks, HTTP
-- apps, features, shell commands) each host has. A module that leaks a hook,
-- a route or a task across a reload changes one of these counts.
local snapshot_code = [[
local out = {};
local function count(t) local n = 0; for _ in pairs(t) do n = n + 1; end return n; end
local function bus(label, events)
	for name, handlers in pairs(events._event_map) do
		local n = count(handlers);
		if n > 0 then out[#out + 1] = label .. " " .. tostring(name) .. "=" .. n; end
	end
end
local modulemanager = require "core.modulemanager";
for host in (%q):gmatch("%%S+") do
	bus("host:" .. host, prosody.hosts[host].events);
	for _, key in ipairs({ "task", "http-provider", "feature", "shell-command" }) do
		out[#out + 1] = "items " .. key .. " " .. host .. "=" .. #(modulemanager.get_items(key, host) or {});
	end
end
bus("global", prosody.events);
bus("http", require "net.http.server"._events);
table.sort(out);
return table.concat(out, " ;; ");
]];

function fu.event_snapshot(server, hosts)
	local code = snapshot_code:format(table.concat(hosts, " ")):gsub("%s*\n%s*", " ");
	local text = fu.lua(server, code);
	local counts = {};
	for entry in (text .. " ;; "):gmatch("(.-) ;; ") do
		local name, n = entry:match("^(.*)=(%d+)$");
		assert(name, "unexpected snapshot entry: " .. entry);
		counts[name] = tonumber(n);
	end
	return counts;
end

-- Prosody's file names (util.datamanager): hosts and users with every character
-- but [A-Za-z0-9] as %xx; store names keep their underscores too.
local function file_encode(s)
	return (s:gsub("%W", function(c) return string.format("%%%02x", c:byte()); end));
end
local function store_encode(s)
	return (s:gsub("[^_%w]", function(c) return string.format("%%%02x", c:byte()); end));
end
local function file_decode(s)
	return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)); end));
end

local internal_mt = {};
internal_mt.__index = internal_mt;

function internal_mt:_dir(host, store)
	return self.data_dir .. "/" .. file_encode(host) .. "/" .. store_encode(store);
end

-- The record names (users, or other keys) of one keyval store, sorted.
function internal_mt:records(host, store)
	local dir = self:_dir(host, store);
	local names = {};
	if lfs.attributes(dir, "mode") ~= "directory" then return names; end
	for file in lfs.dir(dir) do
		local name = file:match("^(.+)%.dat$");
		if name then names[#names + 1] = file_decode(name); end
	end
	table.sort(names);
	return names;
end

-- How many keys one record holds (0 when there is no record).
function internal_mt:entries(host, store, user)
	local path = self:_dir(host, store) .. "/" .. file_encode(user) .. ".dat";
	if not read_file(path) then return 0; end
	local chunk = assert(loadfile(path, "t", {}));
	local n = 0;
	for _ in pairs(chunk() or {}) do n = n + 1; end
	return n;
end

local sql_mt = {};
sql_mt.__index = sql_mt;

function sql_mt:_query(sql, ...)
	local DBI = require "DBI";
	local db = assert(DBI.Connect("SQLite3", self.database));
	local query = assert(db:prepare(sql));
	assert(query:execute(...));
	local rows = {};
	for row in query:rows(false) do rows[#rows + 1] = row; end
	query:close();
	db:close();
	return rows;
end

function sql_mt:records(host, store)
	local names = {};
	for _, row in ipairs(self:_query("SELECT DISTINCT user FROM prosody WHERE host = ? AND store = ?", host, store)) do
		names[#names + 1] = row[1];
	end
	table.sort(names);
	return names;
end

-- mod_storage_sql keeps one row per key of a keyval record.
function sql_mt:entries(host, store, user)
	local rows = self:_query("SELECT COUNT(*) FROM prosody WHERE host = ? AND store = ? AND user = ?", host, store, user);
	return tonumber(rows[1][1]);
end

-- What the server keeps: options.sql_database (a file name relative to the data
-- directory, as in the server's `sql` option) for SQLite3, else internal files.
function fu.storage(server, options)
	options = options or {};
	if options.sql_database then
		return setmetatable({ database = server.data_dir .. "/" .. options.sql_database }, sql_mt);
	end
	return setmetatable({ data_dir = server.data_dir }, internal_mt);
end

-- Log positions: text written after a mark (the log only grows, also across restarts).
function fu.log_mark(server)
	return #server:log();
end

function fu.log_since(server, mark)
	return server:log():sub((mark or 0) + 1);
end

function fu.wait_log_since(server, mark, pattern, timeout, plain)
	local deadline = socket.gettime() + (timeout or 5);
	repeat
		local text = fu.log_since(server, mark);
		local from, to = text:find(pattern, 1, plain);
		if from then return text:sub(from, to); end
		socket.sleep(0.05);
	until socket.gettime() > deadline;
	return nil, "not in the log within " .. (timeout or 5) .. "s: " .. pattern;
end

-- Log lines ("<date> <time> <source>\t<level>\t<message>") of one level, from
-- sources ending in `source` if given, after mark.
function fu.log_lines(server, level, source, mark)
	local found = {};
	for line in fu.log_since(server, mark):gmatch("[^\n]+") do
		local from, lvl = line:match("^%S+ +%S+ +%S+ (%S+)\t(%a+)\t");
		if lvl == level and (source == nil or (from and from:sub(-#source) == source)) then
			found[#found + 1] = line;
		end
	end
	return found;
end

function fu.lines_with(text, needle)
	local found = {};
	for line in text:gmatch("[^\n]+") do
		if line:find(needle, 1, true) then found[#found + 1] = line; end
	end
	return found;
end

function fu.traceback_in(text)
	text = text or "";
	return text:find("stack traceback", 1, true) ~= nil or text:find("%.lua:%d+:") ~= nil;
end

return fu;
