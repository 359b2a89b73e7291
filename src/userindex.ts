// Each user's endpoints, one record per bare JID (store unified_push_users):
// storage only. What a record means and every change to it belong to
// endpoints.ts. Two things make it cheap (docs/design.md, "Stable endpoints"):
// records read recently stay in memory (a bounded LRU, so a renewal or a push
// reads no store), and the writes asked for in one turn of the event loop go to
// the store together after it, one per user, so a distributor renewing five
// endpoints at once, or a thousand reconnecting, costs one write per user, not
// one per registration. The writer is told once the record is stored.
import { KeyValStore } from "core.storagemanager";
import { new as newCache } from "util.cache";

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

/** Told once a write is stored, or why it could not be. */
export type Stored = (this: void, ok: boolean, err?: string) => void;

export interface UserIndex {
  /**
   * The user's record, or undefined when there is none; or the store's error.
   * It is the index's own copy: change it, then write it. Unless `remember` is
   * false, a record read from the store stays in memory.
   */
  read(
    this: void,
    user: string,
    remember?: boolean,
  ): LuaMultiReturn<
    [record: UserRecord | undefined, err: undefined] | [record: undefined, err: string]
  >;
  /** Stores the user's record now (undefined: the user has none); false and why on failure. */
  write(
    this: void,
    user: string,
    record: UserRecord | undefined,
  ): LuaMultiReturn<[ok: true, err: undefined] | [ok: false, err: string]>;
  /** Stores the user's record with the writes of this turn, after it, then calls `stored`. */
  writeSoon(this: void, user: string, record: UserRecord | undefined, stored: Stored): void;
  /** Stores whatever waits for the end of the turn (the module is unloading). */
  flush(this: void): void;
  /** The users with a record, for a walk; undefined where the store cannot list them. */
  readonly users: ((this: void) => LuaIterable<string>) | undefined;
}

export interface UserIndexContext {
  readonly store: KeyValStore<UserRecord>;
  /** Records kept in memory. */
  readonly cacheSize: number;
  /** Runs `callback` on a later turn of the event loop (module:add_timer(0, …)). */
  readonly later: (this: void, callback: (this: void) => void) => void;
}

type ListUsers = (this: KeyValStore<UserRecord>) => LuaIterable<string>;

/** What the index holds for a user with no record: nothing to read, and known to be so. */
const NONE = new LuaMap<string, Entry>();

/** A copy, so that the index's record and the store's never are the same table. */
function copyOf(record: UserRecord): UserRecord {
  const copy = new LuaMap<string, Entry>();
  for (const [key, { a, i, e, t, j }] of record) {
    copy.set(key, t === undefined ? { a, i, e, j } : { a, i, e, t, j });
  }
  return copy;
}

function isEmpty(record: UserRecord): boolean {
  const [first] = next(record);
  return first === undefined;
}

/** A record waiting for the end of the turn, and who waits on its write. */
interface Waiting {
  record: UserRecord | undefined;
  readonly stored: Stored[];
}

export function userIndex(context: UserIndexContext): UserIndex {
  const { store, later } = context;
  const records = newCache<string, UserRecord>(context.cacheSize);
  /** Records written soon: pinned here (the LRU may let go of them) until stored. */
  let waiting = new LuaMap<string, Waiting>();
  let scheduled = false;

  /** Stores one user's record; on failure the store is the truth again. */
  function put(
    user: string,
    record: UserRecord | undefined,
  ): LuaMultiReturn<[ok: true, err: undefined] | [ok: false, err: string]> {
    // A copy: some drivers keep what they are given, and the index changes its own.
    const copy = record === undefined ? undefined : copyOf(record);
    const [ok, err] = store.set(user, copy);
    if (ok === true) return $multi(true as const, undefined);
    records.set(user, undefined);
    return $multi(false as const, tostring(err));
  }

  /** The record as the user's current one (an empty one is none), read before it is stored. */
  function hold(user: string, given: UserRecord | undefined): UserRecord | undefined {
    const record = given === undefined || isEmpty(given) ? undefined : given;
    records.set(user, record ?? NONE);
    return record;
  }

  function flush(this: void): void {
    scheduled = false;
    const batch = waiting;
    waiting = new LuaMap();
    for (const [user, { record, stored }] of batch) {
      const [ok, err] = put(user, record);
      for (const callback of stored) callback(ok, err);
    }
  }

  return {
    read(user, remember) {
      const soon = waiting.get(user);
      if (soon !== undefined) return $multi(soon.record, undefined);
      const held = records.get(user);
      if (held !== undefined) return $multi(held === NONE ? undefined : held, undefined);
      const [saved, err] = store.get(user);
      if (err !== undefined) return $multi(undefined, tostring(err));
      // Some drivers answer false for "no record".
      const found = saved === undefined || (saved as unknown) === false ? undefined : saved;
      const record = found === undefined ? undefined : copyOf(found);
      if (remember !== false) records.set(user, record ?? NONE);
      return $multi(record, undefined);
    },

    write(user, given) {
      const [ok, err] = put(user, hold(user, given));
      // Whoever waited for the end of the turn is stored by this write.
      const soon = waiting.get(user);
      if (soon !== undefined) {
        waiting.delete(user);
        for (const callback of soon.stored) callback(ok, err);
      }
      return $multi(ok, err) as LuaMultiReturn<
        [ok: true, err: undefined] | [ok: false, err: string]
      >;
    },

    writeSoon(user, given, stored) {
      const record = hold(user, given);
      const soon = waiting.get(user);
      if (soon !== undefined) {
        soon.record = record;
        soon.stored.push(stored);
      } else {
        waiting.set(user, { record, stored: [stored] });
      }
      if (!scheduled) {
        scheduled = true;
        later(flush);
      }
    },

    flush,

    users: store.users === undefined ? undefined : () => (store.users as ListUsers).call(store),
  };
}
