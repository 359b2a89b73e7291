-- Makes Prosody's own libraries (util.stanza, util.xmppstream, util.encodings,
-- ...) requirable from specs, on both Prosody 0.12 and 13.
--
-- .busted puts /usr/lib/prosody/?.lua and ?.so on the search paths. Prosody 13's
-- libraries require each other as "prosody.util.x"; its loader.lua adds a
-- searcher that maps those names to "util.x". Prosody 0.12 has no loader.lua
-- and needs nothing more.

local loader_path = "/usr/lib/prosody/loader.lua";

-- Install it once per Lua state: busted unloads our modules between files,
-- but the searcher it adds stays, so the mark lives on the package table.
local has_loader = rawget(package, "prosody_loader_installed");
if has_loader == nil then
	local chunk = loadfile(loader_path);
	if chunk then
		-- Lua 5.1 and LuaJIT keep the searchers in package.loaders (the unit specs
		-- also run there: spec/unit/lua_versions_spec.lua).
		package.searchers = package.searchers or package.loaders;
		chunk("loader");
	end
	has_loader = chunk ~= nil;
	rawset(package, "prosody_loader_installed", has_loader);
end

local function read_version()
	local f = io.open("/usr/lib/prosody/prosody.version");
	if not f then return nil; end
	local version = f:read("*l");
	f:close();
	return version;
end

local version = read_version();

return {
	-- "0.12.3", "13.0.1", ... (nil when Prosody is not installed where expected)
	version = version;
	-- Major version as a number: 0.12 -> 0.12, 13.0.1 -> 13.
	major = version and tonumber(version:match("^0%.%d+") or version:match("^%d+"));
	-- True when Prosody's libraries use the "prosody." prefix (13 and later).
	prefixed = has_loader;
};
