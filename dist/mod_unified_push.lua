-- mod_unified_push 0.1.0: UnifiedPush provider for Prosody. Licence: MIT.
-- GENERATED from src/ by TypeScriptToLua (npm run build). Do not edit by hand.

local ____modules = {}
local ____moduleCache = {}
local ____originalRequire = require
local function require(file, ...)
    if ____moduleCache[file] then
        return ____moduleCache[file].value
    end
    if ____modules[file] then
        local module = ____modules[file]
        local value = nil
        if (select("#", ...) > 0) then value = module(...) else value = module(file) end
        ____moduleCache[file] = { value = value }
        return value
    else
        if ____originalRequire then
            return ____originalRequire(file)
        else
            error("module '" .. file .. "' not found")
        end
    end
end
____modules = {
["src.mod_unified_push"] = function(...) 
local NS = "http://gultsch.de/xmpp/drafts/unified-push"
module:add_feature(NS)
module:log("info", "loaded")
 end,
}
local ____entry = require("src.mod_unified_push", ...)
return ____entry
