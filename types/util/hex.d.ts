/** @noSelfInFile */

/**
 * util.hex: hexadecimal encoding (lowercase). `to`/`from` are older names of
 * `encode`/`decode`, present in 0.12 and 13.
 */
/** @noResolution */
declare module "util.hex" {
  export function encode(data: string): string;
  /** Decodes pairs of hex digits (either case), skipping anything else. */
  export function decode(hex: string): string;
  export function to(data: string): string;
  export function from(hex: string): string;
}
