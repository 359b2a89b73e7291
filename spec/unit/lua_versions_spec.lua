-- What the module's Lua versions claim rests on (docs/design.md, "Prosody
-- versions and Lua versions"): the generated module compiles under Lua 5.1, 5.2,
-- 5.3, 5.4 and LuaJIT and uses only the standard library they all share, and the
-- unit specs of the logic modules that need no C library pass under each of them.
-- A whole load is proven on 5.4 only: Debian builds Prosody's C libraries for 5.4.
local MODULE = "dist/mod_unified_push.lua";

-- Unit specs whose modules, and the Prosody libraries they use, are plain Lua.
local PORTABLE_SPECS = {
	"spec/unit/pushheaders_spec.lua",
	"spec/unit/options_spec.lua",
	"spec/unit/startup_spec.lua",
	"spec/unit/endpoint_spec.lua",
	"spec/unit/ratelimit_spec.lua",
	"spec/unit/cors_spec.lua",
};

local OTHER_LUAS = { "lua5.1", "lua5.2", "lua5.3", "luajit" };

-- Runs a shell command; true when it exited 0, and everything it printed.
local function run(command)
	local pipe = assert(io.popen(command .. " 2>&1", "r"));
	local output = pipe:read("*a");
	local ok, _, code = pipe:close();
	return ok == true and code == 0, output;
end

-- Runs the portable unit specs under `lua`; returns passed, failed (counts of TAP
-- lines) and the output.
local function unit_specs_under(lua)
	local _, output = run(lua .. " /usr/bin/busted -o TAP " .. table.concat(PORTABLE_SPECS, " "));
	local passed, failed = 0, 0;
	for line in output:gmatch("[^\n]+") do
		if line:match("^ok %d+") then passed = passed + 1; end
		if line:match("^not ok %d+") then failed = failed + 1; end
	end
	return passed, failed, output;
end

describe("dist/mod_unified_push.lua", function()
	local compilers = {
		{ "Lua 5.1", "luac5.1 -p " .. MODULE },
		{ "Lua 5.2", "luac5.2 -p " .. MODULE },
		{ "Lua 5.3", "luac5.3 -p " .. MODULE },
		{ "Lua 5.4", "luac5.4 -p " .. MODULE },
		{ "LuaJIT", "luajit -b " .. MODULE .. " /dev/null" },
	};
	for _, compiler in ipairs(compilers) do
		it("compiles under " .. compiler[1], function()
			local ok, output = run(compiler[2]);
			assert.is_true(ok, compiler[2] .. ":\n" .. output);
		end);
	end

	it("uses only standard library functions that Lua 5.1 to 5.4 and LuaJIT all have", function()
		-- luacheck's "min" is the intersection of the standard libraries of every
		-- Lua it knows; Prosody provides the module's other globals.
		local ok, output = run("luacheck --no-config --std min --globals module prosody --no-unused --no-redefined"
			.. " --no-max-line-length --formatter plain " .. MODULE);
		assert.is_true(ok, output);
		assert.equal("", output);
	end);
end);

describe("the unit specs that need no C library", function()
	local expected;

	setup(function()
		-- busted runs what it finds: a spec renamed away must not pass unnoticed.
		for _, spec in ipairs(PORTABLE_SPECS) do assert(io.open(spec), spec .. " is missing"):close(); end
		local passed, failed, output = unit_specs_under("lua5.4");
		assert(failed == 0 and passed > 0, "under lua5.4:\n" .. output);
		expected = passed;
	end);

	for _, lua in ipairs(OTHER_LUAS) do
		it("pass under " .. lua .. " as they do under lua5.4", function()
			local passed, failed, output = unit_specs_under(lua);
			assert.equal(0, failed, output);
			assert.equal(expected, passed, output);
		end);
	end
end);
