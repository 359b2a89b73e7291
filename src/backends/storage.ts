// storage backend: a random token names a record in Prosody's configured store.
// Works on every Prosody and every storage driver; survives restarts. Records
// are kept under tokenKey(token), so neither the store nor its debug log ever
// holds a usable token.
import { medium } from "util.id";
import { JournaledStore } from "../journal";
import { asRegistration, Backend, isCanonicalBase64url, Registration, tokenKey } from "./backend";

// What util.id produces: base64url. Ours are 24 characters (util.id.medium); the
// reference module's are 32 (util.id.long) and were stored under the token itself.
// Anything else is not a token and must not reach the store (the internal driver
// turns keys into file names, and a long one fails with an error in the log).
const TOKEN_LENGTH = 24;
/** The reference module's tokens. */
const REFERENCE_TOKEN_LENGTH = 32;

/**
 * What is reported instead of the store's message when it fails on a record of
 * the reference module: that record's key is the token, and drivers name the key
 * in their messages (the file, the row), which would put the token in the log.
 */
const LEGACY_FAILURE =
  "the store failed on a record of the reference module (its message is withheld: it may name the record's key, which is the token)";

function wellFormed(this: void, token: string): boolean {
  const length = token.length;
  return (
    (length === TOKEN_LENGTH || length === REFERENCE_TOKEN_LENGTH) &&
    isCanonicalBase64url(token, 1, length)
  );
}

export function storageBackend(store: JournaledStore<Registration>): Backend {
  /** The record of a token: ours by key, else one the reference module stored; or the store's error. */
  function lookup(token: string): LuaMultiReturn<[record: unknown, err: unknown]> {
    const [record, err] = store.get(tokenKey(token));
    if (err !== undefined || record !== undefined || token.length !== REFERENCE_TOKEN_LENGTH)
      return $multi(record, err);
    const [legacy, legacyErr] = store.get(token);
    return $multi(legacy, legacyErr === undefined ? undefined : LEGACY_FAILURE);
  }

  function deleteRecord(key: string): LuaMultiReturn<[ok: boolean, reason?: string]> {
    const [ok, err] = store.set(key, undefined);
    if (ok !== true) return $multi(false, tostring(err));
    return $multi(true);
  }

  return {
    name: "storage",
    wellFormed,
    issue(registration) {
      const token = medium();
      // Stored with this turn's writes: the index entry it is issued with is
      // among them, and the registration is answered once they are stored.
      store.setSoon(tokenKey(token), registration);
      return $multi(token, undefined);
    },
    open(token) {
      if (!wellFormed(token)) return $multi(undefined, "invalid");
      const [record, err] = lookup(token);
      if (err !== undefined) return $multi(undefined, "failed", tostring(err));
      const claims = asRegistration(record);
      if (claims === undefined) return $multi(undefined, "invalid");
      return $multi(claims, undefined);
    },
    revoke(token) {
      // The reference module kept its records under the token itself: that is
      // the record such a token opens, so its deletion must succeed too.
      if (token.length === REFERENCE_TOKEN_LENGTH) {
        const [ok] = store.set(token, undefined);
        if (ok !== true) return $multi(false, LEGACY_FAILURE);
      }
      return deleteRecord(tokenKey(token));
    },
    revokeKey: deleteRecord,
    dropRecord(key) {
      store.set(key, undefined);
    },
  };
}
