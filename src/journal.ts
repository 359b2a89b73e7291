// The journal (docs/design.md, "The journal"): what a registration writes (the
// user's index record, a storage token's record) is stored for all writers of
// one turn of the event loop at once, as one record of the journal store, and
// the writers are told then. The records reach their own stores later (the
// fold): `foldDelay` seconds after the first write not yet folded, or at once
// when more than `maxUnfolded` wait, a slice at a time. Until then reads find
// them in memory, and a restart finds them in the journal. So a burst of
// registrations by different users costs one write per turn, not one per
// user, and a user who renews several times before the fold is stored once.
import { KeyValStore } from "core.storagemanager";
import { SliceBudget } from "./slices";

/** Values a slice of the fold writes at most (it also stops after 10 ms: slices.ts). */
export const FOLD_SLICE = 500;

/** Seconds before a fold that failed (a store down) is tried again, at the least. */
const FOLD_RETRY = 30;

/** Told once a write is stored, or why it could not be. */
export type Stored = (this: void, ok: boolean, err?: string) => void;

/**
 * A store seen through the journal: `get`, `set` and `users` as Prosody's
 * keyval stores have them (a `set` is stored when it returns: in the store
 * itself when the journal holds nothing of that key, else as a record of its
 * own), and `setSoon`.
 */
export interface JournaledStore<T> extends KeyValStore<T> {
  /**
   * Stores the value with the writes of this turn, after it, then calls `stored` if
   * given. A writer that knows what the store holds for the key (a map) says so in
   * `inStore`: a write the journal holds nothing of is then journaled as the fields
   * that changed, not whole.
   */
  setSoon(
    this: JournaledStore<T>,
    key: string,
    value: T | undefined,
    stored?: Stored,
    inStore?: T,
  ): void;
}

export interface Journal {
  /** `store` seen through the journal, under `name` (the journal's name for it). */
  open<T>(this: void, name: string, store: KeyValStore<T>): JournaledStore<T>;
  /** Reads what the journal holds (a restart), after every store is open; the store's error if any. */
  replay(this: void): string | undefined;
  /**
   * The module is unloading: stores what waits for the end of the turn, and
   * where the journal cannot be listed (so not replayed), folds everything now.
   */
  close(this: void): void;
}

export interface JournalContext {
  /** The journal itself: one record per turn with writes, keyed by its sequence number. */
  readonly store: KeyValStore<Batch>;
  /** Runs `callback` after `delay` seconds, again after the seconds it returns. */
  readonly addTimer: (
    this: void,
    delay: number,
    callback: (this: void) => number | undefined,
  ) => void;
  /** Seconds from a write to its fold. */
  readonly foldDelay: number;
  /** Writes waiting for the fold beyond which it starts at once. */
  readonly maxUnfolded: number;
  /** How much one slice of the fold may do (`users`: values written), and how often. */
  readonly budget: SliceBudget;
  readonly log: (this: void, level: "debug" | "warn", message: string, ...args: unknown[]) => void;
}

/** One journal record: store name -> what the turn wrote to that store. */
export type Batch = LuaMap<string, Writes>;

/**
 * One store's writes in a record: whole values (false: deleted), and maps
 * written again while not yet folded, as the fields that changed (false: gone).
 * A user renewing one of five apps journals that app's entry, not all five.
 */
interface Writes {
  set?: LuaMap<string, unknown>;
  changed?: LuaMap<string, LuaMap<string, unknown>>;
}

/** A value not yet folded, and the journal record that holds it (its sequence number). */
interface Unfolded {
  readonly value: unknown;
  readonly seq: number;
}

interface Opened {
  readonly name: string;
  readonly store: KeyValStore<unknown>;
  readonly unfolded: LuaMap<string, Unfolded>;
}

/** Nothing of the key in the journal, and what its store holds, as its writer said. */
interface InStore {
  readonly inStore: unknown;
}

/**
 * What a key held before this turn's write, restored if the turn's record cannot be
 * stored: a value not yet folded, or nothing in the journal (false, or InStore).
 */
type Prior = Unfolded | false | InStore;

function isUnfolded(prior: Prior): prior is Unfolded {
  return prior !== false && (prior as Unfolded).seq !== undefined;
}

type ListUsers = (this: KeyValStore<unknown>) => LuaIterable<string>;

type Fields = LuaMap<string, unknown>;

/** Equal scalars, or tables with the same scalar fields (an index entry, one level down). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (type(a) !== "table" || type(b) !== "table") return false;
  for (const [field, value] of a as Fields) if ((b as Fields).get(field) !== value) return false;
  for (const [field] of b as Fields) if ((a as Fields).get(field) === undefined) return false;
  return true;
}

/** The fields of map `after` that differ from map `before` (false: gone); undefined unless both are maps. */
function changesOf(before: unknown, after: unknown): Fields | undefined {
  if (type(before) !== "table" || type(after) !== "table") return undefined;
  const was = before as Fields;
  const now = after as Fields;
  const changes: Fields = new LuaMap();
  for (const [field, value] of now)
    if (!sameValue(was.get(field), value)) changes.set(field, value);
  for (const [field] of was) if (now.get(field) === undefined) changes.set(field, false);
  return changes;
}

/** `base` (a map, or nothing) with `changes` applied: a new table. */
function applied(base: unknown, changes: Fields): Fields {
  const merged: Fields = new LuaMap();
  if (type(base) === "table") for (const [field, value] of base as Fields) merged.set(field, value);
  for (const [field, value] of changes) {
    if (value === false) merged.delete(field);
    else merged.set(field, value);
  }
  return merged;
}

export function journal(context: JournalContext): Journal {
  const { store: records, addTimer, log } = context;
  const opened = new LuaMap<string, Opened>();
  /** The sequence number of the next record. */
  let nextSeq = 1;
  /** Records stored and not yet folded, oldest first. */
  const stored: number[] = [];
  /** This turn's writes: what each key held before, and who waits. */
  let turn = new LuaMap<Opened, LuaMap<string, Prior>>();
  let waiting: Stored[] = [];
  let scheduled = false;
  let unfoldedCount = 0;
  let folding = false;
  let foldDue = false;

  /** Writes every value of records up to `upTo` to its store, a slice per tick, then drops those records. */
  function fold(this: void): void {
    foldDue = false;
    if (folding || stored.length === 0) return;
    folding = true;
    const upTo = stored[stored.length - 1];
    // What to write: the key and the store it belongs to, side by side.
    const keys: string[] = [];
    const stores: Opened[] = [];
    for (const [, one] of opened) {
      for (const [key, { seq }] of one.unfolded) {
        if (seq <= upTo) {
          keys.push(key);
          stores.push(one);
        }
      }
    }
    let at = 0;
    let failed: string | undefined;
    /** Records dropped so far, oldest first: each one's values are in their stores. */
    let dropped = 0;
    /** One slice, writing values, then dropping records; the seconds until the next, if any. */
    const slice = (): number | undefined => {
      const { budget } = context;
      const started = budget.clock();
      let done = 0;
      const more = (): boolean => done < budget.users && budget.clock() - started < budget.seconds;
      while (at < keys.length && more()) {
        const one = stores[at];
        const key = keys[at];
        at++;
        const current = committed(one, key);
        if (current !== undefined) {
          const [ok, err] = one.store.set(key, current.value === false ? undefined : current.value);
          if (ok !== true) failed = tostring(err);
        }
        done++;
      }
      if (failed === undefined) {
        // Oldest first, and none after one that stays: a record replayed after a
        // restart must never be older than what the stores hold.
        while (at >= keys.length && stored.length > 0 && stored[0] <= upTo && more()) {
          const [ok, err] = records.set(tostring(stored[0]), undefined);
          if (ok !== true) {
            failed = tostring(err);
            break;
          }
          dropped = stored.shift() as number;
          done++;
        }
      }
      if (failed === undefined && (at < keys.length || (stored.length > 0 && stored[0] <= upTo)))
        return context.budget.pause;
      folding = false;
      forgetFolded(dropped);
      if (failed !== undefined) {
        // Nothing else is dropped: the journal still holds it, and a later fold tries again.
        log("warn", "Could not fold the journal into its stores: %s", failed);
        scheduleFold(math.max(context.foldDelay, FOLD_RETRY));
      } else if (stored.length > 0) {
        scheduleFold(context.foldDelay);
      }
      return undefined;
    };
    // The first slice now: with no delay, a turn's writes are in their stores when it is answered.
    const pause = slice();
    if (pause !== undefined) addTimer(pause, slice);
  }

  /** Lets go of the values of records up to `dropped`: their stores hold them. */
  function forgetFolded(dropped: number): void {
    for (const [, one] of opened) {
      for (const [key, { seq }] of one.unfolded) {
        if (seq <= dropped) {
          one.unfolded.delete(key);
          unfoldedCount--;
        }
      }
    }
  }

  /** What the journal holds for a key: not a write of this turn, which may yet fail. */
  function committed(one: Opened, key: string): Unfolded | undefined {
    const current = one.unfolded.get(key);
    if (current === undefined || current.seq < nextSeq) return current;
    const writes = turn.get(one);
    const prior = writes === undefined ? undefined : writes.get(key);
    return prior !== undefined && isUnfolded(prior) ? prior : undefined;
  }

  /** A fold in `delay` seconds (0: now), unless one is due or under way. */
  function scheduleFold(delay: number): void {
    if (delay <= 0) return fold();
    if (foldDue || folding) return;
    foldDue = true;
    addTimer(delay, () => {
      fold();
      return undefined;
    });
  }

  /** Stores this turn's writes as one record; on failure each key holds what it held before. */
  function flush(this: void): LuaMultiReturn<[ok: boolean, err?: string]> {
    scheduled = false;
    const writes = turn;
    const told = waiting;
    turn = new LuaMap();
    waiting = [];
    const seq = nextSeq;
    const batch: Batch = new LuaMap();
    let any = false;
    for (const [one, keys] of writes) {
      const entry: Writes = {};
      for (const [key, prior] of keys) {
        const value = (one.unfolded.get(key) as Unfolded).value;
        // Not yet folded, its last record holds what it was; or the store does: the
        // changes will do.
        const before =
          prior === false ? undefined : isUnfolded(prior) ? prior.value : prior.inStore;
        const changes = changesOf(before, value);
        if (changes === undefined) {
          if (entry.set === undefined) entry.set = new LuaMap();
          entry.set.set(key, value);
        } else if (next(changes)[0] !== undefined) {
          if (entry.changed === undefined) entry.changed = new LuaMap();
          entry.changed.set(key, changes);
        } else if (isUnfolded(prior)) {
          // Nothing changed: the record that held it still does, and is folded first.
          one.unfolded.set(key, prior);
        } else {
          // Nothing changed: the store holds it.
          one.unfolded.delete(key);
          unfoldedCount--;
        }
      }
      if (entry.set !== undefined || entry.changed !== undefined) {
        batch.set(one.name, entry);
        any = true;
      }
    }
    if (!any) {
      for (const callback of told) callback(true);
      return $multi(true);
    }
    const [ok, err] = records.set(tostring(seq), batch);
    if (ok === true) {
      nextSeq++;
      stored.push(seq);
      // Too much waits in memory: fold now (fold() does nothing while one runs).
      scheduleFold(unfoldedCount > context.maxUnfolded ? 0 : context.foldDelay);
      for (const callback of told) callback(true);
      return $multi(true);
    }
    for (const [one, keys] of writes) {
      for (const [key, prior] of keys) {
        if (isUnfolded(prior)) {
          one.unfolded.set(key, prior);
        } else {
          one.unfolded.delete(key);
          unfoldedCount--;
        }
      }
    }
    for (const callback of told) callback(false, tostring(err));
    return $multi(false, tostring(err));
  }

  function write(one: Opened, key: string, value: unknown, inStore?: unknown): void {
    let keys = turn.get(one);
    if (keys === undefined) {
      keys = new LuaMap();
      turn.set(one, keys);
    }
    const prior = one.unfolded.get(key);
    if (keys.get(key) === undefined)
      keys.set(key, prior ?? (inStore === undefined ? false : { inStore }));
    if (prior === undefined) unfoldedCount++;
    // false in a record: deleted (a record cannot hold nil).
    one.unfolded.set(key, { value: value ?? false, seq: nextSeq });
  }

  /** Takes one store's writes of record `seq` as not yet folded; the store's error if any. */
  function replayed(one: Opened, writes: Writes, seq: number): string | undefined {
    const take = (key: string, value: unknown): void => {
      if (one.unfolded.get(key) === undefined) unfoldedCount++;
      one.unfolded.set(key, { value, seq });
    };
    if (writes.set !== undefined) for (const [key, value] of writes.set) take(key, value);
    if (writes.changed === undefined) return undefined;
    for (const [key, changes] of writes.changed) {
      const held = one.unfolded.get(key);
      let base = held === undefined ? undefined : held.value;
      if (held === undefined) {
        const [saved, err] = one.store.get(key);
        if (err !== undefined) return tostring(err);
        base = saved;
      }
      take(key, applied(base, changes));
    }
    return undefined;
  }

  function later(): void {
    if (scheduled) return;
    scheduled = true;
    addTimer(0, () => {
      flush();
      return undefined;
    });
  }

  return {
    open<T>(name: string, store: KeyValStore<T>): JournaledStore<T> {
      const one: Opened = {
        name,
        store: store as KeyValStore<unknown>,
        unfolded: new LuaMap(),
      };
      opened.set(name, one);
      const listUsers = store.users as ListUsers | undefined;
      const journaled: JournaledStore<T> = {
        get(key) {
          const held = one.unfolded.get(key as string);
          if (held === undefined) return store.get(key);
          return $multi(held.value === false ? undefined : (held.value as T));
        },
        set(key, value) {
          // Nothing of it in the journal: no record a restart replays can
          // override the store, so the store takes it at once (one write, not three).
          if (one.unfolded.get(key as string) === undefined) return store.set(key, value);
          write(one, key as string, value);
          const [ok, err] = flush();
          if (ok) return $multi(true as const);
          return $multi(false as const, err ?? "");
        },
        setSoon(key, value, told, inStore) {
          write(one, key, value, inStore);
          if (told !== undefined) waiting.push(told);
          later();
        },
      };
      if (listUsers !== undefined) {
        journaled.users = () =>
          coroutine.wrap(() => {
            // The keys waiting for the fold first (a snapshot: a walk spans
            // ticks), then the store's others.
            const waitingKeys = new LuaMap<string, boolean>();
            for (const [key, { value }] of one.unfolded) waitingKeys.set(key, value !== false);
            for (const [key, live] of waitingKeys) if (live) coroutine.yield(key);
            for (const key of listUsers.call(store as KeyValStore<unknown>)) {
              if (waitingKeys.get(key) === undefined) coroutine.yield(key);
            }
          }) as unknown as LuaIterable<string>;
      }
      return journaled;
    },

    replay() {
      const list = records.users as ((this: KeyValStore<Batch>) => LuaIterable<string>) | undefined;
      if (list === undefined) return undefined;
      const found: number[] = [];
      for (const key of list.call(records)) {
        const seq = tonumber(key);
        if (seq !== undefined) found.push(seq);
      }
      table.sort(found);
      for (const seq of found) {
        const [batch, err] = records.get(tostring(seq));
        if (err !== undefined) return tostring(err);
        if (batch !== undefined) {
          for (const [name, writes] of batch) {
            const one = opened.get(name);
            const problem = one === undefined ? undefined : replayed(one, writes, seq);
            if (problem !== undefined) return problem;
          }
        }
        stored.push(seq);
        nextSeq = seq + 1;
      }
      if (stored.length > 0) scheduleFold(context.foldDelay);
      return undefined;
    },

    close() {
      flush();
      if (records.users !== undefined) return;
      for (const [, one] of opened) {
        for (const [key, { value }] of one.unfolded) {
          one.store.set(key, value === false ? undefined : value);
        }
      }
      for (const seq of stored) records.set(tostring(seq), undefined);
    },
  };
}
