/**
 * Fair share: how fast one user may make the bot work (USER_MESSAGES_PER_MINUTE, across all
 * their chats). A token bucket per user: `perMinute` updates in a burst, refilled at perMinute a
 * minute. Past it a user is told once, not once a message, until they are under the rate again.
 *
 * Kept in memory, on each instance: O(1) a message and no statement (this runs for every update).
 * With N instances behind a load balancer a user may get up to N times the rate; the daily limits,
 * kept in the database, hold across instances.
 */
export interface RateVerdict {
  ok: boolean;
  /** The first refusal since the user was last under the rate: tell them (once). */
  tell: boolean;
}

export interface RateLimiter {
  hit(userId: number): RateVerdict;
  /** Users whose bucket is tracked now (memory: idle users are dropped). */
  tracked(): number;
}

interface Bucket {
  tokens: number;
  at: number;
  told: boolean;
}

/** Users seen are forgotten once their bucket is full again; the map is swept this often (in hits). */
const SWEEP_EVERY = 1_000;

export function createRateLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  const buckets = new Map<number, Bucket>();
  const perMs = perMinute / 60_000;
  let hits = 0;
  const refill = (bucket: Bucket, at: number) => {
    bucket.tokens = Math.min(perMinute, bucket.tokens + (at - bucket.at) * perMs);
    bucket.at = at;
  };
  return {
    hit(userId) {
      const at = now();
      if (++hits % SWEEP_EVERY === 0) {
        for (const [id, bucket] of buckets) {
          refill(bucket, at);
          if (bucket.tokens >= perMinute) buckets.delete(id);
        }
      }
      let bucket = buckets.get(userId);
      if (!bucket) {
        bucket = { tokens: perMinute, at, told: false };
        buckets.set(userId, bucket);
      }
      refill(bucket, at);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        bucket.told = false;
        return { ok: true, tell: false };
      }
      const tell = !bucket.told;
      bucket.told = true;
      return { ok: false, tell };
    },
    tracked: () => buckets.size,
  };
}
