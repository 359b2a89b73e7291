// storage backend: a random token names a record in Prosody's configured store.
// Works on every Prosody and every storage driver; survives restarts.
import { medium } from "util.id";
import { KeyValStore } from "core.storagemanager";
import { asRegistration, Backend, Registration } from "./backend";

// Keys the module keeps in the same store (the paseto key); never a token.
const RESERVED_PREFIX = "_";

// What util.id.medium() produces: base64url, 24 characters. Anything else is not
// ours and must not reach the store (the internal driver turns keys into file
// names, and a long one fails with an error in the log).
const TOKEN_PATTERN = "^[%w_-]+$";
const MAX_TOKEN_LENGTH = 32;

export function storageBackend(store: KeyValStore<Registration>): Backend {
  return {
    name: "storage",
    issue(registration) {
      let token = medium();
      while (string.sub(token, 1, 1) === RESERVED_PREFIX) token = medium();
      const [ok, err] = store.set(token, registration);
      if (!ok) return $multi(undefined, tostring(err));
      return $multi(token, undefined);
    },
    resolve(token, now) {
      if (
        token.length > MAX_TOKEN_LENGTH ||
        string.sub(token, 1, 1) === RESERVED_PREFIX ||
        string.find(token, TOKEN_PATTERN)[0] === undefined
      ) {
        return $multi(undefined, "invalid");
      }
      const [record, err] = store.get(token);
      if (record === undefined) return $multi(undefined, err === undefined ? "invalid" : "failed");
      const registration = asRegistration(record);
      if (registration === undefined) return $multi(undefined, "invalid");
      if (registration.exp < now) return $multi(undefined, "expired");
      return $multi(registration, undefined);
    },
  };
}
