-- Starts a real Prosody for integration specs: a private temporary directory,
-- a generated config on free 127.0.0.1 ports, users registered with
-- prosodyctl, and bounded waits for start and stop.
--
--   local server = prosody.start({
--     hosts = { "example.test" },
--     users = { { "alice", "example.test", "password" } },
--     modules = { "unified_push" },                -- added to global modules_enabled
--     config = "unified_push_acl = { 'example.test' }", -- global options (text or table)
--     host_config = "...",                         -- options for every VirtualHost
--     host_options = { ["example.test"] = "..." }, -- options for one VirtualHost
--     components = { ["push.example.test"] = { module = "unified_push", options = "..." } },
--     plugin_paths = { ... },
--     module_file = "/work/mup/dist/mod_unified_push.lua", -- the default; false for none
--     module_name = "unified_push",               -- name it loads as (default from the file name)
--     data_dir = "/tmp/...",                       -- reuse a data directory
--   })
--   server.c2s_port, server.http_port, server.http_base, server.dir, server.config_file
--   server:log(), server:wait_log(pattern, timeout), server:assert_log_clean(options)
--   server:log_mark(), server:log_since(mark), server:wait_log_since(mark, pattern, timeout),
--   server:log_lines(level, source, mark)        the log from a point on
--   server:warnings(mark)                        lines at warn or error level
--   server:shell(line), server:eval(code), server:shell_background(line),
--   server:event_snapshot(hosts)                 the admin shell (needs mod_admin_shell)
--   server:prosodyctl({ "deluser", jid }, timeout) prosodyctl with this server's config
--   server:storage(options) -> :records(host, store), :archives(host, store),
--                                :entries(host, store, user), :load(...)
--   server:stop(), server:restart(), server:running(), server:cleanup()
--
-- Everything Prosody writes stays in server.dir (config, log, pidfile, admin
-- socket, data unless data_dir is given), a fresh directory under /tmp.
-- stop() keeps it for inspection; cleanup() stops and deletes it.

local prosody_libs = require "prosody_libs";
local socket = require "socket";
local lfs = require "lfs";

local prosody = {};

prosody.version = prosody_libs.version;
prosody.major = prosody_libs.major;

-- The built module of the checkout busted runs in (/work/mup, or another slot).
local default_module_file = lfs.currentdir() .. "/dist/mod_unified_push.lua";
local prosody_bin = "/usr/bin/prosody";
local prosodyctl_bin = "/usr/bin/prosodyctl";

-- Modules every test server needs: disco for features, ping for liveness,
-- http so the HTTP port is always open.
local base_modules = { "disco", "roster", "saslauth", "ping", "http", "posix" };

-- Servers started and not yet stopped, so a crashed spec cannot leave a
-- Prosody behind when busted exits (see the finaliser at the end).
local running = {};

local sys = require "os_util";
local shell_quote, run, read_file, write_file, tail = sys.shell_quote, sys.run, sys.read_file, sys.write_file, sys.tail;
local free_ports, port_accepts, signal = sys.free_ports, sys.port_accepts, sys.signal;

-- Lua literal for the simple values a config holds.
local function literal(value)
	local t = type(value);
	if t == "string" then
		return string.format("%q", value);
	elseif t == "number" or t == "boolean" then
		return tostring(value);
	elseif t == "table" then
		local parts = {};
		for _, item in ipairs(value) do
			parts[#parts + 1] = literal(item);
		end
		local keys = {};
		for k in pairs(value) do
			if type(k) ~= "number" then keys[#keys + 1] = k; end
		end
		table.sort(keys);
		for _, k in ipairs(keys) do
			parts[#parts + 1] = "[" .. literal(k) .. "] = " .. literal(value[k]);
		end
		return "{ " .. table.concat(parts, ", ") .. " }";
	end
	error("prosody.start: cannot write a " .. t .. " into the config");
end
prosody.literal = literal;

-- Options given as config text, or as a table of option = value.
local function options_text(options, indent)
	if options == nil then return ""; end
	if type(options) == "string" then
		return options .. "\n";
	end
	local keys = {};
	for k in pairs(options) do keys[#keys + 1] = k; end
	table.sort(keys);
	local lines = {};
	for _, k in ipairs(keys) do
		lines[#lines + 1] = (indent or "") .. k .. " = " .. literal(options[k]);
	end
	return table.concat(lines, "\n") .. "\n";
end

local function make_temp_dir()
	local ok, output = run("mktemp -d /tmp/mup-server.XXXXXXXX");
	assert(ok, "prosody.start: mktemp failed: " .. output);
	return (output:gsub("%s+$", ""));
end

-- Where Prosody finds the module under test, and under which name.
local function module_location(dir, module_file, name)
	if module_file == false then return nil; end
	module_file = module_file or default_module_file;
	assert(read_file(module_file), "prosody.start: module file not found: " .. module_file);
	local folder, base = module_file:match("^(.*)/([^/]+)$");
	local own_name = base:match("^mod_(.+)%.lua$");
	if own_name and (name == nil or name == own_name) then
		return folder, own_name;
	end
	-- Another name wanted, or not a mod_<name>.lua file: copy it in.
	name = name or base:gsub("%.lua$", ""):gsub("[^%w_]", "_");
	local plugins = dir .. "/plugins";
	assert(run("mkdir -p " .. shell_quote(plugins)));
	write_file(plugins .. "/mod_" .. name .. ".lua", read_file(module_file));
	return plugins, name;
end

local function build_config(self, options)
	local modules = {};
	for _, name in ipairs(base_modules) do modules[#modules + 1] = name; end
	for _, name in ipairs(options.modules or {}) do modules[#modules + 1] = name; end

	local plugin_paths = {};
	if self.module_dir then plugin_paths[#plugin_paths + 1] = self.module_dir; end
	for _, path in ipairs(options.plugin_paths or {}) do plugin_paths[#plugin_paths + 1] = path; end

	local global = {
		"-- Generated by spec/helpers/prosody.lua",
		"run_as_root = true",
		"pidfile = " .. literal(self.dir .. "/prosody.pid"),
		"data_path = " .. literal(self.data_dir),
		"plugin_paths = " .. literal(plugin_paths),
		"modules_enabled = " .. literal(modules),
		"modules_disabled = " .. literal(options.modules_disabled or {}),
		"log = { { levels = { min = \"debug\" }, to = \"file\", filename = " .. literal(self.log_file) .. " } }",
		"authentication = " .. literal(options.authentication or "internal_hashed"),
		"storage = " .. literal(options.storage or "internal"),
		"c2s_require_encryption = false",
		"allow_unencrypted_plain_auth = true",
		"s2s_require_encryption = false",
		"certificates = " .. literal(self.dir .. "/certs"),
		-- Listen on loopback only, on the ports chosen for this server.
		"interfaces = { \"127.0.0.1\" }",
		"local_interfaces = { \"127.0.0.1\" }",
		"c2s_interfaces = { \"127.0.0.1\" }",
		"c2s_ports = { " .. self.c2s_port .. " }",
		"http_interfaces = { \"127.0.0.1\" }",
		"http_ports = { " .. self.http_port .. " }",
		-- No TLS, s2s or component listeners.
		"https_ports = { }",
		"https_interfaces = { }",
		"s2s_ports = { }",
		"s2s_interfaces = { }",
		"c2s_direct_tls_ports = { }",
		"legacy_ssl_ports = { }",
		"component_ports = { }",
		"proxy65_ports = { }",
		-- When admin_shell is enabled (as in Debian's default configs), keep its
		-- socket in our directory rather than the shared data directory.
		"admin_socket = " .. literal(self.dir .. "/prosody.sock"),
	};
	if options.http_external_url then
		global[#global + 1] = "http_external_url = " .. literal(options.http_external_url);
	end
	local text = { table.concat(global, "\n"), "\n", options_text(options.config) };

	local host_options = options.host_options or {};
	for _, host in ipairs(self.hosts) do
		text[#text + 1] = "\nVirtualHost " .. literal(host) .. "\n";
		text[#text + 1] = options_text(options.host_config, "\t");
		text[#text + 1] = options_text(host_options[host], "\t");
	end

	local components = options.components or {};
	local names = {};
	for name in pairs(components) do names[#names + 1] = name; end
	table.sort(names);
	for _, name in ipairs(names) do
		local component = components[name];
		if component.module then
			text[#text + 1] = "\nComponent " .. literal(name) .. " " .. literal(component.module) .. "\n";
		else
			text[#text + 1] = "\nComponent " .. literal(name) .. "\n";
		end
		text[#text + 1] = options_text(component.options, "\t");
	end
	return table.concat(text);
end

local server_mt = {};
server_mt.__index = server_mt;

function server_mt:__tostring()
	return "prosody(" .. self.dir .. ", c2s " .. self.c2s_port .. ", http " .. self.http_port .. ")";
end

function server_mt:log()
	return read_file(self.log_file) or "";
end

-- Output Prosody wrote to stdout/stderr (startup failures end up here).
function server_mt:output()
	return read_file(self.output_file) or "";
end

function server_mt:_exited()
	return read_file(self.exit_file) ~= nil;
end

function server_mt:running()
	return self.pid ~= nil and not self:_exited();
end

function server_mt:_describe_failure(what)
	return string.format("%s\n--- last lines of %s ---\n%s\n--- output ---\n%s", what,
		self.log_file, tail(self:log(), 40), tail(self:output(), 20));
end

-- Waits (bounded) until pattern occurs in the log; returns the matching text.
function server_mt:wait_log(pattern, timeout, plain)
	local deadline = socket.gettime() + (timeout or 5);
	repeat
		local text = self:log();
		local from, to = text:find(pattern, 1, plain);
		if from then return text:sub(from, to); end
		socket.sleep(0.05);
	until socket.gettime() > deadline;
	return nil, "pattern not found in the log: " .. pattern;
end

function server_mt:_launch()
	os.remove(self.exit_file);
	os.remove(self.pid_file);
	-- Prosody in the foreground (-F: no daemon) under os_util's watchdog.
	local ok, output = sys.launch({ script = self.launcher_file, dir = self.dir, pid_file = self.pid_file,
		exit_file = self.exit_file, log_file = self.output_file, lifetime = self.max_lifetime,
		argv = { prosody_bin, "--config", self.config_file, "-F" } });
	assert(ok, "prosody.start: could not launch Prosody: " .. output);

	local deadline = socket.gettime() + self.start_timeout;
	repeat
		local pid = tonumber((read_file(self.pid_file) or ""):match("%d+"));
		if pid then self.pid = pid; break; end
		socket.sleep(0.02);
	until socket.gettime() > deadline;
	if not self.pid then
		error(self:_describe_failure("prosody.start: no PID recorded"), 3);
	end
	running[self] = true;

	local ports = { self.c2s_port, self.http_port };
	local ready;
	repeat
		if self:_exited() then
			running[self] = nil;
			self.pid = nil;
			error(self:_describe_failure("prosody.start: Prosody exited during startup"), 3);
		end
		ready = true;
		for _, port in ipairs(ports) do
			if not port_accepts(port) then ready = false; break; end
		end
		if not ready then socket.sleep(0.05); end
	until ready or socket.gettime() > deadline;
	if not ready then
		self:stop();
		error(self:_describe_failure(string.format("prosody.start: ports %d/%d not open after %ds",
			self.c2s_port, self.http_port, self.start_timeout)), 3);
	end
end

-- SIGTERM, wait (bounded) for exit, then SIGKILL. Returns true if it exited
-- on SIGTERM.
function server_mt:stop(timeout)
	if not self.pid then return true; end
	local pid = self.pid;
	local graceful = true;
	if not self:_exited() then
		signal(pid, "TERM");
		local deadline = socket.gettime() + (timeout or 10);
		while not self:_exited() and socket.gettime() < deadline do
			socket.sleep(0.05);
		end
		if not self:_exited() then
			graceful = false;
			signal(pid, "KILL");
			deadline = socket.gettime() + 5;
			while not self:_exited() and socket.gettime() < deadline do
				socket.sleep(0.05);
			end
		end
	end
	self.pid = nil;
	running[self] = nil;
	return graceful;
end

-- Stops the server and deletes its directory (data_dir too when it lies
-- inside). Call it from teardown/finally; call stop() instead to keep the
-- files for a look after the run.
function server_mt:cleanup()
	self:stop();
	if self.dir:match("^/tmp/mup%-server%.[%w]+$") then
		run("rm -rf " .. shell_quote(self.dir));
	end
end

-- Kills the server (SIGKILL: no unload, nothing flushed), as a crash or a power
-- cut would; then start it again with restart().
function server_mt:crash()
	if not self.pid or self:_exited() then return; end
	signal(self.pid, "KILL");
	local deadline = socket.gettime() + 5;
	while not self:_exited() and socket.gettime() < deadline do socket.sleep(0.05); end
	assert(self:_exited(), "the server outlived SIGKILL");
	self.pid = nil;
	running[self] = nil;
end

-- Same directory, config, data and ports.
function server_mt:restart()
	self:stop();
	self:_launch();
	return self;
end

local function is_error_line(line)
	-- File log lines: "<date> <time> <source>\t<level>\t<message>".
	return line:find("\terror\t", 1, true) ~= nil;
end

-- Fails (error) if the log has error-level lines or Lua tracebacks.
-- options.allow: list of Lua patterns for lines that are expected.
function server_mt:assert_log_clean(options)
	local allow = options and options.allow or {};
	local offending = {};
	local lines = {};
	for line in self:log():gmatch("[^\n]+") do lines[#lines + 1] = line; end
	for i, line in ipairs(lines) do
		local bad = is_error_line(line) or line:find("stack traceback:", 1, true);
		if bad then
			for _, pattern in ipairs(allow) do
				if line:find(pattern) then bad = false; break; end
			end
		end
		if bad then
			offending[#offending + 1] = line;
			-- Keep the traceback lines that follow (they start with a tab).
			local j = i + 1;
			while lines[j] and lines[j]:match("^%s") and #offending < 200 do
				offending[#offending + 1] = lines[j];
				j = j + 1;
			end
		end
	end
	if #offending > 0 then
		error("Prosody log " .. self.log_file .. " is not clean:\n" .. table.concat(offending, "\n"), 2);
	end
	sys.checked();
	return true;
end

-- Log positions: the text written after a mark (the log only grows, also across
-- restarts). server:log_mark() -> position; server:log_since(mark) -> text after it.
function server_mt:log_mark()
	return #self:log();
end

function server_mt:log_since(mark)
	return self:log():sub((mark or 0) + 1);
end

-- server:wait_log, looking only at what was written after mark.
function server_mt:wait_log_since(mark, pattern, timeout, plain)
	local deadline = socket.gettime() + (timeout or 5);
	repeat
		local text = self:log_since(mark);
		local from, to = text:find(pattern, 1, plain);
		if from then return text:sub(from, to); end
		socket.sleep(0.05);
	until socket.gettime() > deadline;
	return nil, "not in the log within " .. (timeout or 5) .. "s: " .. pattern;
end

-- Log lines ("<date> <time> <source>\t<level>\t<message>") of one level, from
-- sources ending in `source` if given, written after mark.
function server_mt:log_lines(level, source, mark)
	local found = {};
	for line in self:log_since(mark):gmatch("[^\n]+") do
		local from, lvl = line:match("^%S+ +%S+ +%S+ (%S+)\t(%a+)\t");
		if lvl == level and (source == nil or (from and from:sub(-#source) == source)) then
			found[#found + 1] = line;
		end
	end
	return found;
end

-- Lines at warn or error level, from any source, written after mark: what an
-- operator is asked to act on.
function server_mt:warnings(mark)
	local found = self:log_lines("warn", nil, mark);
	for _, line in ipairs(self:log_lines("error", nil, mark)) do found[#found + 1] = line; end
	return found;
end

-- The admin shell (prosodyctl shell, both versions; the server needs mod_admin_shell).

local function shell_command(server, line, timeout)
	return string.format("timeout %d %s --config %s shell %s", timeout or 15, prosodyctl_bin,
		shell_quote(server.config_file), shell_quote(line));
end

-- Runs one admin shell line against the running server, bounded by `timeout`
-- seconds. True when prosodyctl exited 0, and its output.
function server_mt:shell(line, timeout)
	local ok, output = run(shell_command(self, line, timeout));
	return ok, output;
end

-- Runs Lua in the server (the shell's ">" escape to the global environment) and
-- returns what it returned, as the shell prints it after "Result: ".
function server_mt:eval(code, timeout)
	local ok, output = self:shell(">" .. code, timeout);
	local result = output:match("Result: ([^\n]*)");
	if not ok or not result then
		error("admin shell: " .. code .. "\n--- output ---\n" .. output, 2);
	end
	return result;
end

-- Runs prosodyctl with this server's config and the given arguments ("deluser",
-- "alice@example.test"), bounded by `timeout` seconds; true when it exited 0, and
-- its output. On 13 some commands (deluser) go through the running server's admin
-- shell; on 0.12 they change its data from outside.
function server_mt:prosodyctl(args, timeout)
	local words = { "timeout", tostring(timeout or 15), prosodyctl_bin, "--config", shell_quote(self.config_file) };
	for _, arg in ipairs(args) do words[#words + 1] = shell_quote(arg); end
	return run(table.concat(words, " "));
end

-- Starts an admin shell line in the background (it returns at once).
-- job:wait(timeout) -> true/false (exit status 0), output; nil, "timeout" if still running.
function server_mt:shell_background(line, timeout)
	local base = os.tmpname();
	local out_file, rc_file = base .. ".out", base .. ".rc";
	os.remove(base);
	local command = string.format("(%s >%s 2>&1; echo $? >%s) </dev/null >/dev/null 2>&1 &",
		shell_command(self, line, timeout), shell_quote(out_file), shell_quote(rc_file));
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

-- -> { ["<bus> <event>"] = handlers, ["items <key> <host>"] = n } (through the admin shell)
function server_mt:event_snapshot(hosts)
	local code = snapshot_code:format(table.concat(hosts, " ")):gsub("%s*\n%s*", " ");
	local text = self:eval(code);
	local counts = {};
	for entry in (text .. " ;; "):gmatch("(.-) ;; ") do
		local name, n = entry:match("^(.*)=(%d+)$");
		assert(name, "unexpected snapshot entry: " .. entry);
		counts[name] = tonumber(n);
	end
	return counts;
end

-- What the server keeps in storage, read from outside: internal files, or the
-- SQLite3 database named by options.sql_database (relative to the data directory,
-- as in the server's `sql` option; read through the admin shell, so the server
-- needs admin_shell in its modules).
--   store:records(host, store)        the record names (users, or other keys), sorted
--   store:archives(host, store)       the archive names of an archive store, sorted
--   store:entries(host, store, user)  how many keys one record holds (0: no record)
--   store:load(host, store, user)     the record itself (internal files only), or nil

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

-- Archive stores (util.datamanager lists): one file per archive.
function internal_mt:archives(host, store)
	local dir = self:_dir(host, store);
	local names = {};
	if lfs.attributes(dir, "mode") ~= "directory" then return names; end
	for file in lfs.dir(dir) do
		local name = file:match("^(.+)%.list$");
		if name then names[#names + 1] = file_decode(name); end
	end
	table.sort(names);
	return names;
end

function internal_mt:load(host, store, user)
	local path = self:_dir(host, store) .. "/" .. file_encode(user) .. ".dat";
	if not read_file(path) then return nil; end
	local chunk = assert(loadfile(path, "t", {}));
	return chunk();
end

function internal_mt:entries(host, store, user)
	local n = 0;
	for _ in pairs(self:load(host, store, user) or {}) do n = n + 1; end
	return n;
end

local sql_mt = {};
sql_mt.__index = sql_mt;

-- The query runs inside the server, through the admin shell, between two of its
-- own transactions. Read from another process, SQLite's locks raced Prosody's
-- commits: a commit refused while we read left Prosody's transaction open and
-- the database locked until its next write (util.sql does not roll it back).
local sql_code = [[
local DBI = require "DBI";
local db = assert(DBI.Connect("SQLite3", %q));
local query = assert(db:prepare(%q));
assert(query:execute(%s));
local out = {};
for row in query:rows(false) do out[#out + 1] = tostring(row[1]); end
query:close();
db:close();
return "rows:" .. table.concat(out, " ;; ");
]];

-- The first column of every row (strings).
function sql_mt:_query(sql, ...)
	local args = {};
	for i = 1, select("#", ...) do args[i] = string.format("%q", (select(i, ...))); end
	local code = sql_code:format(self.database, sql, table.concat(args, ", ")):gsub("%s*\n%s*", " ");
	local text = assert(self.server:eval(code):match("^rows:(.*)$"), "unexpected result of the SQL query");
	local rows = {};
	for value in (text .. " ;; "):gmatch("(.-) ;; ") do
		if value ~= "" then rows[#rows + 1] = value; end
	end
	return rows;
end

function sql_mt:records(host, store)
	local names = {};
	for _, name in ipairs(self:_query("SELECT DISTINCT user FROM prosody WHERE host = ? AND store = ?", host, store)) do
		names[#names + 1] = name;
	end
	table.sort(names);
	return names;
end

function sql_mt:archives(host, store)
	local names = {};
	for _, name in ipairs(self:_query("SELECT DISTINCT user FROM prosodyarchive WHERE host = ? AND store = ?", host, store)) do
		names[#names + 1] = name;
	end
	table.sort(names);
	return names;
end

-- mod_storage_sql keeps one row per key of a keyval record.
function sql_mt:entries(host, store, user)
	local rows = self:_query("SELECT COUNT(*) FROM prosody WHERE host = ? AND store = ? AND user = ?", host, store, user);
	return tonumber(rows[1]);
end

function sql_mt.load()
	error("store:load reads internal storage only");
end

function server_mt:storage(options)
	options = options or {};
	if options.sql_database then
		return setmetatable({ database = self.data_dir .. "/" .. options.sql_database, server = self }, sql_mt);
	end
	return setmetatable({ data_dir = self.data_dir }, internal_mt);
end

function prosody.start(options)
	options = options or {};
	local dir = make_temp_dir();
	local ports = free_ports(2);
	local self = setmetatable({
		dir = dir;
		hosts = options.hosts or { "example.test" };
		c2s_port = ports[1];
		http_port = ports[2];
		config_file = dir .. "/prosody.cfg.lua";
		log_file = dir .. "/prosody.log";
		output_file = dir .. "/output.log";
		pid_file = dir .. "/launcher.pid";
		exit_file = dir .. "/exit-status";
		launcher_file = dir .. "/launch.sh";
		max_lifetime = options.max_lifetime or 1800;
		data_dir = options.data_dir or (dir .. "/data");
		start_timeout = options.start_timeout or 10;
	}, server_mt);
	self.http_base = "http://127.0.0.1:" .. self.http_port;
	assert(run("mkdir -p " .. shell_quote(self.data_dir) .. " " .. shell_quote(dir .. "/certs")));
	self.module_dir, self.module_name = module_location(dir, options.module_file, options.module_name);

	write_file(self.config_file, build_config(self, options));

	for _, user in ipairs(options.users or {}) do
		local username, host, password = user[1] or user.user, user[2] or user.host, user[3] or user.password;
		local ok, output = run(string.format("%s --config %s register %s %s %s", prosodyctl_bin,
			shell_quote(self.config_file), shell_quote(username), shell_quote(host), shell_quote(password)));
		if not ok then
			error("prosody.start: registering " .. username .. "@" .. host .. " failed:\n" .. output, 2);
		end
	end

	self:_launch();
	return self;
end

-- Stops every server still running (a spec that failed before its stop()).
function prosody.stop_all()
	for server in pairs(running) do
		server:stop();
	end
end

-- When busted closes the Lua state, stop any server left running.
prosody._finaliser = setmetatable({}, { __gc = function() prosody.stop_all(); end });

return prosody;
