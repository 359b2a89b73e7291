// TypeScriptToLua plugin: stamps every emitted Lua file with a header saying it is
// generated, naming the module, its version (from package.json) and its licence,
// and tidies whitespace TSTL leaves behind (trailing blanks, no final newline).
"use strict";
const path = require("path");
const pkg = require(path.join(__dirname, "..", "package.json"));

const header = [
  `-- mod_unified_push ${pkg.version}: UnifiedPush provider for Prosody. Licence: ${pkg.license}.`,
  "-- GENERATED from src/ by TypeScriptToLua (npm run build). Do not edit by hand.",
  "",
].join("\n");

module.exports = {
  beforeEmit(_program, _options, _emitHost, result) {
    for (const file of result) {
      const body = file.code.replace(/[ \t]+$/gm, "").replace(/\n*$/, "\n");
      file.code = header + body;
    }
  },
};
