/** @noSelfInFile */

/**
 * util.paseto: PASETO tokens. Prosody 13 only: on 0.12 the library does not exist
 * and `require("util.paseto")` raises a Lua error, so load it with `pcall` and
 * treat failure as "not supported":
 *
 * ```ts
 * import type * as Paseto from "util.paseto";
 * const [ok, lib] = pcall(require, "util.paseto");
 * const paseto: typeof Paseto | undefined = ok ? lib : undefined;
 * ```
 *
 * Payloads must be tables (JSON objects). Nothing checks expiry: put an
 * expiry claim in the payload and check it yourself after decrypting/verifying.
 */
/** @noResolution */
declare module "util.paseto" {
  /** Claims of a token (encoded as a JSON object). */
  export interface PasetoPayload {
    [claim: string]: unknown;
  }

  export interface PasetoOptions {
    /** Footer used when a call gives none; also the footer verification expects. */
    readonly default_footer?: string;
    /** Implicit assertion used when a call gives none. */
    readonly default_implicit_assertion?: string;
  }

  /** Failure reasons of decrypting/verifying. */
  export type PasetoError =
    "invalid-token-format" | "invalid-footer" | "invalid-token" | "json-decode-error";

  /**
   * Makes a token; fails (without raising) only when the payload is not a table.
   * Called with `.`.
   */
  export type PasetoEncoder = (
    this: void,
    payload: object,
    footer?: string,
    implicit_assertion?: string,
  ) => LuaMultiReturn<[token: string, error?: undefined] | [token: undefined, error: string]>;

  /**
   * Checks a token and returns its payload. Raises a Lua error if `token` is not a
   * string. Called with `.`.
   */
  export type PasetoDecoder = (
    this: void,
    token: string,
    expected_footer?: string,
    implicit_assertion?: string,
  ) => LuaMultiReturn<
    [payload: PasetoPayload, error?: undefined] | [payload: undefined, error: PasetoError]
  >;

  /** v3.local: symmetric, encrypted (AES-256-CTR + HMAC-SHA384); the payload is confidential. */
  export interface PasetoV3Local {
    /** A new random key, `"secret-token:paseto.v3.local:"` followed by 64 hex digits. */
    new_key(this: void): string;
    /**
     * Encrypting and decrypting functions for a key made by `new_key()`.
     * Raises a Lua error ("invalid key for v3.local") for any other string.
     */
    init(
      this: void,
      key: string,
      options?: PasetoOptions,
    ): LuaMultiReturn<[encrypt: PasetoEncoder, decrypt: PasetoDecoder]>;
    /** The encrypting half of `init()`. */
    new_signer(this: void, key: string, options?: PasetoOptions): PasetoEncoder;
    /** The decrypting half of `init()`. */
    new_verifier(this: void, key: string, options?: PasetoOptions): PasetoDecoder;
    /** Low level: encrypts with a raw 32-byte key (asserts its length). */
    encrypt(
      this: void,
      payload: object,
      raw_key: string,
      footer?: string,
      implicit_assertion?: string,
    ): LuaMultiReturn<[token: string, error?: undefined] | [token: undefined, error: string]>;
    /** Low level: decrypts with a raw 32-byte key (asserts its length). */
    decrypt(
      this: void,
      token: string,
      raw_key: string,
      expected_footer?: string,
      implicit_assertion?: string,
    ): LuaMultiReturn<
      [payload: PasetoPayload, error?: undefined] | [payload: undefined, error: PasetoError]
    >;
  }

  /** A key object from util.crypto (opaque here). */
  export interface PasetoKey {
    readonly __pasetoKeyBrand: never;
  }

  /** v4.public: Ed25519 signatures; the payload is readable by anyone. */
  export interface PasetoV4Public {
    /** A new Ed25519 key pair. */
    new_keypair(this: void): PasetoKey;
    /**
     * Signing and verifying functions from PEM keys; each is `undefined` when its
     * key is not given.
     */
    init(
      this: void,
      private_key_pem: string | undefined,
      public_key_pem: string | undefined,
      options?: PasetoOptions,
    ): LuaMultiReturn<[sign: PasetoEncoder | undefined, verify: PasetoDecoder | undefined]>;
    new_signer(this: void, private_key_pem: string, options?: PasetoOptions): PasetoEncoder;
    new_verifier(this: void, public_key_pem: string, options?: PasetoOptions): PasetoDecoder;
  }

  export const v3_local: PasetoV3Local;
  export const v4_public: PasetoV4Public;
  /** Pre-authentication encoding (PASETO spec), exported for tests. */
  export function pae(parts: readonly string[]): string;
}
