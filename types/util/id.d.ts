/** @noSelfInFile */

/**
 * util.id: random URL-safe identifiers (base64url of random bytes, no padding).
 */
/** @noResolution */
declare module "util.id" {
  /** 4 characters (3 bytes): short-lived, low collision risk only. */
  export function tiny(): string;
  /** 12 characters (9 bytes). */
  export function short(): string;
  /** 24 characters (18 bytes): enough for global ids and tokens. */
  export function medium(): string;
  /** 36 characters (27 bytes). */
  export function long(): string;
  /** A generator of ids from `bytes` random bytes. */
  export function custom(bytes: number): (this: void) => string;
}
