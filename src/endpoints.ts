// An endpoint's life (docs/design.md, "Stable endpoints"): issued, renewed,
// resolved on every push, revoked or forgotten. This is the only module that
// changes the user index (userindex.ts, storage only): it joins the backend
// (tokens), the index (each user's endpoints now, the authority on their target
// and expiry) and a cache of resolved tokens, so a push to an endpoint seen
// recently reads no store and verifies no token. It caps the apps a user may
// register (renewals do not count) and drops expired entries on the user's next
// registration and in the hourly sweep. What must follow when an endpoint goes
// (its kept messages) listens with onForgotten.
import { new as newCache } from "util.cache";
import { bare } from "util.jid";
import { Backend, Claims, Registration, tokenKey } from "./backends/backend";
import { Counts, RevocationReason } from "./metrics";
import { SliceBudget, Walk, walkUsers } from "./slices";
import { Entry, UserIndex, UserRecord } from "./userindex";

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
 * Why a registration is refused: the user's cap, our own failure (the store),
 * or a new endpoint that would be longer than allowed.
 */
export type RegisterRefusal = "limit" | "failed" | "too-long";

/** Why a token does not resolve. "failed" is our own fault (storage down). */
export type ResolveFailure = "invalid" | "expired" | "revoked" | "failed";

/** What came of a registration, once it is stored. */
export type Registered = (
  this: void,
  ...result:
    | [token: string, renewed: boolean, detail: undefined]
    | [token: undefined, refusal: RegisterRefusal, detail: string]
) => void;

/** Called for each endpoint that is gone (revoked, expired, the account deleted). */
export type Forgotten = (this: void, user: string, key: string) => void;

export interface Endpoints {
  /**
   * Registers an app of the distributor at `fullJid` until `exp`: the app's
   * current endpoint token when it has a live one (renewed: true), else a new
   * one of at most `longest` characters (refused "too-long" if it would be
   * longer). `registered` is called once the index has stored it, after this
   * turn of the event loop, with the registrations of the same turn.
   */
  register(
    this: void,
    fullJid: string,
    application: string,
    instance: string,
    exp: number,
    now: number,
    longest: number,
    registered: Registered,
  ): void;
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
  /** One endpoint's entry, if the user still has it; or the store's error. */
  entry(
    this: void,
    user: string,
    key: string,
  ): LuaMultiReturn<[entry: Entry | undefined, err: undefined] | [entry: undefined, err: string]>;
  /** Every entry of `user` (expired ones too, until purged), or the store's error. */
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
  /**
   * Revokes the endpoint of an index entry (it has a token) whose distributor
   * said the app is gone; false and why when that could not be stored.
   */
  revokeEntry(
    this: void,
    user: string,
    key: string,
    entry: Entry,
  ): LuaMultiReturn<[ok: boolean, reason?: string | undefined]>;
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
   * A walk over every user dropping entries expired at `now`, a slice at a time
   * (its total: how many went); undefined where the store cannot list users.
   */
  sweep(
    this: void,
    now: number,
    budget: SliceBudget,
    finished: (this: void, err?: string) => void,
  ): Walk | undefined;
  /** Calls `listener` for every endpoint forgotten from now on. */
  onForgotten(this: void, listener: Forgotten): void;
}

export interface EndpointsContext {
  readonly backend: Backend;
  readonly index: UserIndex;
  /** Distinct apps per user. */
  readonly maxPerUser: number;
  /** Resolved tokens remembered (bench/README.md, "Scale"). */
  readonly cacheSize: number;
  /** What is revoked, by why. */
  readonly revocations: Counts<RevocationReason>;
}

/** The bare JID an index record is kept under. */
function userOf(fullJid: string): string {
  return bare(fullJid) ?? fullJid;
}

/** The live entry of an app that a renewal can hand out again. */
function renewable(record: UserRecord, application: string, instance: string): Entry | undefined {
  for (const [, entry] of record) {
    if (entry.t !== undefined && entry.a === application && entry.i === instance) return entry;
  }
  return undefined;
}

/** How many distinct apps the record holds, and whether the given one is among them. */
function countApps(
  record: UserRecord,
  application: string,
  instance: string,
): LuaMultiReturn<[count: number, known: boolean]> {
  const apps = new LuaTable<string, true>();
  let count = 0;
  for (const [, entry] of record) {
    const app = `${entry.a} ${entry.i}`;
    if (apps.get(app) === undefined) {
      apps.set(app, true);
      count++;
    }
  }
  return $multi(count, apps.get(`${application} ${instance}`) !== undefined);
}

export function endpoints(context: EndpointsContext): Endpoints {
  const { backend, index, revocations } = context;
  const resolved = newCache<string, Target>(context.cacheSize);
  const listeners: Forgotten[] = [];

  /** What an endpoint leaves behind goes with it: the backend's record, what it kept. */
  function forgotten(user: string, key: string): void {
    backend.dropRecord(key);
    for (const listener of listeners) listener(user, key);
  }

  /** Removes expired entries in place; how many went. */
  function prune(user: string, record: UserRecord, now: number): number {
    let removed = 0;
    for (const [key, entry] of record) {
      if (entry.e < now) {
        record.delete(key);
        forgotten(user, key);
        removed++;
      }
    }
    return removed;
  }

  /** Forgets one entry of the user; false and why when that could not be stored. */
  function forget(
    user: string,
    key: string,
  ): LuaMultiReturn<[ok: boolean, reason?: string | undefined]> {
    const [record, err] = index.read(user);
    if (err !== undefined) return $multi(false, err);
    if (record === undefined || record.get(key) === undefined) return $multi(true);
    record.delete(key);
    const [ok, setErr] = index.write(user, record);
    if (!ok) return $multi(false, setErr);
    forgotten(user, key);
    return $multi(true);
  }

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

  function entry(
    user: string,
    key: string,
  ): LuaMultiReturn<[entry: Entry | undefined, err: undefined] | [entry: undefined, err: string]> {
    const [record, err] = index.read(user);
    if (err !== undefined) return $multi(undefined, err);
    return $multi(record?.get(key), undefined);
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
      const [found, err] = entry(user, key);
      if (err !== undefined) return $multi(undefined, "failed", err);
      if (found === undefined) return $multi(undefined, "revoked");
      // Entries made with a short token always name their full JID.
      if (found.j === undefined) return $multi(undefined, "invalid");
      const { j: sub, a: application, i: instance, e: exp } = found;
      return $multi({ sub, user, key, application, instance, exp, indexed: true }, undefined);
    }
    const user = userOf(claims.sub);
    if (claims.indexed === undefined) {
      const { sub, application, instance, exp } = claims;
      return $multi({ sub, user, key, application, instance, exp }, undefined);
    }
    const [found, err] = entry(user, key);
    if (err !== undefined) return $multi(undefined, "failed", err);
    // Its entry is gone: revoked, or purged once expired.
    if (found === undefined) return $multi(undefined, "revoked");
    const { application, instance } = claims;
    const sub = found.j ?? claims.sub;
    return $multi(
      { sub, user, key, application, instance, exp: found.e, indexed: true },
      undefined,
    );
  }

  /** A new endpoint for the app, stored with this turn's registrations. */
  function issue(
    user: string,
    record: UserRecord,
    fullJid: string,
    application: string,
    instance: string,
    exp: number,
    longest: number,
    registered: Registered,
  ): void {
    const [token, reason] = backend.issue({
      sub: fullJid,
      application,
      instance,
      exp,
      indexed: true,
    });
    if (token === undefined) return registered(undefined, "failed", reason);
    const key = tokenKey(token);
    if (token.length > longest) {
      // A token's length follows the user's JID: only a very long one gets here.
      backend.dropRecord(key);
      return registered(undefined, "too-long", `${token.length} characters`);
    }
    record.set(key, { a: application, i: instance, e: exp, t: token, j: fullJid });
    index.writeSoon(user, record, (ok, err) => {
      if (ok) return registered(token, false, undefined);
      // An endpoint the index does not know would never be purged.
      backend.dropRecord(key);
      registered(undefined, "failed", err ?? "");
    });
  }

  return {
    register(fullJid, application, instance, exp, now, longest, registered) {
      const user = userOf(fullJid);
      const [saved, err] = index.read(user);
      if (err !== undefined) return registered(undefined, "failed", err);
      const record: UserRecord = saved ?? new LuaMap();
      if (prune(user, record, now) > 0) {
        // Whatever comes of the registration, the expired entries are gone.
        index.writeSoon(user, record, () => undefined);
      }

      const renewed = renewable(record, application, instance);
      if (renewed === undefined) {
        const [count, known] = countApps(record, application, instance);
        if (!known && count >= context.maxPerUser) {
          return registered(undefined, "limit", `${count} registrations`);
        }
        return issue(user, record, fullJid, application, instance, exp, longest, registered);
      }
      renewed.e = exp;
      renewed.j = fullJid;
      const token = renewed.t as string;
      const key = tokenKey(token);
      resolved.set(token, { sub: fullJid, user, key, application, instance, exp, indexed: true });
      index.writeSoon(user, record, (ok, setErr) => {
        if (ok) return registered(token, true, undefined);
        // The index reads the store again; the cache must not outlive that.
        resolved.set(token, undefined);
        registered(undefined, "failed", setErr ?? "");
      });
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

    entry,

    entries: index.read,

    revoke(token, registration, now) {
      resolved.set(token, undefined);
      const [forgot, reason] = forget(registration.user, registration.key);
      if (!forgot) return $multi(false, reason);
      // A token bound to an index entry dies with it; others need the backend's word.
      if (registration.indexed !== undefined) {
        revocations.gone.add(1);
        return $multi(true);
      }
      const [ok, failure] = backend.revoke(token, registration.exp, now);
      if (ok) revocations.gone.add(1);
      return $multi(ok, failure);
    },

    revokeEntry(user, key, found) {
      if (found.t !== undefined) resolved.set(found.t, undefined);
      const [forgot, reason] = forget(user, key);
      if (!forgot) return $multi(false, reason);
      revocations.gone.add(1);
      return $multi(true);
    },

    revokeApps(user, application, now) {
      const [record, err] = index.read(user);
      if (err !== undefined) return $multi(undefined, err);
      if (record === undefined) return $multi(0, undefined);
      const gone = new LuaMap<string, true>();
      let unbound = false;
      for (const [key, found] of record) {
        if (
          application === undefined ||
          string.sub(found.a, 1, application.length) === application
        ) {
          if (evict(key, found, now)) unbound = true;
          gone.set(key, true);
        }
      }
      for (const [key] of gone) record.delete(key);
      const [ok, setErr] = index.write(user, record);
      // Those tokens are unknown here, so cannot be picked out of the cache.
      if (unbound) resolved.clear();
      if (!ok) return $multi(undefined, setErr);
      let revoked = 0;
      for (const [key] of gone) {
        forgotten(user, key);
        revoked++;
      }
      revocations.admin.add(revoked);
      return $multi(revoked, undefined);
    },

    removeUser(user, now) {
      const [record, err] = index.read(user);
      if (err !== undefined) return $multi(undefined, err);
      if (record === undefined) return $multi(0, undefined);
      const [ok, setErr] = index.write(user, undefined);
      if (!ok) return $multi(undefined, setErr);
      let removed = 0;
      let unbound = false;
      for (const [key, found] of record) {
        removed++;
        if (evict(key, found, now)) unbound = true;
        forgotten(user, key);
      }
      if (unbound) resolved.clear();
      revocations.account_deleted.add(removed);
      return $multi(removed, undefined);
    },

    sweep(now, budget, finished) {
      const users = index.users;
      if (users === undefined) return undefined;
      const purge = (user: string): number => {
        // Read past the cache: a sweep visits every user once.
        const [record] = index.read(user, false);
        if (record === undefined) return 0;
        const gone = prune(user, record, now);
        if (gone > 0) index.write(user, record);
        return gone;
      };
      return walkUsers(users, purge, budget, finished);
    },

    onForgotten(listener) {
      listeners.push(listener);
    },
  };
}
