// Each user's endpoints, one record per bare JID (store unified_push_users).
// It is where a renewal finds the endpoint to hand out again (stable endpoints,
// docs/design.md), and the authority on the expiry and the target full JID of
// every endpoint issued with its entry. It also caps how many distinct apps a
// user may register (renewals do not count), and lets expired endpoints'
// records be deleted on the user's next registration and by a periodic sweep,
// so the store does not grow forever.
import { KeyValStore } from "core.storagemanager";
import { tokenKey } from "./backends/backend";
import { SliceBudget, Walk, walkUsers } from "./slices";

/**
 * One endpoint. `a`, `i`, `e` are in every entry; `t` and `j` only in entries
 * written since endpoints became stable: entries without them (earlier
 * versions) are kept until they expire, but never renewed.
 */
export interface Entry {
  readonly a: string;
  readonly i: string;
  /** Expiry, seconds since the epoch; a renewal moves it. */
  e: number;
  /** The token, so that a renewal can hand out the same endpoint. */
  readonly t?: string;
  /** The full JID of the latest registration: where pushes go. */
  j?: string | undefined;
}

/** Endpoint key (tokenKey of its token) -> entry. */
export type UserRecord = LuaMap<string, Entry>;

export type RefusalReason = "limit" | "failed";

type Issue = (
  this: void,
) => LuaMultiReturn<[token: string, reason: undefined] | [token: undefined, reason: string]>;

export interface UserIndex {
  /**
   * Registers (application, instance) for `user` from `fullJid` until `exp`:
   * renews the app's live endpoint if it has one, else refuses past the cap or
   * calls `issue` for a new token and records it. Expired entries of the user
   * are dropped (and `dropEndpoint` called for each) on the way.
   */
  register(
    this: void,
    user: string,
    fullJid: string,
    application: string,
    instance: string,
    exp: number,
    now: number,
    issue: Issue,
  ): LuaMultiReturn<
    | [token: string, renewed: boolean, detail: undefined]
    | [token: undefined, refusal: RefusalReason, detail: string]
  >;
  /** Every entry of the user (expired ones too, until they are purged); or the store's error. */
  entries(
    this: void,
    user: string,
  ): LuaMultiReturn<
    [entries: UserRecord | undefined, err: undefined] | [entries: undefined, err: string]
  >;
  /** One endpoint's entry, if the user still has it; or the store's error. */
  entry(
    this: void,
    user: string,
    key: string,
  ): LuaMultiReturn<[entry: Entry | undefined, err: undefined] | [entry: undefined, err: string]>;
  /** Forgets one endpoint of `user` (revoked); false and why when that could not be stored. */
  forget(
    this: void,
    user: string,
    key: string,
  ): LuaMultiReturn<[ok: true, reason: undefined] | [ok: false, reason: string]>;
  /**
   * Forgets every endpoint of `user` (the account was deleted), calling
   * `dropEndpoint` for each; the entries it had, or the store's error.
   */
  removeUser(
    this: void,
    user: string,
  ): LuaMultiReturn<
    [entries: UserRecord | undefined, err: undefined] | [entries: undefined, err: string]
  >;
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
}

type ListUsers = (this: KeyValStore<UserRecord>) => LuaIterable<string>;

function isEmpty(record: UserRecord): boolean {
  const [first] = next(record);
  return first === undefined;
}

export function userIndex(
  store: KeyValStore<UserRecord>,
  maxPerUser: number,
  dropEndpoint: (this: void, key: string, user: string) => void,
): UserIndex {
  /** Removes expired entries in place; how many went. */
  function prune(user: string, record: UserRecord, now: number): number {
    let removed = 0;
    for (const [key, entry] of record) {
      if (entry.e < now) {
        record.delete(key);
        dropEndpoint(key, user);
        removed++;
      }
    }
    return removed;
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

  return {
    register(user, fullJid, application, instance, exp, now, issue) {
      const [saved, err] = store.get(user);
      if (err !== undefined) return $multi(undefined, "failed", tostring(err));
      const record: UserRecord = saved ?? new LuaMap();
      prune(user, record, now);

      const current = renewable(record, application, instance);
      if (current !== undefined) {
        const [wasExp, wasJid] = [current.e, current.j];
        current.e = exp;
        current.j = fullJid;
        const [ok, setErr] = store.set(user, record);
        if (ok !== true) {
          // Stores may cache what they return: leave the entry as it was.
          current.e = wasExp;
          current.j = wasJid;
          return $multi(undefined, "failed", tostring(setErr));
        }
        return $multi(current.t as string, true, undefined);
      }

      const [count, known] = countApps(record, application, instance);
      if (!known && count >= maxPerUser) {
        return $multi(undefined, "limit", `${count} registrations`);
      }
      const [token, reason] = issue();
      if (token === undefined) return $multi(undefined, "failed", reason);
      const key = tokenKey(token);
      record.set(key, { a: application, i: instance, e: exp, t: token, j: fullJid });
      const [ok, setErr] = store.set(user, record);
      if (ok !== true) {
        // An endpoint the index does not know would never be purged.
        dropEndpoint(key, user);
        return $multi(undefined, "failed", tostring(setErr));
      }
      return $multi(token, false, undefined);
    },

    entries(user) {
      const [record, err] = store.get(user);
      if (err !== undefined) return $multi(undefined, tostring(err));
      return $multi(record, undefined);
    },

    entry(user, key) {
      const [record, err] = store.get(user);
      if (err !== undefined) return $multi(undefined, tostring(err));
      if (record === undefined) return $multi(undefined, undefined);
      return $multi(record.get(key), undefined);
    },

    forget(user, key) {
      const [record, err] = store.get(user);
      if (err !== undefined) return $multi(false as const, tostring(err));
      if (record === undefined || record.get(key) === undefined)
        return $multi(true as const, undefined);
      record.delete(key);
      const [ok, setErr] = store.set(user, isEmpty(record) ? undefined : record);
      if (ok !== true) return $multi(false as const, tostring(setErr));
      dropEndpoint(key, user);
      return $multi(true as const, undefined);
    },

    removeUser(user) {
      const [record, err] = store.get(user);
      if (err !== undefined) return $multi(undefined, tostring(err));
      if (record === undefined) return $multi(undefined, undefined);
      const [ok, setErr] = store.set(user, undefined);
      if (ok !== true) return $multi(undefined, tostring(setErr));
      for (const [key] of record) dropEndpoint(key, user);
      return $multi(record, undefined);
    },

    sweep(now, budget, finished) {
      if (store.users === undefined) return undefined;
      const purge = (user: string): number => {
        const [record] = store.get(user);
        if (record === undefined || record === false) return 0;
        const gone = prune(user, record, now);
        if (gone > 0) store.set(user, isEmpty(record) ? undefined : record);
        return gone;
      };
      return walkUsers(() => (store.users as ListUsers).call(store), purge, budget, finished);
    },
  };
}
