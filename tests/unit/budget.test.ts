/**
 * The bot's budget of sends to Telegram, on a fake clock: finals wait their turn, previews are
 * dropped under pressure, a 429 pauses and slows the bot as one sender.
 */
import type { Transformer } from "grammy";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { createSendBudget, SendShed } from "../../src/telegram/budget.ts";

type Reply = { ok: true; result: true } | { ok: false; error_code: number; description: string; parameters?: { retry_after?: number } };

beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
afterEach(() => vi.useRealTimers());

/** A transformer's call, with what the "server" answers. */
function caller(transformer: Transformer, answer: (method: string, payload: { chat_id?: number }) => Reply = () => ({ ok: true, result: true })) {
  const sentAt: Array<[string, number | undefined, number]> = [];
  const call = (method: string, chat_id?: number) =>
    (transformer as unknown as (prev: unknown, method: string, payload: unknown) => Promise<Reply>)(
      async (m: string, p: { chat_id?: number }) => {
        sentAt.push([m, p.chat_id, Date.now()]);
        return answer(m, p);
      },
      method,
      { chat_id },
    );
  return { call, sentAt };
}

describe("the send budget", () => {
  test("finals past the second's budget wait for it, in order; nothing else is held up", async () => {
    const budget = createSendBudget({ perSecond: 30 });
    const { call, sentAt } = caller(budget.transformer("final"));
    const all = Promise.all(Array.from({ length: 70 }, (_, i) => call("sendMessage", 1_000 + i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(sentAt).toHaveLength(1); // evenly spaced, not a burst (a burst reaches Telegram bunched)
    await call("getFile"); // not a send: goes at once
    expect(sentAt).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(999);
    expect(sentAt.filter(([m]) => m === "sendMessage")).toHaveLength(30);
    await vi.advanceTimersByTimeAsync(1_400);
    await all;
    expect(sentAt.filter(([m]) => m === "sendMessage").map(([, chat]) => chat)).toEqual(Array.from({ length: 70 }, (_, i) => 1_000 + i));
    // In no second were more than 30 sent.
    const times = sentAt.filter(([m]) => m === "sendMessage").map(([, , at]) => at);
    for (const [i, at] of times.entries()) expect(times.filter((t) => t > at - 1_000 && t <= at).length, `at ${i}`).toBeLessThanOrEqual(30);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, `gap ${i}`).toBeGreaterThanOrEqual(33);
  });

  test("sends that go late (a busy event loop fires timers late) keep the schedule: the delay does not add up", async () => {
    // Each send's timer fires 5 ms late: the budget's clock runs 5 ms ahead after every send.
    let late = 0;
    const budget = createSendBudget({ perSecond: 30, now: () => Date.now() + late });
    const { call, sentAt } = caller(budget.transformer("final"), () => {
      late += 5;
      return { ok: true, result: true };
    });
    const all = Promise.all(Array.from({ length: 90 }, (_, i) => call("sendMessage", 1_000 + i)));
    await vi.advanceTimersByTimeAsync(3_000);
    await all;
    const times = sentAt.map(([, , at], i) => at + 5 * i); // as the budget saw them
    // 90 at 30 a second: 89 spacings, under 3 s on schedule. Had each delay added up: 445 ms more.
    expect(times.at(-1)! - times[0]!).toBeLessThan(3_000);
    for (const [i, at] of times.entries()) expect(times.filter((t) => t > at - 1_000 && t <= at).length, `at ${i}`).toBeLessThanOrEqual(30);
  });

  test("after a stall (a long turn of the event loop) the sends that fell due go at once, up to a short burst, while the last second has room", async () => {
    const budget = createSendBudget({ perSecond: 30 });
    const { call, sentAt } = caller(budget.transformer("final"));
    const all = Promise.all(Array.from({ length: 60 }, (_, i) => call("sendMessage", 1_000 + i)));
    await vi.advanceTimersByTimeAsync(110); // 4 sends, 33 ms apart
    expect(sentAt).toHaveLength(4);
    // The event loop is busy for 300 ms: the next timer fires 9 sends late.
    vi.setSystemTime(Date.now() + 300);
    await vi.advanceTimersByTimeAsync(40); // the pending timer fires (late, as the clock sees it)
    const burst = sentAt.slice(4).filter(([, , at]) => at === sentAt[4]![2]).length;
    expect(burst).toBe(4); // the late one and three that caught up, not nine
    await vi.advanceTimersByTimeAsync(3_000);
    await all;
    const times = sentAt.map(([, , at]) => at);
    for (const [i, at] of times.entries()) expect(times.filter((t) => t > at - 1_000 && t <= at).length, `at ${i}`).toBeLessThanOrEqual(30);
  });

  test("near the budget (the last second nearly full), a late send does not bring a burst: never closer than half a spacing", async () => {
    const budget = createSendBudget({ perSecond: 30 });
    const { call, sentAt } = caller(budget.transformer("final"));
    const all = Promise.all(Array.from({ length: 60 }, (_, i) => call("sendMessage", 1_000 + i)));
    await vi.advanceTimersByTimeAsync(900); // 28 sent: the last second holds more than 30 - 6
    const before = sentAt.length;
    vi.setSystemTime(Date.now() + 150);
    await vi.advanceTimersByTimeAsync(3_000);
    await all;
    const times = sentAt.map(([, , at]) => at);
    for (let i = before; i < times.length; i++) expect(times[i]! - times[i - 1]!, `gap ${i}`).toBeGreaterThanOrEqual(16);
  });

  test("a chat's own pace: three at once in a private chat, then about one a second; twenty a minute in a group", async () => {
    const budget = createSendBudget({ perSecond: 30 });
    const { call, sentAt } = caller(budget.transformer("final"));
    void Promise.all([1, 2, 3, 4, 5].map(() => call("sendMessage", 42)));
    void Promise.all(Array.from({ length: 22 }, () => call("sendMessage", -7)));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sentAt.filter(([, c]) => c === 42)).toHaveLength(3);
    expect(sentAt.filter(([, c]) => c === -7)).toHaveLength(20);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(sentAt.filter(([, c]) => c === 42)).toHaveLength(5);
    expect(sentAt.filter(([, c]) => c === -7)).toHaveLength(20);
    await vi.advanceTimersByTimeAsync(57_000);
    expect(sentAt.filter(([, c]) => c === -7)).toHaveLength(22);
  });

  test("previews never wait: under pressure (finals waiting, half the budget used) they are dropped; drafts do not count against the chat", async () => {
    const budget = createSendBudget({ perSecond: 10 });
    const finals = caller(budget.transformer("final"));
    const previews = caller(budget.transformer("preview"));
    for (let i = 0; i < 5; i++) {
      await previews.call("sendRichMessageDraft", 5); // drafts: not the chat's pace
      await vi.advanceTimersByTimeAsync(100); // (a tenth of a second apart: the budget spaces every send)
    }
    await expect(previews.call("sendRichMessageDraft", 6)).rejects.toBeInstanceOf(SendShed); // half of 10 used
    const sent = Promise.all(Array.from({ length: 30 }, (_, i) => finals.call("sendMessage", 100 + i)));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(budget.stats().waiting).toBeGreaterThan(0);
    await expect(previews.call("sendChatAction", 9)).rejects.toBeInstanceOf(SendShed); // finals still waiting
    await vi.advanceTimersByTimeAsync(3_100);
    await sent;
    await previews.call("sendChatAction", 9); // quiet again
    expect(budget.stats()).toMatchObject({ shed: 2, waiting: 0 });
  });

  test("a 429 pauses its chat, and the final is sent after the wait; several at once halve the bot's pace; the other instances are told", async () => {
    const floods: Array<[number | null, number]> = [];
    const budget = createSendBudget({ perSecond: 30, onFlood: (chat, until) => floods.push([chat, until]) });
    const refusing = new Set([1]);
    const { call, sentAt } = caller(budget.transformer("final"), (_m, p) => {
      if (refusing.delete(p.chat_id!)) return { ok: false, error_code: 429, description: "Too Many Requests: retry after 2", parameters: { retry_after: 2 } };
      return { ok: true, result: true };
    });
    const first = call("sendMessage", 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(floods).toEqual([[1, 1_000_000 + 2_000]]);
    void Promise.all(Array.from({ length: 40 }, (_, i) => call("sendMessage", 200 + i)));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sentAt.filter(([, c]) => c !== 1).length).toBeGreaterThanOrEqual(29); // one chat's 429 slows only that chat
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await first).toEqual({ ok: true, result: true });
    expect(sentAt.filter(([, c]) => c === 1)).toHaveLength(2);

    // Chats refused together within two seconds: the bot itself is too fast; it waits, then goes at half the pace for a while.
    await vi.advanceTimersByTimeAsync(1_100); // a second with nothing sent
    for (const chat of [2, 3, 4]) refusing.add(chat);
    void Promise.all([2, 3, 4].map((chat) => call("sendMessage", chat)));
    await vi.advanceTimersByTimeAsync(50); // 2 and 3 refused, 33 ms apart
    const before = sentAt.length;
    void Promise.all(Array.from({ length: 40 }, (_, i) => call("sendMessage", 300 + i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(sentAt.length).toBe(before); // the whole bot waits out the flood
    expect(floods.at(-1)![0]).toBeNull(); // and every instance is told to
    await vi.advanceTimersByTimeAsync(2_000);
    const resumed = sentAt.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sentAt.length - resumed).toBeLessThanOrEqual(22); // slower than the full 30 a second
    expect(budget.stats().refused).toBe(4);
  });

  test("a wait longer than a final may hold is handed back (its delivery waits in the inbox); instances share the budget", async () => {
    const budget = createSendBudget({ perSecond: 30, instances: () => 3 });
    const { call, sentAt } = caller(budget.transformer("final"), () => ({ ok: false, error_code: 429, description: "Too Many Requests: retry after 60", parameters: { retry_after: 60 } }));
    await expect(call("sendMessage", 1)).resolves.toMatchObject({ ok: false, error_code: 429 });
    const other = createSendBudget({ perSecond: 30, instances: () => 3 });
    const many = caller(other.transformer("final"));
    void Promise.all(Array.from({ length: 20 }, (_, i) => many.call("sendMessage", 500 + i)));
    await vi.advanceTimersByTimeAsync(999);
    expect(many.sentAt).toHaveLength(10); // a third of 30
    expect(sentAt).toHaveLength(1);
  });
});
