// Each user's live registrations, one record per bare JID. It caps how many
// distinct apps a user may register (renewals of an app do not count), and it
// lets the storage backend's expired records be deleted: on the user's next
// registration and by a periodic sweep, so the store does not grow forever.
import { KeyValStore } from "core.storagemanager";

/** One issued endpoint: application, instance, expiry. */
interface Entry {
  readonly a: string;
  readonly i: string;
  readonly e: number;
}

/** Endpoint key (the storage token, or a hash of a stateless token) -> entry. */
type UserRecord = LuaMap<string, Entry>;

export type RefusalReason = "limit" | "failed";

export interface RegistrationIndex {
  /**
   * Registers (application, instance) for `user`: refuses past the cap, else
   * calls `issue` for the endpoint and records it. Expired entries of the user
   * are dropped (and `dropEndpoint` called for each) on the way.
   */
  register(
    this: void,
    user: string,
    application: string,
    instance: string,
    exp: number,
    now: number,
    issue: (
      this: void,
    ) => LuaMultiReturn<[key: string, reason: undefined] | [key: undefined, reason: string]>,
  ): LuaMultiReturn<
    | [key: string, refusal: undefined, detail: undefined]
    | [key: undefined, refusal: RefusalReason, detail: string]
  >;
  /** Forgets one endpoint of `user` (revoked). */
  forget(this: void, user: string, key: string): void;
  /** Drops every user's expired entries; returns how many, or undefined where the store cannot list users. */
  sweep(this: void, now: number): number | undefined;
}

function isEmpty(record: UserRecord): boolean {
  const [first] = next(record);
  return first === undefined;
}

export function registrationIndex(
  store: KeyValStore<UserRecord>,
  maxPerUser: number,
  dropEndpoint: (this: void, key: string) => void,
): RegistrationIndex {
  /** Removes expired entries in place; how many went. */
  function prune(record: UserRecord, now: number): number {
    let removed = 0;
    for (const [key, entry] of record) {
      if (entry.e < now) {
        record.delete(key);
        dropEndpoint(key);
        removed++;
      }
    }
    return removed;
  }

  return {
    register(user, application, instance, exp, now, issue) {
      const [saved, err] = store.get(user);
      if (err !== undefined) return $multi(undefined, "failed", tostring(err));
      const record: UserRecord = saved ?? new LuaMap();
      prune(record, now);

      const apps = new LuaTable<string, true>();
      let count = 0;
      for (const [, entry] of record) {
        const app = `${entry.a} ${entry.i}`;
        if (apps.get(app) === undefined) {
          apps.set(app, true);
          count++;
        }
      }
      if (apps.get(`${application} ${instance}`) === undefined && count >= maxPerUser) {
        return $multi(undefined, "limit", `${count} registrations`);
      }

      const [key, reason] = issue();
      if (key === undefined) return $multi(undefined, "failed", reason);
      record.set(key, { a: application, i: instance, e: exp });
      const [ok, setErr] = store.set(user, record);
      if (ok !== true) {
        // An endpoint the index does not know would never be purged.
        dropEndpoint(key);
        return $multi(undefined, "failed", tostring(setErr));
      }
      return $multi(key, undefined, undefined);
    },

    forget(user, key) {
      const [record] = store.get(user);
      if (record === undefined || record === false || record.get(key) === undefined) return;
      record.delete(key);
      store.set(user, isEmpty(record) ? undefined : record);
    },

    sweep(now) {
      if (store.users === undefined) return undefined;
      const users: string[] = [];
      for (const user of store.users()) users.push(user);
      let removed = 0;
      for (const user of users) {
        const [record] = store.get(user);
        if (record !== undefined && record !== false) {
          const gone = prune(record, now);
          if (gone > 0) {
            removed += gone;
            store.set(user, isEmpty(record) ? undefined : record);
          }
        }
      }
      return removed;
    },
  };
}
