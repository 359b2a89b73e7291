// The module's version, said at load (README "Installing"). The build refuses to
// run when it differs from package.json's (build-tools/header-plugin.js).
export const VERSION = "0.1.0";
