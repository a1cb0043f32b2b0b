import { describe, expect, test } from "vitest";
import { batchWhileBusy } from "../../src/lib/batch.ts";

/**
 * Lets promise jobs, ticks and the batches' own end-of-turn sends run, those queued by them too
 * (a few turns of the event loop, not a timer: nothing here waits for time).
 */
const settle = async () => {
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
};

/** A statement runner whose statements end when the test says so. */
function controlledRunner(options: { failWhen?: (requests: readonly number[]) => boolean } = {}) {
  const batches: number[][] = [];
  const pending: Array<() => void> = [];
  const run = (requests: readonly number[]) => {
    batches.push([...requests]);
    return new Promise<string[]>((resolve, reject) => {
      pending.push(() => {
        if (options.failWhen?.(requests)) reject(new Error(`batch ${requests.join(",")} failed`));
        else resolve(requests.map((r) => `result ${r}`));
      });
    });
  };
  return { run, batches, endNext: () => pending.shift()?.(), running: () => pending.length };
}

describe("batchWhileBusy (group commit)", () => {
  test("a request made while idle goes out alone, at once", async () => {
    const runner = controlledRunner();
    const request = batchWhileBusy(runner.run, { maxInFlight: 2, maxBatchSize: 10 });
    const result = request(1);
    await settle();
    expect(runner.batches).toEqual([[1]]);
    runner.endNext();
    expect(await result).toBe("result 1");
  });

  test("requests made by separate callbacks of one event-loop turn (replies that came in together) go out together", async () => {
    const runner = controlledRunner();
    const request = batchWhileBusy(runner.run, { maxInFlight: 2, maxBatchSize: 10 });
    const results: Array<Promise<string>> = [];
    await new Promise<void>((resolve) => {
      setImmediate(() => results.push(request(1)));
      setImmediate(() => {
        results.push(request(2));
        resolve();
      });
    });
    await settle();
    expect(runner.batches).toEqual([[1, 2]]);
    runner.endNext();
    expect(await Promise.all(results)).toEqual(["result 1", "result 2"]);
  });

  test("requests made while every slot is busy wait, then go out together, each with its own result", async () => {
    const runner = controlledRunner();
    const request = batchWhileBusy(runner.run, { maxInFlight: 1, maxBatchSize: 10 });
    const first = request(1);
    await settle();
    const later = [request(2), request(3)];
    await settle();
    const evenLater = request(4); // still collected into the waiting batch
    await settle();
    expect(runner.batches).toEqual([[1]]);
    expect(runner.running()).toBe(1);
    runner.endNext();
    await settle();
    expect(runner.batches).toEqual([[1], [2, 3, 4]]);
    runner.endNext();
    expect(await Promise.all([first, ...later, evenLater])).toEqual(["result 1", "result 2", "result 3", "result 4"]);
  });

  test("never runs more than maxInFlight statements, and splits at maxBatchSize", async () => {
    const runner = controlledRunner();
    const request = batchWhileBusy(runner.run, { maxInFlight: 2, maxBatchSize: 3 });
    const all = Array.from({ length: 8 }, (_, i) => request(i + 1));
    await settle();
    expect(runner.running()).toBe(2);
    expect(runner.batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    runner.endNext();
    await settle();
    expect(runner.running()).toBe(2);
    expect(runner.batches.at(-1)).toEqual([7, 8]);
    runner.endNext();
    runner.endNext();
    expect(await Promise.all(all)).toEqual(all.map((_, i) => `result ${i + 1}`));
  });

  test("a failed statement fails its own requests only; the next batch still runs", async () => {
    const runner = controlledRunner({ failWhen: (requests) => requests.includes(1) });
    const request = batchWhileBusy(runner.run, { maxInFlight: 1, maxBatchSize: 10 });
    const failing = request(1);
    await settle();
    const next = request(2);
    await settle();
    runner.endNext();
    await expect(failing).rejects.toThrow("batch 1 failed");
    await settle();
    runner.endNext();
    expect(await next).toBe("result 2");
    expect(runner.batches).toEqual([[1], [2]]);
  });
});
