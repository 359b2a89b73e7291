// Lua's standard library as lua-types declares it for every version (its "core"),
// without io (a Prosody module has no business with files) and without the
// version-specific parts: the module targets Lua 5.1-5.4. This also leaves the
// global name `module` to Prosody (types/module.d.ts).
/// <reference path="../node_modules/lua-types/core/global.d.ts" />
/// <reference path="../node_modules/lua-types/core/math.d.ts" />
/// <reference path="../node_modules/lua-types/core/metatable.d.ts" />
/// <reference path="../node_modules/lua-types/core/modules.d.ts" />
/// <reference path="../node_modules/lua-types/core/os.d.ts" />
/// <reference path="../node_modules/lua-types/core/string.d.ts" />
/// <reference path="../node_modules/lua-types/core/table.d.ts" />
/// <reference path="../node_modules/lua-types/core/coroutine.d.ts" />

/**
 * Lua's error() takes any value, not only a message: Prosody's module loader
 * logs a table with a __tostring as one line, with no traceback appended.
 * @see https://www.lua.org/manual/5.4/manual.html#pdf-error
 */
declare function error(value: object, level?: number): never;
