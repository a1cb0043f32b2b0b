/**
 * Parley's one retry policy: how long to wait before trying again, for every kind of retry.
 *
 * - Attempts that span claims of an inbox row (a turn that failed, a delivery Telegram refused, a
 *   store that was down) wait `backoffMs`: doubling from a base, up to a cap, each kind with its
 *   own base and cap below.
 * - A write inside one attempt rides out a short database blip by `retryWrite`, with a short table
 *   of waits: the turn's model call is not repeated for a blip.
 */

/** A doubling backoff: `baseMs` after the first attempt, twice that after the second, never more than `maxMs`. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** A turn that failed (the worker releases its row): 2 s, 4 s, 8 s … 60 s. */
export const TURN_RETRY: Backoff = { baseMs: 2_000, maxMs: 60_000 };
/** A delivery Telegram could not take (its 5xx, no connection): 1 s, 2 s, 4 s … 60 s. A 429 waits what Telegram asks. */
export const TELEGRAM_RETRY: Backoff = { baseMs: 1_000, maxMs: 60_000 };
/** A turn that found the database unavailable: 2 s, 4 s, 8 s, 16 s, 30 s. */
export const STORAGE_RETRY: Backoff = { baseMs: 2_000, maxMs: 30_000 };

/** The wait after `attempt` attempts (1: the first failed) under `backoff`. */
export const backoffMs = (attempt: number, { baseMs, maxMs }: Backoff): number =>
  Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 20));

/** A write that ends a turn's answer (its message, its row): a blip of a few seconds costs no model call. */
export const STORE_RETRY_MS: readonly number[] = [200, 1_000, 3_000];
/**
 * A write that ends an inbox row (about a minute in all). Giving up early would let the lease run
 * out and a delivered answer be delivered again; meanwhile no other instance can take the row over
 * either, as long as the database is away.
 */
export const END_RETRY_MS: readonly number[] = [200, 1_000, 3_000, 5_000, 10_000, 10_000, 10_000, 10_000, 10_000];

/**
 * Retries a database write through a short outage. Only for writes that are safe to repeat
 * (conditional on a lease, or idempotent): a failed attempt may still have committed.
 */
export async function retryWrite<T>(
  write: () => Promise<T>,
  delaysMs: readonly number[],
  onRetry: (error: unknown, attempt: number) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const wait = delaysMs[attempt];
      if (wait === undefined) throw error;
      onRetry(error, attempt + 1);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
