/** @noSelfInFile */

/**
 * util.hashes (C library): digests, HMACs and key derivation. Digests are raw
 * bytes unless `hex` is true.
 */
/** @noResolution */
declare module "util.hashes" {
  export function md5(data: string, hex?: boolean): string;
  export function sha1(data: string, hex?: boolean): string;
  export function sha224(data: string, hex?: boolean): string;
  export function sha256(data: string, hex?: boolean): string;
  export function sha384(data: string, hex?: boolean): string;
  export function sha512(data: string, hex?: boolean): string;
  export function hmac_md5(key: string, data: string, hex?: boolean): string;
  export function hmac_sha1(key: string, data: string, hex?: boolean): string;
  export function hmac_sha256(key: string, data: string, hex?: boolean): string;
  export function hmac_sha512(key: string, data: string, hex?: boolean): string;
  export function pbkdf2_hmac_sha1(password: string, salt: string, iterations: number): string;
  export function pbkdf2_hmac_sha256(password: string, salt: string, iterations: number): string;
  /** Constant-time string comparison, for secrets. */
  export function equals(a: string, b: string): boolean;

  /** Prosody 13 only. */
  export const hmac_sha224:
    ((this: void, key: string, data: string, hex?: boolean) => string) | undefined;
  /** Prosody 13 only. */
  export const hmac_sha384:
    ((this: void, key: string, data: string, hex?: boolean) => string) | undefined;
  /** Prosody 13 only. */
  export const sha3_256: ((this: void, data: string, hex?: boolean) => string) | undefined;
  /** Prosody 13 only. */
  export const sha3_512: ((this: void, data: string, hex?: boolean) => string) | undefined;
  /** Prosody 13 only: HKDF output of `length` bytes. */
  export const hkdf_hmac_sha256:
    ((this: void, length: number, key: string, salt?: string, info?: string) => string) | undefined;
  /** Prosody 13 only: HKDF output of `length` bytes. */
  export const hkdf_hmac_sha384:
    ((this: void, length: number, key: string, salt?: string, info?: string) => string) | undefined;
}
