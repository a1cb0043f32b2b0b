import { GrammyError, type Api } from "grammy";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { createLiveReply } from "../../src/telegram/live-reply.ts";

type Call = { method: string; text?: string; entities?: unknown[]; messageId?: number };

/** Just enough of grammY's Api, recording calls; `failures` are thrown by the matching next call. */
function fakeApi(failures: Array<{ method: string; description: string; when?: (c: Call) => boolean }> = []) {
  const calls: Call[] = [];
  let nextId = 10;
  const maybeFail = (call: Call) => {
    const i = failures.findIndex((f) => f.method === call.method && (!f.when || f.when(call)));
    if (i < 0) return;
    const [f] = failures.splice(i, 1);
    throw new GrammyError(`Call to '${call.method}' failed!`, { ok: false, error_code: 400, description: f!.description }, call.method as never, {});
  };
  const api = {
    sendChatAction: async () => {
      calls.push({ method: "sendChatAction" });
      return true;
    },
    sendMessage: async (_chat: number, text: string, other?: { entities?: unknown[] }) => {
      const call = { method: "sendMessage", text, entities: other?.entities ?? [] };
      calls.push(call);
      maybeFail(call);
      return { message_id: nextId++ };
    },
    editMessageText: async (_chat: number, messageId: number, text: string, other?: { entities?: unknown[] }) => {
      const call = { method: "editMessageText", text, entities: other?.entities ?? [], messageId };
      calls.push(call);
      maybeFail(call);
      return true;
    },
  };
  return { api: api as unknown as Api, calls, sent: () => calls.filter((c) => c.method !== "sendChatAction") };
}

const logger = pino({ level: "silent" });

describe("live reply", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  test("a quick answer is sent once, formatted, with no preview", async () => {
    const { api, sent } = fakeApi();
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, logger });
    live.update("Hello **wor");
    live.update("Hello **world**");
    await live.finish("Hello **world**");
    expect(sent()).toEqual([{ method: "sendMessage", text: "Hello world", entities: [{ type: "bold", offset: 6, length: 5 }] }]);
  });

  test("previews at most once per interval, then edits into the final answer", async () => {
    const { api, sent } = fakeApi();
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, logger });
    live.update("one");
    await vi.advanceTimersByTimeAsync(1000);
    live.update("one two");
    live.update("one two three");
    await vi.advanceTimersByTimeAsync(500);
    expect(sent().map((c) => c.text)).toEqual(["one"]); // not yet: within the interval
    await vi.advanceTimersByTimeAsync(500);
    expect(sent().map((c) => c.text)).toEqual(["one", "one two three"]);
    await live.finish("one two three");
    // Identical text, no formatting: no pointless edit (Telegram would answer "not modified").
    expect(sent().map((c) => c.method)).toEqual(["sendMessage", "editMessageText"]);
  });

  test("keeps the typing indicator up while waiting, and stops it with the first message", async () => {
    const { api, calls } = fakeApi();
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, logger });
    await vi.advanceTimersByTimeAsync(10_000);
    const typing = calls.filter((c) => c.method === "sendChatAction").length;
    expect(typing).toBeGreaterThanOrEqual(3);
    await live.finish("done");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.filter((c) => c.method === "sendChatAction")).toHaveLength(typing);
  });

  test("formatting rejected on the final edit: the same text, plain", async () => {
    const { api, sent } = fakeApi([{ method: "editMessageText", description: "Bad Request: can't parse entities", when: (c) => (c.entities?.length ?? 0) > 0 }]);
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, logger });
    live.update("a");
    await vi.advanceTimersByTimeAsync(1000);
    await live.finish("a **b**");
    expect(sent().slice(1)).toEqual([
      { method: "editMessageText", text: "a b", entities: [{ type: "bold", offset: 2, length: 1 }], messageId: 10 },
      { method: "editMessageText", text: "a b", entities: [], messageId: 10 },
    ]);
  });

  test("the user deleted the preview: the answer arrives as a new message", async () => {
    const { api, sent } = fakeApi([{ method: "editMessageText", description: "Bad Request: message to edit not found" }]);
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, logger });
    live.update("partial");
    await vi.advanceTimersByTimeAsync(1000);
    await live.finish("partial and the rest");
    expect(sent().map((c) => [c.method, c.text])).toEqual([
      ["sendMessage", "partial"],
      ["editMessageText", "partial and the rest"],
      ["sendMessage", "partial and the rest"],
    ]);
  });

  test("a long answer: first piece edited into the preview, the rest sent in order", async () => {
    const { api, sent } = fakeApi();
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, logger });
    const answer = Array.from({ length: 12 }, (_, i) => `Paragraph ${i}. ${"text ".repeat(150)}`).join("\n\n");
    live.update(answer.slice(0, 5000));
    await vi.advanceTimersByTimeAsync(1000);
    await live.finish(answer);
    const calls = sent();
    expect(calls[0]!.method).toBe("sendMessage");
    expect(calls[0]!.text!.length).toBeLessThanOrEqual(4096);
    expect(calls[1]!.method).toBe("editMessageText");
    expect(calls.slice(2).every((c) => c.method === "sendMessage")).toBe(true);
    const shown = [calls[1]!, ...calls.slice(2)].map((c) => c.text).join("");
    expect(shown.replace(/\s+/g, "")).toBe(answer.replace(/\s+/g, ""));
  });
});
