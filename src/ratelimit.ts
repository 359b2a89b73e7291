// Per-endpoint rate limit: a token bucket per endpoint, kept in a bounded LRU
// cache so memory stays flat however many endpoints are pushed to. A bucket
// evicted before it refilled leaves its debt behind in a fixed table of slots,
// so spreading pushes over more endpoints than are tracked resets no limit.
import { new as newCache } from "util.cache";

interface Bucket {
  tokens: number;
  updated: number;
}

export interface RateLimiter {
  /**
   * Takes one token for `key` at `now` (seconds on a monotonic clock); 0 when
   * allowed, else seconds until one is free.
   */
  take(this: void, key: string, now: number): number;
}

/**
 * The slot of `key` (1 to `slots`) in the table of debts. Keys are token keys,
 * hex digests whose first digits are uniform already; others are hashed.
 */
function slotOf(key: string, slots: number): number {
  const digits = tonumber(string.sub(key, 1, 7), 16);
  if (digits !== undefined) return (digits % slots) + 1;
  let hash = 0;
  for (let i = 1; i <= key.length; i++) hash = (hash * 31 + string.byte(key, i)) % slots;
  return hash + 1;
}

/**
 * `rate` tokens a second, up to `burst` saved up, for `tracked` endpoints at a
 * time. An endpoint evicted before its bucket was full again comes back with
 * what it owed (or what another evicted endpoint of its slot owes, whichever is
 * more: a shared slot errs towards limiting, only until that debt is paid).
 */
export function rateLimiter(rate: number, burst: number, tracked: number): RateLimiter {
  /** Slot -> when the buckets evicted into it will all be full again. */
  const fullAt = new LuaTable<number, number>();
  const buckets = newCache<string, Bucket>(tracked, (key, bucket) => {
    const owed = burst - bucket.tokens;
    if (owed <= 0) return;
    const slot = slotOf(key, tracked);
    const at = bucket.updated + owed / rate;
    if (at > (fullAt.get(slot) ?? 0)) fullAt.set(slot, at);
  });
  return {
    take(key, now) {
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        let tokens = burst;
        const slot = slotOf(key, tracked);
        const owedUntil = fullAt.get(slot);
        if (owedUntil !== undefined) {
          if (owedUntil > now) tokens = math.max(0, burst - (owedUntil - now) * rate);
          else fullAt.delete(slot);
        }
        bucket = { tokens, updated: now };
        buckets.set(key, bucket);
      } else {
        // A clock that went back (it should be monotonic, docs/design.md "Limits")
        // refills nothing and takes nothing away: never hours of 429.
        const elapsed = now - bucket.updated;
        if (elapsed > 0) bucket.tokens = math.min(burst, bucket.tokens + elapsed * rate);
        bucket.updated = now;
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return math.ceil((1 - bucket.tokens) / rate);
    },
  };
}
