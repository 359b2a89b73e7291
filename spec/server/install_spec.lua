-- `prosodyctl install` of the source rock the build writes into dist/, the way
-- an operator installs a community module: prosodyctl drops to the prosody user
-- and runs luarocks (which needs the Lua headers, liblua5.4-dev) to install into
-- installer_plugin_path, where Prosody then finds the module.
local prosody = require "prosody";
local up = require "unified_push";
local lfs = require "lfs";

local function run(command)
	local pipe = assert(io.popen(command .. " 2>&1", "r"));
	local output = pipe:read("a");
	local ok, _, code = pipe:close();
	return ok and code == 0, output;
end

local function source_rock()
	for file in lfs.dir("dist") do
		if file:match("^mod_unified_push%-.+%.src%.rock$") then return lfs.currentdir() .. "/dist/" .. file; end
	end
end

describe("prosodyctl install of the source rock", function()
	local dir, plugins, server, client;

	setup(function()
		local ok, out = run("mktemp -d /tmp/mup-install.XXXXXXXX");
		assert(ok, out);
		dir = out:gsub("%s+$", "");
		plugins = dir .. "/custom_plugins";
		-- What an operator's prosody.cfg.lua needs for prosodyctl install; no
		-- run_as_root, so prosodyctl switches to the prosody user as it does for them.
		local config = assert(io.open(dir .. "/prosodyctl.cfg.lua", "w"));
		config:write(("data_path = %q\ninstaller_plugin_path = %q\n"):format(dir .. "/data", plugins));
		config:close();
		assert(run(("mkdir -p %s/data %s && chown -R prosody: %s"):format(dir, plugins, dir)));
	end);

	teardown(function()
		if client then client:close(); end
		if server then server:cleanup(); end
		if dir then run("rm -rf " .. dir); end
	end);

	it("finds the rock the build wrote", function()
		assert.truthy(source_rock(), "no dist/mod_unified_push-*.src.rock");
	end);

	it("installs it as the prosody user", function()
		local ok, out = run(("cd %s && prosodyctl --config %s/prosodyctl.cfg.lua install %s"):format(dir, dir, source_rock()));
		assert(ok, out);
		local installed = plugins .. "/share/lua/5.4/mod_unified_push.lua";
		assert.truthy(lfs.attributes(installed), "not installed: " .. out);
		local ok_owner, owner = run("stat -c %U " .. installed);
		assert(ok_owner, owner);
		assert.equal("prosody", (owner:gsub("%s+$", "")));
	end);

	it("is loaded by Prosody from installer_plugin_path and relays a push", function()
		server = prosody.start({
			module_file = false, -- only the installed copy can be found
			modules = { "unified_push" },
			users = { { "alice", "example.test", "password" } },
			config = { installer_plugin_path = plugins },
		});
		-- The module logs its backend while loading, which may end after the ports open.
		assert.truthy(server:wait_log(up.load_line(), 5), "the installed module did not load");
		client = up.connect(server);
		local reg = assert(up.register(client, "example.test"));
		local res = assert(up.push(server, reg.endpoint, "installed"));
		assert.equal(201, res.status);
		assert.equal("installed", up.pushes(client)[1].body);
		server:assert_log_clean();
	end);
end);
