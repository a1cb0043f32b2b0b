import { GrammyError, type Api } from "grammy";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { createLiveReply } from "../../src/telegram/reply/live-reply.ts";
import { createRichSupport } from "../../src/telegram/rich.ts";

type Call = { method: string; text?: string; entities?: unknown[]; messageId?: number; rich?: boolean; canStop?: boolean; at?: number };

/** Just enough of grammY's Api, recording calls; `failures` are thrown by the matching next call. */
function fakeApi(failures: Array<{ method: string; description: string; code?: number; when?: (c: Call) => boolean }> = []) {
  const calls: Call[] = [];
  let nextId = 10;
  const maybeFail = (call: Call) => {
    const i = failures.findIndex((f) => f.method === call.method && (!f.when || f.when(call)));
    if (i < 0) return;
    const [f] = failures.splice(i, 1);
    throw new GrammyError(`Call to '${call.method}' failed!`, { ok: false, error_code: f!.code ?? 400, description: f!.description }, call.method as never, {});
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
    editMessageText: async (_chat: number, messageId: number, text: string | { markdown: string }, other?: { entities?: unknown[] }) => {
      const call: Call =
        typeof text === "string"
          ? { method: "editMessageText", text, entities: other?.entities ?? [], messageId }
          : { method: "editMessageText", text: text.markdown, rich: true, messageId };
      calls.push(call);
      maybeFail(call);
      return true;
    },
    sendRichMessage: async (_chat: number, rich: { markdown: string }) => {
      const call: Call = { method: "sendRichMessage", text: rich.markdown, rich: true };
      calls.push(call);
      maybeFail(call);
      return { message_id: nextId++ };
    },
    sendRichMessageDraft: async (_chat: number, draftId: number, rich: { markdown: string }, other?: { can_stop?: boolean }) => {
      const call: Call = { method: "sendRichMessageDraft", text: rich.markdown, messageId: draftId, canStop: other?.can_stop ?? false, at: Date.now() };
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

describe("live reply with rich messages", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const richOn = () => createRichSupport("auto", logger);

  test("private chat: a draft with a stop button at the first text, then at most one per interval, then the rich answer", async () => {
    const { api, sent } = fakeApi();
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, rich: richOn(), draft: { id: 77, intervalMs: 300 }, logger });
    const started = Date.now();
    live.update("| a |");
    await vi.advanceTimersByTimeAsync(0);
    expect(sent()).toEqual([{ method: "sendRichMessageDraft", text: "| a |", messageId: 77, canStop: true, at: started }]);
    for (let i = 0; i < 10; i++) {
      live.update(`| a |${" x".repeat(i)}`);
      await vi.advanceTimersByTimeAsync(100);
    }
    const drafts = sent().filter((c) => c.method === "sendRichMessageDraft");
    expect(drafts.length).toBeGreaterThanOrEqual(3);
    expect(drafts.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < drafts.length; i++) expect(drafts[i]!.at! - drafts[i - 1]!.at!).toBeGreaterThanOrEqual(300);
    await live.finish("| a |\n| - |\n| 1 |");
    expect(sent().at(-1)).toEqual({ method: "sendRichMessage", text: "| a |\n| - |\n| 1 |", rich: true });
    expect(live.progress()).toEqual({ parts: 1, previewMessageId: 10, format: "rich" });
  });

  test("the first draft comes 150 ms after the first text: an answer complete by then is one message, no draft", async () => {
    const { api, sent } = fakeApi();
    const quick = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, rich: richOn(), draft: { id: 5, intervalMs: 300, firstAfterMs: 150 }, logger });
    quick.update("Hi");
    await vi.advanceTimersByTimeAsync(100);
    await quick.finish("Hi there");
    expect(sent().map((c) => c.method)).toEqual(["sendRichMessage"]);

    const slow = createLiveReply({ api, previewApi: api, chatId: 2, intervalMs: 1000, rich: richOn(), draft: { id: 6, intervalMs: 300, firstAfterMs: 150 }, logger });
    slow.update("Once");
    await vi.advanceTimersByTimeAsync(149);
    expect(sent()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent().at(-1)).toMatchObject({ method: "sendRichMessageDraft", text: "Once", messageId: 6 });
    await slow.finish("Once upon a time");
  });

  test("group: one rich preview message, edited no faster than the group pace, then edited into the answer", async () => {
    const { api, sent } = fakeApi();
    const live = createLiveReply({ api, previewApi: api, chatId: -1, intervalMs: 1000, groupIntervalMs: 3000, rich: richOn(), replyToMessageId: 5, logger });
    for (let t = 0; t < 70; t++) {
      live.update(`word${"s".repeat(t)}`);
      await vi.advanceTimersByTimeAsync(100);
    }
    const previews = sent();
    expect(previews[0]!.method).toBe("sendRichMessage");
    // 7 s of writing: the first preview after 1 s, then one edit every 3 s at most.
    expect(previews.filter((c) => c.method === "editMessageText")).toHaveLength(2);
    await live.finish("**done**");
    expect(sent().at(-1)).toEqual({ method: "editMessageText", text: "**done**", rich: true, messageId: 10 });
  });

  test("a preview that meets a 429 is dropped; the final answer still goes", async () => {
    const { api, sent } = fakeApi([{ method: "sendRichMessageDraft", code: 429, description: "Too Many Requests: retry after 5" }]);
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, rich: richOn(), draft: { id: 1, intervalMs: 300 }, logger });
    live.update("partial");
    await vi.advanceTimersByTimeAsync(0);
    await live.finish("partial and more");
    expect(sent().map((c) => c.method)).toEqual(["sendRichMessageDraft", "sendRichMessage"]);
  });

  test("a server without rich messages: classic from then on, for this answer and the next", async () => {
    const { api, sent } = fakeApi([{ method: "sendRichMessageDraft", code: 404, description: "Not Found" }]);
    const rich = richOn();
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, rich, draft: { id: 1, intervalMs: 300 }, logger });
    live.update("Hello **wor");
    await vi.advanceTimersByTimeAsync(0);
    expect(rich.enabled).toBe(false);
    await live.finish("Hello **world**");
    expect(sent().map((c) => [c.method, c.text])).toEqual([
      ["sendRichMessageDraft", "Hello **wor"],
      ["sendMessage", "Hello **wor"], // the same preview, classic
      ["editMessageText", "Hello world"],
    ]);
    const next = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, rich, draft: { id: 2, intervalMs: 300 }, logger });
    await next.finish("again");
    expect(sent().at(-1)).toMatchObject({ method: "sendMessage", text: "again" });
  });

  test("one rich message refused (a parse error): that one goes classic, the others stay rich", async () => {
    const { api, sent } = fakeApi([{ method: "sendRichMessage", description: "Bad Request: can't parse rich message", when: (c) => c.text!.includes("broken") }]);
    const rich = richOn();
    const live = createLiveReply({ api, previewApi: api, chatId: 1, intervalMs: 1000, rich, draft: { id: 1, intervalMs: 300 }, logger });
    const answer = ["first part", "**broken** part", "last part"].map((p) => `${p} ${"x".repeat(20_000)}`).join("\n\n");
    await live.finish(answer);
    expect(rich.enabled).toBe(true);
    const methods = sent().map((c) => c.method);
    expect(methods[0]).toBe("sendRichMessage");
    expect(methods[1]).toBe("sendRichMessage"); // refused
    expect(methods.slice(2, -1).every((m) => m === "sendMessage")).toBe(true); // the same part, classic (several 4 096 pieces)
    expect(methods.at(-1)).toBe("sendRichMessage");
    expect(sent().find((c) => c.method === "sendMessage")!.entities).toEqual([{ type: "bold", offset: 0, length: 6 }]);
  });
});
