import { expect, test } from "vitest";
import { createRateLimiter } from "../../src/limits/rate.ts";

test("a user may send `perMinute` messages in a burst, then as fast as the rate refills; past it they are told once, until they are under it again", () => {
  let now = 0;
  const rate = createRateLimiter(30, () => now);
  const burst = Array.from({ length: 30 }, () => rate.hit(1));
  expect(burst.every((v) => v.ok)).toBe(true);
  expect(rate.hit(1)).toEqual({ ok: false, tell: true });
  expect(rate.hit(1)).toEqual({ ok: false, tell: false });
  expect(rate.hit(2)).toEqual({ ok: true, tell: false }); // another user is not touched
  now += 2_000; // 30 a minute: one every 2 s
  expect(rate.hit(1)).toEqual({ ok: true, tell: false });
  expect(rate.hit(1)).toEqual({ ok: false, tell: true }); // a new flood is told again
  now += 60_000;
  expect(Array.from({ length: 30 }, () => rate.hit(1)).every((v) => v.ok)).toBe(true);
});

test("a flood of many users costs memory only while their buckets are not full again", () => {
  let now = 0;
  const rate = createRateLimiter(10, () => now);
  for (let user = 0; user < 5_000; user++) rate.hit(user);
  expect(rate.tracked()).toBe(5_000);
  now += 120_000;
  for (let i = 0; i < 1_000; i++) rate.hit(99_999); // a sweep runs: the idle users are forgotten
  expect(rate.tracked()).toBeLessThanOrEqual(1);
  expect(rate.hit(0)).toEqual({ ok: true, tell: false });
});
