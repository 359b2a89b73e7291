// TypeScriptToLua plugin: stamps every emitted Lua file with a header saying it is
// generated, naming the module, its version (from package.json) and its licence,
// and tidies whitespace TSTL leaves behind (trailing blanks, no final newline).
// The version the module says at load is src/version.ts's: the build stops when it
// is not package.json's.
"use strict";
const fs = require("fs");
const path = require("path");
const pkg = require(path.join(__dirname, "..", "package.json"));

const versionFile = path.join(__dirname, "..", "src", "version.ts");
const said = /VERSION = "([^"]*)"/.exec(fs.readFileSync(versionFile, "utf8"));
if (!said || said[1] !== pkg.version) {
  throw new Error(
    `src/version.ts says ${said ? said[1] : "no VERSION"}, package.json ${pkg.version}: make them the same`,
  );
}

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
