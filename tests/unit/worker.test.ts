import { pino } from "pino";
import { expect, test } from "vitest";
import type { ClaimedUpdate, InboxRepository } from "../../src/db/inbox.repository.ts";
import { createInboxWorker } from "../../src/inbox/worker.ts";

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
