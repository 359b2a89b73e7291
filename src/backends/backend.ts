import { sha256 } from "util.hashes";
import { bare, prep, split } from "util.jid";
import { hashAttributeProblem } from "../protocol";

// What every registration backend provides (docs/design.md, "Backends and tokens"). A
// backend turns a registration into an opaque token for the endpoint URL, a
// genuine token back into what it was issued for, and revokes tokens. Expiry is
// not its business: the registry (registry.ts) checks it, because a renewal
// extends an endpoint beyond what its token says.

/** One registration, as bound by the registration IQ. Field names match the
 * reference module's records and token claims, so its endpoints keep working. */
export interface Registration {
  /** The distributor's full JID. */
  readonly sub: string;
  readonly application: string;
  readonly instance: string;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  /**
   * Set in tokens issued with an entry in the user index (userindex.ts): that
   * entry, not `sub` and `exp` here, says where the endpoint's pushes go and
   * until when, and the endpoint lives no longer than the entry.
   */
  readonly indexed?: true;
}

/**
 * What a stateless token issued with an index entry carries (docs/design.md,
 * "Backends and tokens"): the user, whose index record holds the entry, and
 * nothing else. The entry is found by the token's own key (tokenKey), and it
 * says where pushes go, for which app and until when, so the token stays short.
 */
export interface UserClaims {
  /** The distributor's bare JID. */
  readonly u: string;
}

/** What a token opens to: a whole registration (storage records, earlier tokens), or a user. */
export type Claims = Registration | UserClaims;

/** Why a token does not open. "failed" is our own fault (storage down). */
export type OpenFailure = "invalid" | "revoked" | "failed";

export interface Backend {
  readonly name: string;
  /**
   * Whether a token is exactly in this backend's token grammar: one canonical
   * string per token (no suffix, footer, padding or spare bits). Checked before
   * the resolved-token cache, the rate buckets and any lookup see the token,
   * which are all keyed by the exact string (docs/design.md, "Backends and tokens").
   */
  wellFormed(this: void, token: string): boolean;
  /**
   * A token for the registration, or undefined and why not. What the backend
   * stores for it is stored with this turn's writes (journal.ts), as the index
   * entry it is issued with.
   */
  issue(
    this: void,
    registration: Registration,
  ): LuaMultiReturn<[token: string, reason: undefined] | [token: undefined, reason: string]>;
  /**
   * What a token was issued for, if it is genuine and not revoked (expired or
   * not); else why not, and for "failed" the store's own error message.
   */
  open(
    this: void,
    token: string,
  ): LuaMultiReturn<
    | [claims: Claims, failure: undefined]
    | [claims: undefined, failure: OpenFailure, detail?: string | undefined]
  >;
  /**
   * Makes a token that has no index entry open no more, at least until `exp`;
   * false and why when that could not be stored.
   */
  revoke(
    this: void,
    token: string,
    exp: number,
    now: number,
  ): LuaMultiReturn<[ok: boolean, reason?: string]>;
  /**
   * Makes the token with this tokenKey open no more, at least until `exp` (for
   * an index entry without its token, from before endpoints were stable).
   */
  revokeKey(
    this: void,
    key: string,
    exp: number,
    now: number,
  ): LuaMultiReturn<[ok: boolean, reason?: string]>;
  /** Deletes what a forgotten index entry (a tokenKey) leaves behind: the storage backend's record. */
  dropRecord(this: void, key: string): void;
}

/** Last characters of canonical unpadded base64url, by the length mod 4: the bits past the data are zero. */
const CANONICAL_TAILS: { readonly [rest: number]: LuaTable<number, true> | undefined } = {
  // Two characters carry one byte: the last one's low four bits are unused.
  2: byteSet("AQgw"),
  // Three carry two bytes: the last one's low two bits are unused.
  3: byteSet("AEIMQUYcgkosw048"),
};

function byteSet(characters: string): LuaTable<number, true> {
  const set = new LuaTable<number, true>();
  for (let i = 1; i <= characters.length; i++) set.set(string.byte(characters, i), true);
  return set;
}

/**
 * Whether `text` from `first` to `last` (inclusive) is base64url without padding
 * in its one canonical spelling: no other characters, not a length that no bytes
 * encode, no bits set past the data (which decoders ignore, so such variants would
 * decode to the same bytes). No copies made: this runs on every push.
 */
export function isCanonicalBase64url(text: string, first: number, last: number): boolean {
  if (last < first) return false;
  const [, run] = string.find(text, "^[%w_-]+", first);
  if (run === undefined || run < last) return false;
  const rest = (last - first + 1) % 4;
  if (rest === 0) return true;
  const tails = CANONICAL_TAILS[rest];
  return tails !== undefined && tails.has(string.byte(text, last));
}

/**
 * A short stable name for a token: the storage backend's record key, the
 * revocation list's and the registration index's key. Stores and their debug
 * logs see this, never the token itself.
 */
export function tokenKey(this: void, token: string): string {
  return string.sub(sha256(token, true), 1, 32);
}

/** The claims a stateless token is issued with: the user of the registration only. */
export function userClaims(registration: Registration): UserClaims {
  return { u: bare(registration.sub) ?? registration.sub };
}

/**
 * Checks decoded token claims are what we issue: a user (a normalised bare JID),
 * or else a whole registration (asRegistration).
 */
export function asClaims(value: unknown): Claims | undefined {
  if (type(value) !== "table") return undefined;
  const u = (value as { u?: unknown }).u;
  if (u === undefined) return asRegistration(value);
  if (type(u) !== "string" || prep(u as string) !== u || split(u as string)[2] !== undefined) {
    return undefined;
  }
  return { u: u as string };
}

/**
 * Checks a decoded token payload or stored record is a registration the
 * registration IQ could have made: a normalised full JID and two valid hashes.
 * Claims signed with the right key are still not trusted blindly: they end up
 * in a stanza, where a stray byte would break the distributor's stream.
 */
export function asRegistration(value: unknown): Registration | undefined {
  if (type(value) !== "table") return undefined;
  const r = value as Record<string, unknown>;
  const { sub, application, instance } = r;
  if (
    type(sub) !== "string" ||
    type(application) !== "string" ||
    type(instance) !== "string" ||
    type(r.exp) !== "number" ||
    (r.indexed !== undefined && r.indexed !== true) ||
    hashAttributeProblem("application", application as string) !== undefined ||
    hashAttributeProblem("instance", instance as string) !== undefined ||
    prep(sub as string) !== sub ||
    split(sub as string)[2] === undefined
  ) {
    return undefined;
  }
  return r as unknown as Registration;
}
