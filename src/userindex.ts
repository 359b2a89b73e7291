// Each user's endpoints, one record per bare JID (store unified_push_users):
// storage only. What a record means and every change to it belong to
// endpoints.ts. Two things make it cheap (docs/design.md, "Stable endpoints"):
// records read recently stay in memory (a bounded LRU, so a renewal or a push
// reads no store), and writes go through the journal (journal.ts), which
// stores the writes of one turn of the event loop together, so a burst of
// registrations costs one write per turn. The writer is told once it is stored.
import { KeyValStore } from "core.storagemanager";
import { new as newCache } from "util.cache";
import { JournaledStore, Stored } from "./journal";

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
  /** The users with a record, for a walk; undefined where the store cannot list them. */
  readonly users: ((this: void) => LuaIterable<string>) | undefined;
}

export interface UserIndexContext {
  /** The index's store, seen through the journal (journal.ts). */
  readonly store: JournaledStore<UserRecord>;
  /** Records kept in memory. */
  readonly cacheSize: number;
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

export function userIndex(context: UserIndexContext): UserIndex {
  const { store } = context;
  const records = newCache<string, UserRecord>(context.cacheSize);

  /**
   * The record as the user's current one (an empty one is none), and the copy
   * to store: some drivers keep what they are given, and the index changes its own.
   */
  function hold(user: string, given: UserRecord | undefined): UserRecord | undefined {
    const record = given === undefined || isEmpty(given) ? undefined : given;
    records.set(user, record ?? NONE);
    return record === undefined ? undefined : copyOf(record);
  }

  return {
    read(user, remember) {
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
      const [ok, err] = store.set(user, hold(user, given));
      if (ok === true) return $multi(true as const, undefined);
      // The store is the truth again.
      records.set(user, undefined);
      return $multi(false as const, tostring(err));
    },

    writeSoon(user, given, stored) {
      store.setSoon(user, hold(user, given), (ok, err) => {
        if (!ok) records.set(user, undefined);
        stored(ok, err);
      });
    },

    users: store.users === undefined ? undefined : () => (store.users as ListUsers).call(store),
  };
}
