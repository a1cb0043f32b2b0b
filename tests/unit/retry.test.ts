/** The one retry policy: doubling waits with a cap for retries across attempts, a table for a blip. */
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { backoffMs, retryWrite, STORAGE_RETRY, TELEGRAM_RETRY, TURN_RETRY } from "../../src/lib/retry.ts";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const waits = (policy: Parameters<typeof backoffMs>[1], attempts: number) => Array.from({ length: attempts }, (_, i) => backoffMs(i + 1, policy));

test("each kind of retry doubles from its base up to its cap, however many attempts", () => {
  expect(waits(TURN_RETRY, 7)).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  expect(waits(TELEGRAM_RETRY, 8)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  expect(waits(STORAGE_RETRY, 6)).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  expect(backoffMs(10_000, TURN_RETRY)).toBe(60_000);
  expect(backoffMs(0, TURN_RETRY)).toBe(2_000);
});

test("a write is tried again after each wait of its table, then its error is thrown", async () => {
  let calls = 0;
  const retried: number[] = [];
  const failing = retryWrite(
    async () => {
      calls++;
      throw new Error("down");
    },
    [100, 200],
    (_error, attempt) => retried.push(attempt),
  );
  const settled = failing.catch((error: unknown) => error);
  await vi.advanceTimersByTimeAsync(299);
  expect(calls).toBe(2); // the second wait is not over yet
  await vi.advanceTimersByTimeAsync(1);
  expect(calls).toBe(3);
  expect(((await settled) as Error).message).toBe("down");
  expect(retried).toEqual([1, 2]);

  let tries = 0;
  const recovered = retryWrite(async () => (++tries < 2 ? Promise.reject(new Error("blip")) : "stored"), [100], () => {});
  await vi.advanceTimersByTimeAsync(100);
  expect(await recovered).toBe("stored");
});
