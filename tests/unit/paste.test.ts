import { pino } from "pino";
import { describe, expect, test } from "vitest";
import type { ClaimedUpdate, InboxRepository, PendingUpdate } from "../../src/db/inbox.repository.ts";
import { coalescedRun, MAX_COALESCED, MAX_COALESCED_CHARS, createPasteMerger, PASTE_PIECE_MIN_CHARS, pasteRun } from "../../src/inbox/paste.ts";

const logger = pino({ level: "silent" });
const WINDOW = 1_500;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

const long = (c: string) => c.repeat(4_096);
const message = (updateId: number, text: string, extra: { from?: number; date?: number; thread?: number } = {}) => ({
  update_id: updateId,
  message: {
    message_id: updateId,
    date: extra.date ?? T0 / 1000,
    chat: { id: 1, type: "private" },
    from: { id: extra.from ?? 7, is_bot: false, first_name: "Pat" },
    text,
    ...(extra.thread === undefined ? {} : { message_thread_id: extra.thread, is_topic_message: true }),
  },
});
const pending = (updateId: number, payload: unknown, receivedAt = T0): PendingUpdate => ({ updateId: BigInt(updateId), payload, receivedAt: new Date(receivedAt) });

describe("which messages make one paste", () => {
  test("pieces near the limit, then the last piece, from one user within the window", () => {
    const run = pasteRun([pending(1, message(1, long("a"))), pending(2, message(2, long("b"))), pending(3, message(3, "the end")), pending(4, message(4, "next question"))], WINDOW);
    expect(run.map((p) => Number(p.updateId))).toEqual([1, 2, 3]);
  });

  test("not after a short message, nor another user's, another topic's, a command, or one written later", () => {
    const first = pending(1, message(1, long("a")));
    expect(pasteRun([pending(1, message(1, "short")), pending(2, message(2, "more"))], WINDOW)).toHaveLength(1);
    expect(pasteRun([first, pending(2, message(2, "x", { from: 8 }))], WINDOW)).toHaveLength(1);
    expect(pasteRun([first, pending(2, message(2, "x", { thread: 5 }))], WINDOW)).toHaveLength(1);
    expect(pasteRun([first, pending(2, { update_id: 2, message: { ...message(2, "/clear").message, entities: [{ type: "bot_command", offset: 0, length: 6 }] } })], WINDOW)).toHaveLength(1);
    expect(pasteRun([first, pending(2, message(2, "x", { date: T0 / 1000 + 5 }))], WINDOW)).toHaveLength(1);
    expect(pasteRun([first, pending(2, { update_id: 2, edited_message: message(2, "x").message })], WINDOW)).toHaveLength(1);
    expect(pasteRun([pending(1, message(1, "a".repeat(PASTE_PIECE_MIN_CHARS - 1))), pending(2, message(2, "x"))], WINDOW)).toHaveLength(1);
  });
});

/** An inbox holding the given updates, on a clock the test moves. */
function fakeInbox(updates: PendingUpdate[]) {
  const absorbed: Array<{ payload: object; ids: bigint[] }> = [];
  const inbox = {
    async pending(_chat: unknown, from: unknown, limit: number) {
      return updates.filter((u) => u.updateId >= BigInt(from as number)).slice(0, limit);
    },
    async absorb(_id: unknown, _owner: string, payload: object, ids: readonly bigint[]) {
      absorbed.push({ payload, ids: [...ids] });
      return true;
    },
  } as unknown as InboxRepository;
  return { inbox, absorbed, updates };
}
const claimed = (p: PendingUpdate): ClaimedUpdate => ({ updateId: p.updateId, chatId: 1n, state: "working", attempts: 1, payload: p.payload, answer: null, delivery: null, lastError: null, chatHasMore: true });

describe("merging a paste before its turn", () => {
  test("the first piece waits for the next while its window is open, then takes the whole text", async () => {
    let now = T0 + 100;
    const first = pending(1, message(1, long("a")));
    const world = fakeInbox([first]);
    const sleeps: number[] = [];
    const merger = createPasteMerger({
      inbox: world.inbox, owner: "me", windowMs: WINDOW, logger, now: () => now,
      // While the turn waits, the rest of the paste arrives.
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
        if (world.updates.length === 1) world.updates.push(pending(2, message(2, long("b")), T0 + 300), pending(3, message(3, "end"), T0 + 400));
      },
    });
    const row = await merger.merge(claimed(first));
    expect(sleeps).toEqual([1_400]); // until the first piece's window closed; the last piece is short: no more waiting
    expect((row.payload as { message: { text: string } }).message.text).toBe(`${long("a")}\n${long("b")}\nend`);
    expect(world.absorbed).toEqual([{ payload: row.payload, ids: [2n, 3n] }]);
  });

  test("a short message, a window already closed, or merging off: the row runs as it is, at once", async () => {
    const sleepNever = async () => {
      throw new Error("must not wait");
    };
    for (const [windowMs, first] of [[WINDOW, pending(1, message(1, "hi"))], [WINDOW, pending(1, message(1, long("a")))], [0, pending(1, message(1, long("a")))]] as const) {
      const world = fakeInbox([first]);
      const merger = createPasteMerger({ inbox: world.inbox, owner: "me", windowMs, logger, now: () => T0 + 5_000, sleep: sleepNever });
      expect(await merger.merge(claimed(first))).toEqual(claimed(first));
      expect(world.absorbed).toEqual([]);
    }
  });
});

describe("messages that waited behind the previous turn", () => {
  const msg = (id: number, text: string, from = 1, thread?: number) => ({
    updateId: BigInt(id),
    receivedAt: new Date(0),
    payload: { update_id: id, message: { message_id: id, date: 0, chat: { id: 1, type: "private" }, from: { id: from, is_bot: false, first_name: "U" }, text, ...(thread ? { message_thread_id: thread } : {}) } },
  });
  test("are answered together: the same author and topic, text for the bot, up to ten and 8 000 characters; a command, another author or a file ends the run", () => {
    const ids = (run: Array<{ updateId: bigint }>) => run.map((r) => Number(r.updateId));
    const all = () => true;
    expect(ids(coalescedRun([msg(1, "a"), msg(2, "b"), msg(3, "c")], all))).toEqual([1, 2, 3]);
    expect(ids(coalescedRun(Array.from({ length: 15 }, (_, i) => msg(i + 1, "x")), all))).toHaveLength(MAX_COALESCED);
    expect(ids(coalescedRun([msg(1, "a"), msg(2, "b".repeat(MAX_COALESCED_CHARS))], all))).toEqual([1]);
    expect(ids(coalescedRun([msg(1, "a"), msg(2, "b", 2), msg(3, "c")], all))).toEqual([1]);
    expect(ids(coalescedRun([msg(1, "a"), msg(2, "b", 1, 5)], all))).toEqual([1]);
    const command = { ...msg(2, "/clear"), payload: { ...msg(2, "/clear").payload, message: { ...msg(2, "/clear").payload.message, entities: [{ type: "bot_command", offset: 0, length: 6 }] } } };
    expect(ids(coalescedRun([msg(1, "a"), command, msg(3, "c")], all))).toEqual([1]);
    expect(ids(coalescedRun([msg(1, "a"), msg(2, "chatter"), msg(3, "c")], (m) => m.text !== "chatter"))).toEqual([1]);
  });
});
