// Revoked endpoints of the stateless backends (jwt, paseto): a token stays
// cryptographically valid until it expires, so revoking it means remembering
// it until then. Kept in memory for the per-push check and persisted in one
// record so revocations survive restarts; entries are dropped once the token
// would have expired anyway.
import { KeyValStore } from "core.storagemanager";
import { tokenKey } from "./backend";

/** Where the list is kept, beside the paseto key. */
const RECORD = "_revoked";

/** Token hash (hex, 128 bits: plenty to tell tokens apart) -> the token's expiry. */
type Revoked = LuaMap<string, number>;

export interface RevocationList {
  isRevoked(this: void, token: string): boolean;
  /** Remembers the token with this tokenKey until `exp`; false and why when it could not be stored. */
  revoke(
    this: void,
    key: string,
    exp: number,
    now: number,
  ): LuaMultiReturn<[ok: boolean, reason?: string]>;
}

/** Loads the list; undefined and why when the store cannot be read. */
export function loadRevocations(
  store: KeyValStore<Revoked>,
): LuaMultiReturn<[list: RevocationList, reason: undefined] | [list: undefined, reason: string]> {
  const [saved, err] = store.get(RECORD);
  if (err !== undefined) return $multi(undefined, tostring(err));
  const revoked: Revoked = saved ?? new LuaMap();
  let count = 0;
  for (const [,] of revoked) count++;

  const list: RevocationList = {
    isRevoked(token) {
      // Nothing to hash for in the usual case of an empty list.
      return count > 0 && revoked.has(tokenKey(token));
    },
    revoke(key, exp, now) {
      for (const [old, expiry] of revoked) {
        if (expiry < now) {
          revoked.delete(old);
          count--;
        }
      }
      if (revoked.get(key) === undefined) count++;
      revoked.set(key, exp);
      const [ok, setErr] = store.set(RECORD, revoked);
      if (ok !== true) return $multi(false, tostring(setErr));
      return $multi(true);
    },
  };
  return $multi(list, undefined);
}
