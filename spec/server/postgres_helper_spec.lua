-- spec/helpers/postgres.lua: a throwaway PostgreSQL cluster that admits
-- Prosody's user by password on loopback, and that is gone, process and
-- directory, once stopped or once the Lua process that started it dies.
local postgres = require "postgres";
local socket = require "socket";
local lfs = require "lfs";

local function alive(pid)
	return os.execute("kill -0 " .. math.floor(pid) .. " 2>/dev/null") == true;
end

local port_accepts = require "os_util".port_accepts;

local function first_value(db, sql)
	local statement = assert(db:prepare(sql));
	assert(statement:execute());
	local row = statement:fetch(false);
	statement:close();
	return row and row[1];
end

describe("postgres helper", function()
	describe("a started cluster", function()
		local cluster;
		setup(function() cluster = postgres.start(); end);
		teardown(function() if cluster then cluster:cleanup(); end end);

		it("gives Prosody's sql option for a password user on 127.0.0.1", function()
			local sql = cluster.sql;
			assert.same({ driver = "PostgreSQL", database = "prosody", username = "prosody", host = "127.0.0.1",
				port = cluster.port }, { driver = sql.driver, database = sql.database, username = sql.username,
				host = sql.host, port = sql.port });
			local db = assert(cluster:connect());
			assert.equal("prosody", first_value(db, "SELECT current_user"));
			assert.equal("UTF8", first_value(db, "SHOW server_encoding"));
			assert.equal("127.0.0.1", first_value(db, "SHOW listen_addresses"));
			db:close();
		end);

		it("refuses a wrong password", function()
			local wrong = {};
			for k, v in pairs(cluster.sql) do wrong[k] = v; end
			wrong.password = "not-" .. cluster.sql.password;
			local db = cluster:connect(wrong);
			assert.is_nil(db);
			assert.truthy(cluster:log():find('password authentication failed for user "prosody"', 1, true), cluster:log());
		end);

		it("runs as the postgres user, in a directory of its own", function()
			local owner = lfs.attributes(cluster.data_dir, "uid");
			assert.are_not.equal(0, owner, "the data directory belongs to root");
			assert.truthy(cluster.dir:match("^/tmp/mup%-postgres%.%w+$"), cluster.dir);
			assert.truthy(cluster:running());
		end);

		it("creates further empty databases for the same user", function()
			local sql = cluster:create_database("another_one");
			assert.equal("another_one", sql.database);
			local db = assert(cluster:connect(sql));
			assert.equal("another_one", first_value(db, "SELECT current_database()"));
			assert.equal("0", tostring(first_value(db,
				"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")));
			db:close();
		end);
	end);

	it("stops by PID on cleanup and removes its directory", function()
		local cluster = postgres.start();
		local pid, dir, port = cluster.pid, cluster.dir, cluster.port;
		assert.truthy(alive(pid));
		assert.truthy(port_accepts(port));
		-- A connection open, as Prosody's would be: the shutdown must not wait for it.
		local db = assert(cluster:connect());
		assert.is_true(cluster:cleanup(), "it needed SIGKILL");
		db:close();
		assert.is_false(alive(pid));
		assert.is_false(port_accepts(port));
		assert.is_nil(lfs.attributes(dir, "mode"));
		assert.is_false(cluster:running());
	end);

	it("is stopped and removed by its watchdog when the Lua process that started it dies", function()
		-- A separate Lua process starts a cluster, prints where, and kills itself.
		local script = [[
			package.path = "spec/helpers/?.lua;/usr/lib/prosody/?.lua;" .. package.path;
			package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath;
			local cluster = require "postgres".start();
			io.write(cluster.pid, " ", cluster.dir, "\n");
			io.flush();
			os.execute("kill -KILL " .. require "util.pposix".getpid());
		]];
		local pipe = assert(io.popen("lua5.4 -e '" .. script:gsub("'", "'\\''") .. "' 2>&1"));
		local output = pipe:read("*a");
		pipe:close();
		local pid, dir = output:match("^(%d+) (/tmp/mup%-postgres%.%w+)\n");
		assert.truthy(pid, output);
		local deadline = socket.gettime() + 15;
		while (alive(pid) or lfs.attributes(dir, "mode")) and socket.gettime() < deadline do socket.sleep(0.1); end
		assert.is_false(alive(pid), "the server outlived its Lua process");
		assert.is_nil(lfs.attributes(dir, "mode"), "the directory outlived its Lua process");
	end);
end);
