/** @noSelfInFile */

/**
 * util.jwt: JSON Web Tokens.
 *
 * Both versions have `sign`/`verify` (HS256, no expiry handling). Prosody 13 adds
 * `init`, `new_signer` and `new_verifier` (HS/ES/RS/PS algorithms); they are
 * `undefined` on 0.12, so check before use. Note the 13 signer adds `iat` and
 * `exp` (default lifetime 3600 s) to the payload table it is given, in place, and
 * the 13 verifier rejects expired tokens.
 */
/** @noResolution */
declare module "util.jwt" {
  /** Claims of a token. */
  export interface JwtPayload {
    [claim: string]: unknown;
  }

  export type JwtAlgorithm =
    | "HS256"
    | "HS384"
    | "HS512"
    | "ES256"
    | "ES512"
    | "RS256"
    | "RS384"
    | "RS512"
    | "PS256"
    | "PS384"
    | "PS512";

  /**
   * Why verification failed. `signature-mismatch` comes with `ok === false`, the
   * others with `ok === undefined`.
   */
  export type JwtError =
    | "invalid-encoding"
    | "invalid-header"
    | "unsupported-algorithm"
    | "signature-mismatch"
    | "json-decode-error"
    | "invalid-payload-type"
    | "invalid-expiry"
    | "token-expired"
    | "incorrect-claims";

  /** A verification result: `[true, payload]` or `[false | undefined, error]`. */
  export type JwtResult<P> = LuaMultiReturn<
    [ok: true, payload: P] | [ok: false | undefined, error: JwtError]
  >;

  /** HS256 token for `payload` (a table, JSON-encoded as is). */
  export function sign(key: string, payload: object): string;
  /**
   * Verifies an HS256 token. On 0.12 the payload is any JSON value (a token whose
   * payload is not an object still verifies); 13 answers `invalid-payload-type`.
   */
  export function verify(key: string, token: string): JwtResult<unknown>;

  export interface JwtOptions {
    /** Lifetime added as `exp` when the payload has none (default 3600 s). */
    readonly default_ttl?: number;
    /** Skip the `exp` check when verifying. */
    readonly accept_expired?: boolean;
    /** Extra check on verified claims; `false` fails with `incorrect-claims`. */
    readonly claim_verifier?: (this: void, payload: JwtPayload) => boolean;
  }

  /** Signs a payload table (adding `iat`/`exp` to it in place); called with `.`. */
  export type JwtSigner = (this: void, payload: object) => string;
  /** Verifies a token (signature, then `exp` unless `accept_expired`); called with `.`. */
  export type JwtVerifier = (this: void, token: string) => JwtResult<JwtPayload>;

  /**
   * Prosody 13 only. Signer and verifier for one algorithm. HMAC algorithms take
   * the secret as `private_key` (and `public_key` may be omitted); others take PEM
   * keys. Raises a Lua error for an unknown algorithm or unusable key.
   */
  export const init:
    | ((
        this: void,
        algorithm: JwtAlgorithm,
        private_key: string,
        public_key?: string,
        options?: JwtOptions,
      ) => LuaMultiReturn<[sign: JwtSigner, verify: JwtVerifier]>)
    | undefined;
  /** Prosody 13 only. */
  export const new_signer:
    | ((this: void, algorithm: JwtAlgorithm, key: string, options?: JwtOptions) => JwtSigner)
    | undefined;
  /** Prosody 13 only. */
  export const new_verifier:
    | ((this: void, algorithm: JwtAlgorithm, key: string, options?: JwtOptions) => JwtVerifier)
    | undefined;
}
