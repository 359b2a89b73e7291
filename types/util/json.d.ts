/** @noSelfInFile */

/**
 * util.json: JSON encoding and decoding (Prosody's own, pure Lua).
 *
 * Do not `import` it in src/: TypeScriptToLua takes "util.json" for a JSON file
 * and emits `require("util")`. Import its type only and load it by name:
 * `import type * as JsonLibrary from "util.json"; const json = require("util.json") as typeof JsonLibrary;`
 * (tsconfig.base.json lists it in `noResolvePaths`, so the require stays as written).
 */
/** @noResolution */
declare module "util.json" {
  /** Encodes a value; tables with only array keys become arrays. */
  export function encode(value: unknown): string;
  /** Encodes with object keys sorted, for stable output. */
  export function encode_ordered(value: unknown): string;
  /** Encodes a table as an array even when it is empty. */
  export function encode_array(value: readonly unknown[]): string;
  /**
   * Decodes JSON text. JSON `null` decodes to the `json.null` sentinel (not nil),
   * so a successful result is never `undefined`. Raises a Lua error if `text` is
   * not a string.
   */
  export function decode(
    text: string,
  ): LuaMultiReturn<[value: unknown, error?: undefined] | [value: undefined, error: string]>;
  /** Sentinel for JSON `null` (import it as `json.null`). */
  const null_: object;
  export { null_ as null };
}
