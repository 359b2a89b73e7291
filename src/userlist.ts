// Lists of a store's users, in shards (docs/design.md, "Work over every user").
// A walk over every user reads the list a shard at a time, where the store's own
// listing is read whole by the SQL drivers, in one query before the first user
// (about 200 ms at 100,000 users on SQLite). The store's writes keep the list:
// a user is in it from the write that gives them a value, out of it from the
// one that removes it. A read heals the list: it lists a user it finds a value
// for (one that reached the store some other way: an older version of the
// module run meanwhile, a script) and unlists one it finds none for. A store's
// first walk goes over its own listing and fills the list as it goes; once it has
// seen every user, a marker says the list is complete, and later walks go by the list.
import { KeyValStore } from "core.storagemanager";
import { sha1 } from "util.hashes";
import { JournaledStore } from "./journal";

/**
 * Shards per list: about 25 users each at 100,000 users. A turn that changes a
 * shard copies it and the journal compares the copy with what it held, so a walk
 * filling a list (500 users a slice, in as many shards) costs about 500 shards'
 * size a slice: with 256 shards of 400 users that was ticks of up to 240 ms.
 */
const SHARDS = 4096;

/** A shard (the users in it), or a list's marker ({ complete = true }). */
export type ListRecord = LuaMap<string, true>;

type ListUsers<T> = (this: KeyValStore<T>) => LuaIterable<string>;

export interface UserLists {
  /**
   * `store` with its users listed under `name`: its `set` and `setSoon` keep the
   * list (an addition by `set` is stored before it returns, one by `setSoon` with
   * the same record), and its `users` walks the list once it is complete.
   */
  listed<T, S extends KeyValStore<T>>(this: void, name: string, store: S): S;
}

/** Lists kept in `lists` (seen through the journal, so that a change costs no write of its own). */
export function userLists(lists: JournaledStore<ListRecord>): UserLists {
  /** Shards read so far, by key: what the list holds, never a table the store has. */
  const shards = new LuaMap<string, ListRecord>();

  function shardOf(name: string, user: string): string {
    const digest = sha1(user);
    return `${name}.${(string.byte(digest, 1) * 256 + string.byte(digest, 2)) % SHARDS}`;
  }

  /** A shard, read once; undefined when the store fails. */
  function shard(key: string): ListRecord | undefined {
    const held = shards.get(key);
    if (held !== undefined) return held;
    const [saved, err] = lists.get(key);
    if (err !== undefined) return undefined;
    const read = new LuaMap<string, true>();
    if (saved !== undefined) for (const [user] of saved) read.set(user, true);
    shards.set(key, read);
    return read;
  }

  /**
   * Shards changed with this turn's writes, not yet stored: changed again in
   * place (a walk filling a list adds hundreds of users to a shard in a turn).
   */
  const unstored = new LuaMap<string, true>();

  /** Puts `user` in list `name` or out of it, now or with this turn's writes; false when the list failed. */
  function mark(name: string, user: string, present: boolean, now: boolean): boolean {
    const key = shardOf(name, user);
    const held = shard(key);
    if (held === undefined) return false;
    if ((held.get(user) !== undefined) === present) return true;
    // This turn's own table, not yet stored: changed in place.
    const inTurn = !now && unstored.get(key) !== undefined;
    let changed = held;
    if (!inTurn) {
      // A new table: the journal compares it with the one it holds.
      changed = new LuaMap();
      for (const [member] of held) changed.set(member, true);
      shards.set(key, changed);
    }
    if (present) changed.set(user, true);
    else changed.delete(user);
    const value = next(changed)[0] === undefined ? undefined : changed;
    if (now) {
      const [ok] = lists.set(key, value);
      if (ok !== true) shards.delete(key);
      return ok === true;
    }
    if (inTurn) {
      lists.setSoon(key, value);
      return true;
    }
    unstored.set(key, true);
    // `held` is what the store holds where the journal holds nothing of the shard:
    // the record then holds the users that came or went, not the whole shard.
    const stored = (ok: boolean): void => {
      unstored.delete(key);
      if (!ok) shards.delete(key);
    };
    lists.setSoon(key, value, stored, held);
    return true;
  }

  return {
    listed<T, S extends KeyValStore<T>>(name: string, store: S): S {
      const marker = `${name}.complete`;
      let complete: boolean | undefined;
      /** Times the list was found wanting: a walk that began before cannot complete it. */
      let spoiled = 0;
      const isComplete = (): boolean => {
        if (complete === undefined) {
          const [found, err] = lists.get(marker);
          if (err !== undefined) return false;
          complete = found !== undefined;
        }
        return complete;
      };
      const keep = (user: string | undefined, value: T | undefined, now: boolean): void => {
        if (user === undefined || mark(name, user, value !== undefined, now)) return;
        // The list may miss a user: the next walk goes over the store again.
        spoiled++;
        complete = false;
        lists.setSoon(marker, undefined);
      };
      const seen = store as KeyValStore<T> & Partial<JournaledStore<T>>;
      const wrapped: KeyValStore<T> & Partial<JournaledStore<T>> = {
        get(user) {
          const [value, err] = seen.get(user);
          // What the store holds heals the list (some drivers answer false for nothing).
          if (err === undefined)
            keep(user, (value as unknown) === false ? undefined : value, false);
          return $multi(value as T | undefined, err as undefined);
        },
        set(user, value) {
          const [ok, err] = seen.set(user, value);
          if (ok !== true) return $multi(ok, err as string);
          // An addition is stored now, as the value was; a removal may wait (a read heals it).
          keep(user, value, value !== undefined);
          return $multi(true as const);
        },
      };
      const setSoon = seen.setSoon;
      if (setSoon !== undefined) {
        wrapped.setSoon = (user, value, stored, inStore) => {
          setSoon.call(store as unknown as JournaledStore<T>, user, value, stored, inStore);
          keep(user, value, false);
        };
      }
      const listUsers = seen.users as ListUsers<T> | undefined;
      if (listUsers !== undefined) {
        wrapped.users = () =>
          coroutine.wrap(() => {
            if (isComplete()) {
              for (const n of $range(0, SHARDS - 1)) {
                const key = `${name}.${n}`;
                const held = shard(key);
                if (held === undefined) error(`cannot read the list of ${name} users (${key})`);
                // A snapshot: the walk spans ticks, and writes meanwhile change the shard.
                const users: string[] = [];
                for (const [user] of held) users.push(user);
                for (const user of users) coroutine.yield(user);
              }
              return;
            }
            const since = spoiled;
            let whole = true;
            for (const user of listUsers.call(store)) {
              if (!mark(name, user, true, false)) whole = false;
              coroutine.yield(user);
            }
            if (whole && since === spoiled) {
              complete = true;
              const done = new LuaMap<string, true>();
              done.set("complete", true);
              lists.setSoon(marker, done);
            }
          }) as unknown as LuaIterable<string>;
      }
      return wrapped as unknown as S;
    },
  };
}
