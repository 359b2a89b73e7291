/** @noSelfInFile */

/**
 * util.random: cryptographically secure random bytes. Raises a Lua error if no
 * secure source is available.
 */
/** @noResolution */
declare module "util.random" {
  export function bytes(count: number): string;
}
