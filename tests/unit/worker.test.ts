import { pino } from "pino";
import { expect, test } from "vitest";
import type { ClaimedUpdate, InboxRepository } from "../../src/db/inbox.repository.ts";
import { createInboxWorker, failureOf } from "../../src/inbox/worker.ts";

/** An inbox in memory: every row its own chat, claimable once. */
function memoryInbox(count: number) {
  const waiting = Array.from({ length: count }, (_, i): ClaimedUpdate => ({
    updateId: BigInt(i + 1),
    chatId: BigInt(i + 1),
    state: "working",
    attempts: 1,
    payload: {},
    answer: null,
    delivery: null,
    lastError: null,
    chatHasMore: false,
  }));
  let claims = 0;
  const inbox = {
    claim: async (_owner: string, limit: number) => {
      claims++;
      return waiting.splice(0, limit);
    },
    renewLeases: async () => 0,
    release: async () => true,
    finish: async () => ({ held: true, chatHasMore: false }),
    pruneFinished: async () => 0,
  } as unknown as InboxRepository;
  return { inbox, claims: () => claims };
}

test("with every slot busy, a wake does not spin: the event loop stays free and the rest runs as slots free up", async () => {
  const { inbox, claims } = memoryInbox(5);
  const release: Array<() => void> = [];
  let running = 0;
  let most = 0;
  const handled: number[] = [];
  const worker = createInboxWorker({
    inbox,
    owner: "unit",
    leaseMs: 60_000,
    maxConcurrent: 2,
    logger: pino({ level: "silent" }),
    pollIntervalMs: 60_000, // only wakes move it: a timer must not rescue a missed one
    handle: (row) =>
      new Promise<void>((resolve) => {
        running++;
        most = Math.max(most, running);
        handled.push(Number(row.updateId));
        release.push(() => {
          running--;
          resolve();
        });
      }),
  });
  worker.start();
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(handled).toEqual([1, 2]);
  worker.wake(); // e.g. an ingest while both slots are busy
  // A spinning loop would never let this timer fire.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const claimsWhileFull = claims();
  for (let i = 0; i < 3; i++) {
    release.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  expect(handled).toEqual([1, 2, 3, 4, 5]);
  expect(most).toBe(2);
  expect(claims()).toBeLessThanOrEqual(claimsWhileFull + 3);
  while (release.length > 0) release.shift()!();
  await worker.stop();
});

/** One row, claimed again after each release, as the database would: with the error it was released with. */
function retryingInbox() {
  const row: ClaimedUpdate = { updateId: 1n, chatId: 1n, state: "working", attempts: 0, payload: {}, answer: null, delivery: null, lastError: null, chatHasMore: false };
  let available = true;
  const ended: Array<[string, string | undefined]> = [];
  const inbox = {
    claim: async () => {
      if (!available || ended.length > 0) return [];
      available = false;
      row.attempts++;
      return [{ ...row }];
    },
    renewLeases: async () => 0,
    release: async (_id: bigint, _owner: string, options: { error?: string } = {}) => {
      row.lastError = options.error ?? row.lastError;
      available = true;
      return true;
    },
    finish: async (_id: bigint, _owner: string, state: string, error?: string) => (ended.push([state, error]), { held: true, chatHasMore: false }),
    pruneFinished: async () => 0,
  } as unknown as InboxRepository;
  return { inbox, ended, row };
}

test("a row that fails the same way twice is poison: ended, its chat told once, never run again; an outage is no such failure", async () => {
  const { inbox, ended, row } = retryingInbox();
  let runs = 0;
  const told: bigint[] = [];
  let poisoned!: () => void;
  const given = new Promise<void>((resolve) => (poisoned = resolve));
  const worker = createInboxWorker({
    inbox,
    owner: "unit",
    leaseMs: 60_000,
    maxConcurrent: 1,
    logger: pino({ level: "silent" }),
    pollIntervalMs: 1,
    handle: async () => {
      runs++;
      // The first attempt meets an outage; then the same bug, twice.
      if (runs === 1) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
      throw new TypeError(`Cannot read properties of undefined (reading 'text') at row ${runs}`);
    },
    onPoison: async (r) => {
      told.push(r.updateId);
      poisoned();
    },
  });
  worker.start();
  await given;
  await worker.stop();
  expect(runs).toBe(3);
  expect(ended).toEqual([["failed", "poison: TypeError: Cannot read properties of undefined (reading 'text') at row #"]]);
  expect(told).toEqual([1n]);
  expect(row.attempts).toBe(3);
});

test("what counts as the same failure: statement errors and bugs, numbers aside; never an outage", () => {
  expect(failureOf(Object.assign(new Error("invalid byte sequence for encoding \"UTF8\": 0x00"), { code: "22021" }))).toMatch(/^error: |^Error: invalid byte sequence/);
  expect(failureOf(Object.assign(new Error("could not serialize access"), { code: "40001" }))).toBeNull();
  expect(failureOf(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }))).toBeNull();
  expect(failureOf(new Error("Connection terminated unexpectedly"))).toBeNull();
  expect(failureOf(new Error("row 12 broke"))).toBe(failureOf(new Error("row 13 broke")));
});
