-- A throwaway PostgreSQL server for integration specs, inside the test
-- environment: Debian's `postgresql` binaries, a cluster made with initdb in a
-- fresh temporary directory, run as the `postgres` system user (PostgreSQL
-- refuses to run as root), on a free 127.0.0.1 port. Never a system service.
--
--   local postgres = require "postgres";
--   local cluster = postgres.start();
--   cluster.sql                         -- Prosody's `sql` option for the database "prosody":
--                                       -- { driver = "PostgreSQL", database, username, password, host, port }
--   cluster:create_database("other")    -- another empty database of the same user; its `sql` option
--   cluster:connect(sql)                -- a luadbi connection with those parameters
--   cluster.dir, cluster.port, cluster.pid, cluster.version, cluster.log_file
--   cluster:log(), cluster:running()
--   cluster:stop(timeout)               -- fast shutdown (SIGINT), bounded wait, then SIGKILL
--   cluster:cleanup()                   -- stop and delete the directory (teardown/finally)
--   postgres.stop_all()
--
-- The directory holds the data, the unix socket, the server's log and the
-- launcher's files. A watchdog stops the server if the Lua process dies without
-- stopping it (busted killed by a timeout), and after max_lifetime seconds; a
-- cluster still running when busted closes its Lua state is stopped too.

require "prosody_libs";
local socket = require "socket";
local lfs = require "lfs";
local hex = require "util.hex";
local random = require "util.random";

local postgres = {};

-- Debian installs each major version's server binaries under its own directory.
local INSTALL_ROOT = "/usr/lib/postgresql";
local SYSTEM_USER = "postgres";
local USERNAME = "prosody";
local DATABASE = "prosody";

-- Clusters started and not yet stopped (see the finaliser at the end).
local running = {};

local sys = require "os_util";
local shell_quote, run, read_file, tail = sys.shell_quote, sys.run, sys.read_file, sys.tail;
local signal = sys.signal;

-- The newest installed server: { version = "15", bin = "/usr/lib/postgresql/15/bin" }.
function postgres.installation()
	local best;
	if lfs.attributes(INSTALL_ROOT, "mode") == "directory" then
		for entry in lfs.dir(INSTALL_ROOT) do
			local bin = INSTALL_ROOT .. "/" .. entry .. "/bin";
			local major = tonumber(entry:match("^(%d+)$"));
			if major and lfs.attributes(bin .. "/postgres", "mode") == "file"
				and lfs.attributes(bin .. "/initdb", "mode") == "file"
				and (not best or major > best.major) then
				best = { version = entry, major = major, bin = bin };
			end
		end
	end
	if not best then
		return nil, "no PostgreSQL server in " .. INSTALL_ROOT .. "/<version>/bin (Debian package postgresql)";
	end
	return best;
end

-- Runs a program as the postgres system user (util-linux's setpriv: no PAM, no
-- login shell, works in a chroot).
local AS_POSTGRES = { "setpriv", "--reuid=" .. SYSTEM_USER, "--regid=" .. SYSTEM_USER, "--init-groups" };

-- A shell command line from argument lists.
local function command_line(...)
	local words = {};
	for _, list in ipairs({ ... }) do
		for _, word in ipairs(list) do words[#words + 1] = shell_quote(word); end
	end
	return table.concat(words, " ");
end

local cluster_mt = {};
cluster_mt.__index = cluster_mt;

function cluster_mt:__tostring()
	return "postgres(" .. self.dir .. ", 127.0.0.1:" .. self.port .. ")";
end

function cluster_mt:log()
	return read_file(self.log_file) or "";
end

function cluster_mt:_exited()
	return read_file(self.exit_file) ~= nil;
end

function cluster_mt:running()
	return self.pid ~= nil and not self:_exited();
end

-- Stops the server, deletes the directory and raises with the tail of its log.
function cluster_mt:_abort(what, level)
	local text = string.format("%s\n--- last lines of %s ---\n%s", what, self.log_file, tail(self:log(), 30));
	self:cleanup();
	error(text, level + 1);
end

-- A luadbi connection with Prosody's `sql` parameters (default: self.sql), or
-- nil and the driver's message.
function cluster_mt:connect(sql)
	local DBI = require "DBI";
	sql = sql or self.sql;
	return DBI.Connect("PostgreSQL", sql.database, sql.username, sql.password, sql.host, sql.port);
end

-- The superuser's connection over the unix socket in our directory (trust).
function cluster_mt:_admin()
	local DBI = require "DBI";
	local db, err = DBI.Connect("PostgreSQL", "postgres", SYSTEM_USER, "", self.dir, self.port);
	if db then db:autocommit(true); end
	return db, err;
end

local function execute(db, statement)
	local query = assert(db:prepare(statement));
	local ok, err = query:execute();
	query:close();
	assert(ok, statement:gsub("PASSWORD '[^']*'", "PASSWORD '...'") .. ": " .. tostring(err));
end

-- A new empty database owned by the Prosody user; returns its `sql` option.
function cluster_mt:create_database(name)
	assert(type(name) == "string" and name:match("^[a-z_][a-z0-9_]*$"), "not a plain database name: " .. tostring(name));
	local db = assert(self:_admin());
	execute(db, "CREATE DATABASE " .. name .. " OWNER " .. USERNAME);
	db:close();
	return {
		driver = "PostgreSQL",
		database = name,
		username = USERNAME,
		password = self.password,
		host = "127.0.0.1",
		port = self.port,
	};
end

-- Fast shutdown (SIGINT: PostgreSQL ends the client sessions; SIGTERM's "smart"
-- shutdown would wait for Prosody to disconnect), wait (bounded), then SIGKILL.
-- Returns true if it exited before SIGKILL.
function cluster_mt:stop(timeout)
	if not self.pid then return true; end
	local graceful = true;
	if not self:_exited() then
		signal(self.pid, "INT");
		local deadline = socket.gettime() + (timeout or 10);
		while not self:_exited() and socket.gettime() < deadline do socket.sleep(0.05); end
		if not self:_exited() then
			graceful = false;
			signal(self.pid, "KILL");
			deadline = socket.gettime() + 5;
			while not self:_exited() and socket.gettime() < deadline do socket.sleep(0.05); end
		end
	end
	self.pid = nil;
	running[self] = nil;
	return graceful;
end

-- Stops the server and deletes its directory.
function cluster_mt:cleanup()
	local graceful = self:stop();
	if self.dir:match("^/tmp/mup%-postgres%.[%w]+$") then
		run("rm -rf " .. shell_quote(self.dir));
	end
	return graceful;
end

-- Waits (bounded) until the server admits the superuser; raises if it exits first.
function cluster_mt:_wait_ready()
	local deadline = socket.gettime() + self.start_timeout;
	local db, err;
	repeat
		if self:_exited() then self:_abort("postgres.start: PostgreSQL exited during startup", 3); end
		db, err = self:_admin();
		if not db then socket.sleep(0.05); end
	until db or socket.gettime() > deadline;
	if not db then
		self:_abort(string.format("postgres.start: no connection within %ds: %s", self.start_timeout, tostring(err)), 3);
	end
	return db;
end

-- options: start_timeout (seconds, default 30), max_lifetime (seconds, default 1800).
function postgres.start(options)
	options = options or {};
	local installation = assert(postgres.installation());
	local ok, output = run("mktemp -d /tmp/mup-postgres.XXXXXXXX");
	assert(ok, "postgres.start: mktemp failed: " .. output);
	local dir = output:gsub("%s+$", "");
	local self = setmetatable({
		dir = dir,
		data_dir = dir .. "/data",
		log_file = dir .. "/postgres.log",
		pid_file = dir .. "/launcher.pid",
		exit_file = dir .. "/exit-status",
		launcher_file = dir .. "/launch.sh",
		version = installation.version,
		bin = installation.bin,
		port = sys.free_ports(1)[1],
		password = hex.encode(random.bytes(16)),
		start_timeout = options.start_timeout or 30,
		max_lifetime = options.max_lifetime or 1800,
	}, cluster_mt);

	-- The postgres user owns the directory; initdb makes the cluster with a
	-- superuser that only the unix socket in this directory admits (trust), and
	-- password authentication (SCRAM) for TCP.
	ok, output = run("chown " .. SYSTEM_USER .. ": " .. shell_quote(dir) .. " && chmod 700 " .. shell_quote(dir));
	assert(ok, "postgres.start: cannot hand " .. dir .. " to the " .. SYSTEM_USER .. " user: " .. output);
	ok, output = run(command_line({ "timeout", "120" }, AS_POSTGRES, { self.bin .. "/initdb", "-D", self.data_dir,
		"-U", SYSTEM_USER, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync" }));
	if not ok then
		run("rm -rf " .. shell_quote(dir));
		error("postgres.start: initdb failed:\n" .. tail(output, 30), 2);
	end

	-- Loopback TCP and a socket in our directory; small memory; dynamic shared
	-- memory in files under the data directory (the chroots' /dev/shm is a plain
	-- directory only root may write); no durability (thrown away afterwards).
	local server = { self.bin .. "/postgres", "-D", self.data_dir, "-p", tostring(self.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" .. dir,
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=20",
		"-c", "dynamic_shared_memory_type=mmap",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
	};
	-- As the postgres user, under os_util's watchdog, which also removes the
	-- directory once the Lua process is gone.
	local argv = {};
	for _, list in ipairs({ AS_POSTGRES, server }) do
		for _, word in ipairs(list) do argv[#argv + 1] = word; end
	end
	ok, output = sys.launch({ script = self.launcher_file, dir = dir, pid_file = self.pid_file,
		exit_file = self.exit_file, log_file = self.log_file, lifetime = self.max_lifetime, stop_signal = "INT",
		cleanup = dir, argv = argv });
	assert(ok, "postgres.start: could not launch PostgreSQL: " .. output);

	local deadline = socket.gettime() + 10;
	repeat
		self.pid = tonumber((read_file(self.pid_file) or ""):match("%d+"));
		if not self.pid then socket.sleep(0.02); end
	until self.pid or socket.gettime() > deadline;
	if not self.pid then self:_abort("postgres.start: no PID recorded", 2); end
	running[self] = true;

	-- Prosody's user and database.
	local db = self:_wait_ready();
	execute(db, "CREATE ROLE " .. USERNAME .. " LOGIN PASSWORD '" .. self.password .. "'");
	db:close();
	self.sql = self:create_database(DATABASE);
	return self;
end

-- Stops every cluster still running (a spec that failed before its cleanup()).
function postgres.stop_all()
	for cluster in pairs(running) do cluster:cleanup(); end
end

-- When busted closes the Lua state, stop any cluster left running.
postgres._finaliser = setmetatable({}, { __gc = function() postgres.stop_all(); end });

return postgres;
