// ESLint for the TypeScript sources, declarations and Node scripts.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "build/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.ts", "types/**/*.ts"],
    rules: {
      // No `any` in what we declare or write: the declarations are the contract with Prosody.
      "@typescript-eslint/no-explicit-any": "error",
      // Global declaration files pull in lua-types' per-library files by path.
      "@typescript-eslint/triple-slash-reference": ["error", { path: "always" }],
      // Lua has no exceptions to catch across module boundaries: return errors instead.
      "no-restricted-syntax": [
        "error",
        { selector: "ThrowStatement", message: "Return an error or call error() at load." },
      ],
    },
  },
  {
    files: ["scripts/**/*.mjs", "build-tools/**/*.js", "spec/**/*.mjs", "bench/**/*.mjs"],
    languageOptions: { globals: globals.node },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
