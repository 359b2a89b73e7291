// Per-endpoint rate limit: a token bucket per endpoint, kept in a bounded LRU
// cache so memory stays flat however many endpoints are pushed to.
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
 * `rate` tokens a second, up to `burst` saved up. Endpoints evicted from the
 * cache start again with a full bucket, which only ever errs towards allowing.
 */
export function rateLimiter(rate: number, burst: number, tracked: number): RateLimiter {
  const buckets = newCache<string, Bucket>(tracked);
  return {
    take(key, now) {
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        bucket = { tokens: burst, updated: now };
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
