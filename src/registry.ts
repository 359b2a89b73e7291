// The endpoints: what registering, pushing and revoking see. It joins the
// backend (tokens), the user index (what each user's endpoints are now) and a
// cache of resolved tokens, so a push to an endpoint seen recently reads no
// store and verifies no token (docs/design.md, "Stable endpoints").
import { new as newCache } from "util.cache";
import { bare } from "util.jid";
import { Backend, Claims, Registration, tokenKey } from "./backends/backend";
import { Counts, RevocationReason } from "./metrics";
import { Entry, RefusalReason, UserIndex, UserRecord } from "./userindex";

/**
 * A registration as a push needs it: with the distributor's bare JID (the user
 * its in-flight pushes and kept messages count for) worked out once, when the
 * token is resolved, not on every push.
 */
export interface Target extends Registration {
  readonly user: string;
  /** The token's key (tokenKey): where the endpoint's kept messages live. */
  readonly key: string;
}

/**
 * Why a registration is refused: the user's cap, our own failure, or a new
 * endpoint that would be longer than allowed.
 */
export type RegisterRefusal = RefusalReason | "too-long";

/** Why a token does not resolve. "failed" is our own fault (storage down). */
export type ResolveFailure = "invalid" | "expired" | "revoked" | "failed";

export interface Registry {
  /**
   * Registers an app of the distributor at `fullJid` until `exp`: the app's
   * current endpoint token when it has a live one (renewed: true), else a new
   * one of at most `longest` characters, if given (refused "too-long", and
   * forgotten, if it would be longer).
   */
  register(
    this: void,
    fullJid: string,
    application: string,
    instance: string,
    exp: number,
    now: number,
    longest?: number,
  ): LuaMultiReturn<
    | [token: string, renewed: boolean, detail: undefined]
    | [token: undefined, refusal: RegisterRefusal, detail: string]
  >;
  /**
   * The registration a token names now (its current target and expiry), if it
   * is genuine, not revoked and not expired at `now`; else why not, and for
   * "failed" the store's own error message.
   */
  resolve(
    this: void,
    token: string,
    now: number,
  ): LuaMultiReturn<
    | [registration: Target, failure: undefined]
    | [registration: undefined, failure: ResolveFailure, detail?: string | undefined]
  >;
  /**
   * Revokes the endpoint of a user index entry (it has a token) whose distributor
   * said the app is gone; false and why when that could not be stored.
   */
  revokeEntry(
    this: void,
    user: string,
    key: string,
    entry: Entry,
  ): LuaMultiReturn<[ok: boolean, reason?: string]>;
  /**
   * Revokes every endpoint of `user` (the account was deleted); how many, or
   * undefined and why when that could not be stored.
   */
  removeUser(
    this: void,
    user: string,
    now: number,
  ): LuaMultiReturn<[removed: number, err: undefined] | [removed: undefined, err: string]>;
  /**
   * Revokes the endpoints of `user` whose application hash starts with
   * `application`, or all of them (an admin's doing); how many, or undefined and
   * why when the index could not be read or changed.
   */
  revokeApps(
    this: void,
    user: string,
    application: string | undefined,
    now: number,
  ): LuaMultiReturn<[revoked: number, err: undefined] | [revoked: undefined, err: string]>;
  /** Every index entry of `user` (expired ones too, until purged), or the store's error. */
  entries(
    this: void,
    user: string,
  ): LuaMultiReturn<
    [entries: UserRecord | undefined, err: undefined] | [entries: undefined, err: string]
  >;
  /** Makes the token resolve no more; false and why when that could not be stored. */
  revoke(
    this: void,
    token: string,
    registration: Target,
    now: number,
  ): LuaMultiReturn<[ok: boolean, reason?: string | undefined]>;
}

/** The bare JID an index record is kept under. */
function userOf(fullJid: string): string {
  return bare(fullJid) ?? fullJid;
}

/**
 * `cacheSize` resolved tokens are remembered (bounded LRU, so memory stays
 * flat); expiry is still checked on every push, a renewal updates the cached
 * registration and a revocation drops it. `revocations` counts what is revoked.
 */
export function endpointRegistry(
  backend: Backend,
  index: UserIndex,
  cacheSize: number,
  revocations: Counts<RevocationReason>,
): Registry {
  const resolved = newCache<string, Target>(cacheSize);

  /**
   * Makes an entry's token resolve no more, before its entry goes: true when the
   * token is not known here (an entry from before stable endpoints, revoked by
   * its key), so the cache must be cleared once the entries are gone.
   */
  function evict(key: string, entry: Entry, now: number): boolean {
    if (entry.t !== undefined) {
      resolved.set(entry.t, undefined);
      return false;
    }
    if (entry.e < now) return false;
    // From before endpoints were stable: its token lives on its own claims.
    backend.revokeKey(key, entry.e, now);
    return true;
  }

  /** Where a token's pushes go now: its index entry's JID and expiry, if it is bound to one. */
  function current(
    token: string,
    claims: Claims,
  ): LuaMultiReturn<
    | [registration: Target, failure: undefined]
    | [registration: undefined, failure: ResolveFailure, detail?: string]
  > {
    const key = tokenKey(token);
    if ("u" in claims) {
      // A short token: its entry is all there is to know.
      const user = claims.u;
      const [entry, err] = index.entry(user, key);
      if (err !== undefined) return $multi(undefined, "failed", err);
      if (entry === undefined) return $multi(undefined, "revoked");
      // Entries made with a short token always name their full JID.
      if (entry.j === undefined) return $multi(undefined, "invalid");
      return $multi(
        {
          sub: entry.j,
          user,
          key,
          application: entry.a,
          instance: entry.i,
          exp: entry.e,
          indexed: true,
        },
        undefined,
      );
    }
    const user = userOf(claims.sub);
    if (claims.indexed === undefined) {
      const { sub, application, instance, exp } = claims;
      return $multi({ sub, user, key, application, instance, exp }, undefined);
    }
    const [entry, err] = index.entry(user, key);
    if (err !== undefined) return $multi(undefined, "failed", err);
    // Its entry is gone: revoked, or purged once expired.
    if (entry === undefined) return $multi(undefined, "revoked");
    return $multi(
      {
        sub: entry.j ?? claims.sub,
        user,
        key,
        application: claims.application,
        instance: claims.instance,
        exp: entry.e,
        indexed: true,
      },
      undefined,
    );
  }

  return {
    register(fullJid, application, instance, exp, now, longest) {
      const user = userOf(fullJid);
      const [token, renewed, detail] = index.register(
        user,
        fullJid,
        application,
        instance,
        exp,
        now,
        () => backend.issue({ sub: fullJid, application, instance, exp, indexed: true }),
      );
      if (token === undefined) return $multi(undefined, renewed, detail);
      if (!renewed && longest !== undefined && token.length > longest) {
        // A token's length follows the user's JID: only a very long one gets here.
        index.forget(user, tokenKey(token));
        return $multi(undefined, "too-long", `${token.length} characters`);
      }
      if (renewed) {
        const key = tokenKey(token);
        resolved.set(token, { sub: fullJid, user, key, application, instance, exp, indexed: true });
      }
      return $multi(token, renewed, undefined);
    },

    resolve(token, now) {
      // One canonical string per token: a variant (a suffix, padding) must not
      // get a cache entry, a rate bucket or a lookup of its own.
      if (!backend.wellFormed(token)) return $multi(undefined, "invalid");
      let registration = resolved.get(token);
      if (registration === undefined) {
        const [claims, failure, detail] = backend.open(token);
        if (claims === undefined) return $multi(undefined, failure, detail);
        const [found, stale, staleDetail] = current(token, claims);
        if (found === undefined) return $multi(undefined, stale, staleDetail);
        registration = found;
        resolved.set(token, registration);
      }
      // Neither util.jwt (0.12) nor util.paseto checks expiry: it is ours to enforce.
      if (registration.exp < now) {
        resolved.set(token, undefined);
        return $multi(undefined, "expired");
      }
      return $multi(registration, undefined);
    },

    revokeEntry(user, key, entry) {
      if (entry.t !== undefined) resolved.set(entry.t, undefined);
      const [forgotten, reason] = index.forget(user, key);
      if (!forgotten) return $multi(false, reason);
      revocations.gone.add(1);
      return $multi(true);
    },

    removeUser(user, now) {
      const [entries, err] = index.removeUser(user);
      if (err !== undefined) return $multi(undefined, err);
      let removed = 0;
      let unbound = false;
      for (const [key, entry] of entries ?? new LuaMap<string, Entry>()) {
        removed++;
        if (evict(key, entry, now)) unbound = true;
      }
      // Those tokens are unknown here, so cannot be picked out of the cache.
      if (unbound) resolved.clear();
      revocations.account_deleted.add(removed);
      return $multi(removed, undefined);
    },

    revokeApps(user, application, now) {
      const [entries, err] = index.entries(user);
      if (err !== undefined) return $multi(undefined, err);
      let revoked = 0;
      let unbound = false;
      let failure: string | undefined;
      for (const [key, entry] of entries ?? new LuaMap<string, Entry>()) {
        if (
          failure === undefined &&
          (application === undefined || string.sub(entry.a, 1, application.length) === application)
        ) {
          if (evict(key, entry, now)) unbound = true;
          const [forgotten, reason] = index.forget(user, key);
          if (forgotten) revoked++;
          else failure = reason;
        }
      }
      if (unbound) resolved.clear();
      revocations.admin.add(revoked);
      if (failure !== undefined) return $multi(undefined, failure);
      return $multi(revoked, undefined);
    },

    entries: index.entries,

    revoke(token, registration, now) {
      resolved.set(token, undefined);
      const [forgotten, reason] = index.forget(registration.user, registration.key);
      if (!forgotten) return $multi(false, reason);
      // A token bound to an index entry dies with it; others need the backend's word.
      if (registration.indexed !== undefined) {
        revocations.gone.add(1);
        return $multi(true);
      }
      const [ok, failure] = backend.revoke(token, registration.exp, now);
      if (ok) revocations.gone.add(1);
      return $multi(ok, failure);
    },
  };
}
