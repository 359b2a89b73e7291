// Verified tokens, remembered: a push to an endpoint seen recently skips the
// backend (paseto decryption, JWT signature check, storage read). Bounded LRU,
// so memory stays flat; expiry is still checked on every push, and a revoked
// token is dropped from the cache before the backend records the revocation.
import { new as newCache } from "util.cache";
import { Backend, Registration } from "./backend";

export function cachedBackend(backend: Backend, size: number): Backend {
  const verified = newCache<string, Registration>(size);
  return {
    name: backend.name,
    issue: backend.issue,
    resolve(token, now) {
      const known = verified.get(token);
      if (known !== undefined) {
        if (known.exp >= now) return $multi(known, undefined);
        verified.set(token, undefined);
        return $multi(undefined, "expired");
      }
      const [registration, failure, detail] = backend.resolve(token, now);
      if (registration === undefined) return $multi(undefined, failure, detail);
      verified.set(token, registration);
      return $multi(registration, undefined);
    },
    revoke(token, registration, now) {
      verified.set(token, undefined);
      return backend.revoke(token, registration, now);
    },
    dropExpired: backend.dropExpired,
  };
}
