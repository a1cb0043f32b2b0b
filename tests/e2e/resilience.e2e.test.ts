/**
 * End to end: long and formatted answers, streaming, failures of the model and of Telegram,
 * odd input, and many chats at once, against the real bot process.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { lastUserText } from "../fakes/openai-server.ts";
import { BotProcess } from "../helpers/bot-process.ts";
import { createWorld, person, type World } from "../helpers/world.ts";

let world: World;
let mainBot: BotProcess;

beforeAll(async () => {
  world = await createWorld();
  // Each message its own turn: these tests follow messages one by one (tests/bot/bounded.test.ts tests merging).
  mainBot = await world.startBot({ MERGE_WAITING_MAX: "1" });
});
afterAll(async () => world?.close());
beforeEach(() => world.ai.reset());

const squash = (text: string) => text.replace(/\s+/g, "");

// Classic formatting (text + entities, 4 096 a message): what a Bot API server without rich
// messages gets. The bot finds out on its first rich call and stays classic (tests/bot/rich.test.ts).
describe("long and formatted answers, on a Bot API server without rich messages", () => {
  beforeEach(() => {
    world.tg.richMessages = false;
  });

  test("a 10 000-character answer arrives whole, in order, as valid Telegram messages", async () => {
    const { chat, user } = person("Long");
    const paragraphs = Array.from({ length: 40 }, (_, i) => `Paragraph ${i + 1}: ${"lorem ipsum dolor ".repeat(13)}end ${i + 1}.`);
    paragraphs[3] = `Paragraph 4 has **bold words** and \`inline code\`: ${"x y ".repeat(50)}end 4.`;
    const markdown = paragraphs.join("\n\n");
    expect(markdown.length).toBeGreaterThan(10_000);
    const chunks = markdown.match(/[\s\S]{1,500}/g)!;
    world.ai.respondWith(() => ({ kind: "answer", chunks, chunkDelayMs: 120 }));

    world.tg.userSends(chat, user, "Write me something long");
    const messages = await world.tg.waitForChat(chat.id, (m) => m.at(-1)?.text.includes("end 40.") ?? false, "the end of the long answer");

    expect(messages.length).toBeGreaterThanOrEqual(3);
    for (const m of messages) {
      expect(m.text.trim().length).toBeGreaterThan(0);
      expect(m.text.length).toBeLessThanOrEqual(4096);
    }
    // Nothing lost or reordered: the visible text is the answer without its Markdown markers.
    const plain = markdown.replaceAll("**", "").replaceAll("`", "");
    expect(squash(messages.map((m) => m.text).join(""))).toBe(squash(plain));
    // Split at paragraph boundaries: every message ends a paragraph.
    for (const m of messages) expect(m.text.trimEnd()).toMatch(/end \d+\.$/);
    // The model's Markdown became Telegram formatting.
    const formatted = messages.find((m) => m.text.includes("bold words"))!;
    const bold = formatted.entities.find((e) => e.type === "bold")!;
    expect(formatted.text.slice(bold.offset, bold.offset + bold.length)).toBe("bold words");
    expect(formatted.entities.some((e) => e.type === "code")).toBe(true);
  });

  test("the answer grows in place while it is written, edited at most about once a second", async () => {
    const { chat, user } = person("Stream");
    const words = Array.from({ length: 16 }, (_, i) => `word${i} `);
    world.ai.respondWith(() => ({ kind: "answer", chunks: words, chunkDelayMs: 200 })); // ~3 s of writing

    world.tg.userSends(chat, user, "Stream please");
    const [message] = await world.tg.waitForChat(chat.id, (m) => m[0]?.text === words.join("").trim(), "the full streamed answer");
    expect(world.tg.messagesIn(chat.id)).toHaveLength(1);
    // A preview was shown and then edited as the text grew.
    expect(message!.editCount).toBeGreaterThanOrEqual(2);
    const previews = [message!.sentAt, ...message!.editedAt.slice(0, -1)];
    // Chunks come every 200 ms; unthrottled, previews would follow them. The bot waits 1 s between
    // previews; the bound leaves room for delivery jitter on a loaded machine.
    for (let i = 1; i < previews.length; i++) expect(previews[i]! - previews[i - 1]!).toBeGreaterThanOrEqual(600);
  });

  test("when Telegram rejects the formatting, the same text is re-sent plain", async () => {
    const { chat, user } = person("Plain");
    world.ai.respondWith(() => ({ kind: "answer", chunks: ["Some **bold** text"] }));
    world.tg.failNext(
      "sendMessage",
      { error_code: 400, description: "Bad Request: can't parse entities: unsupported start tag" },
      (p) => p.chat_id === chat.id && Array.isArray(p.entities),
    );
    world.tg.userSends(chat, user, "Format this");
    const [message] = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the plain answer");
    expect(message!.text).toBe("Some bold text");
    expect(message!.entities).toEqual([]);
    expect(world.tg.callsOf("sendMessage", chat.id).map((c) => c.ok)).toEqual([false, true]);
  });

  test("a user who blocked the bot (403 on the answer): the turn ends there, logged, and their next message is answered alone", async () => {
    const { chat, user } = person("Blocker");
    world.tg.failNext("sendMessage", { error_code: 403, description: "Forbidden: bot was blocked by the user" }, (p) => p.chat_id === chat.id);
    world.tg.userSends(chat, user, "Then I block you");
    await mainBot.waitForOutput(/user blocked the bot or removed it from the chat/);
    // Unblocked, they write again: had the first turn been left to retry, its answer would come first.
    world.tg.userSends(chat, user, "Back again");
    await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the answer to the next message");
    expect(world.tg.messagesIn(chat.id).map((m) => m.text)).toEqual(["Echo: Back again"]);
  });

  test("a 429 from Telegram is waited out (retry_after) and the answer still arrives", async () => {
    const { chat, user } = person("Limited");
    world.tg.failNext("sendMessage", { error_code: 429, description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } }, (p) => p.chat_id === chat.id);
    world.tg.userSends(chat, user, "Hello there");
    const [message] = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the answer after a 429");
    expect(message!.text).toBe("Echo: Hello there");
    const calls = world.tg.callsOf("sendMessage", chat.id);
    expect(calls.map((c) => c.ok)).toEqual([false, true]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(900);
  });
});

describe("when the model fails", () => {
  const cases = [
    { name: "a 500", script: { kind: "error", status: 500, message: "boom" }, reply: /can't reach the model/ },
    { name: "a 429", script: { kind: "error", status: 429, message: "slow down" }, reply: /busy right now/ },
    {
      name: "a context-length error",
      script: { kind: "error", status: 400, message: "This model's maximum context length is 8192 tokens", code: "context_length_exceeded" },
      reply: /\/clear to start over/,
    },
    { name: "a dropped connection", script: { kind: "drop" }, reply: /can't reach the model/ },
    { name: "a stream cut mid-answer", script: { kind: "drop", chunks: ["The beginning of"] }, reply: /cut off/ },
  ] as const;

  for (const { name, script, reply } of cases) {
    test(`${name}: a short clear reply, the failed turn left out of the context, the next message works`, async () => {
      const { chat, user } = person("Unlucky");
      world.ai.respondWith((request) => (lastUserText(request).startsWith("First") ? script : { kind: "answer", chunks: ["Fine again"] }));
      world.tg.userSends(chat, user, "First question");
      const [failure] = await world.tg.waitForChat(chat.id, (m) => m.length >= 1 && reply.test(m.at(-1)!.text), `the failure reply for ${name}`);
      expect(failure!.text.length).toBeLessThan(200);

      world.tg.userSends(chat, user, "Second question");
      await world.tg.waitForChat(chat.id, (m) => m.at(-1)?.text === "Fine again", "the next answer");
      const request = world.ai.requestsAbout("Second question")[0]!;
      // The failed turn is left out of the context: no dangling user turn, no broken answer.
      // (It is still stored, out of context: see the PostgreSQL suite and the repository contract.)
      expect(request.messages.slice(1).map((m) => `${m.role}:${m.content}`)).toEqual(["user:Second question"]);
      // The failed turn ended cleanly in the inbox (no second attempt to end it).
      expect(mainBot.stdout).not.toContain("taken over by another instance");
    });
  }

  test("a model server that refuses connections: the user is told, the bot keeps running", async () => {
    const other = await createWorld();
    try {
      const bot = new BotProcess(other.env({ OPENAI_BASE_URL: "http://127.0.0.1:9/v1" }));
      await bot.waitUntilRunning();
      const { chat, user } = person("Refused");
      other.tg.userSends(chat, user, "Anyone there?");
      await other.tg.waitFor(() => /can't reach the model/.test(other.tg.messagesIn(chat.id)[0]?.text ?? ""), "the unavailable reply");
      other.tg.userSends(chat, user, "/help");
      await other.tg.waitFor(() => other.tg.messagesIn(chat.id).length === 2, "an answer to /help after the failure");
      expect((await bot.stop()).code).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe("model timeouts", () => {
  test("a model that does not answer in time, or stalls mid-answer: the user is told, the next message works", async () => {
    const slow = await createWorld();
    try {
      await slow.startBot({ OPENAI_TIMEOUT_SECONDS: "1", OPENAI_MAX_RETRIES: "0" });
      const { chat, user } = person("Waiting");
      slow.ai.respondWith((request) => {
        const text = lastUserText(request);
        if (text === "silent") return { kind: "answer", chunks: ["too late"], latencyMs: 3_000 };
        if (text === "stalling") return { kind: "answer", chunks: ["I started", " and then stalled"], chunkDelayMs: 3_000 };
        return { kind: "answer", chunks: ["on time"] };
      });
      slow.tg.userSends(chat, user, "silent");
      await slow.tg.waitFor(() => /took too long/.test(slow.tg.messagesIn(chat.id)[0]?.text ?? ""), "the timeout reply");
      slow.tg.userSends(chat, user, "stalling");
      await slow.tg.waitFor(() => /cut off/.test(slow.tg.messagesIn(chat.id).at(-1)?.text ?? ""), "the stalled-stream reply");
      slow.tg.userSends(chat, user, "and now?");
      await slow.tg.waitFor(() => slow.tg.messagesIn(chat.id).at(-1)?.text === "on time", "the next answer");
      expect(slow.ai.requestsAbout("silent")).toHaveLength(1); // OPENAI_MAX_RETRIES=0: no retry
    } finally {
      await slow.close();
    }
  });
});

describe("many chats, one chat", () => {
  test("10 chats at once with a 1 s model finish together, not one after another", async () => {
    world.ai.respondWith((request) => ({ kind: "answer", chunks: [`Answer to ${lastUserText(request)}`], latencyMs: 1_000 }));
    const people = Array.from({ length: 10 }, (_, i) => person(`Crowd${i}`));
    const started = Date.now();
    for (const { chat, user } of people) world.tg.userSends(chat, user, `question from ${chat.id}`);
    await world.tg.waitFor(
      () => people.every(({ chat }) => world.tg.messagesIn(chat.id)[0]?.text === `Answer to question from ${chat.id}`),
      "all 10 answers",
    );
    const elapsed = Date.now() - started;
    expect(world.ai.maxInFlight).toBe(10);
    expect(elapsed).toBeLessThan(5_000); // one after another would take over 10 s
  });

  test("messages of one chat are answered strictly in order", async () => {
    world.ai.respondWith((request) => ({ kind: "answer", chunks: [`Re: ${lastUserText(request)}`], latencyMs: 300 }));
    const { chat, user } = person("Orderly");
    for (const n of [1, 2, 3]) world.tg.userSends(chat, user, `part ${n}`);
    const messages = await world.tg.waitForChat(chat.id, (m) => m.length === 3, "three answers");
    expect(messages.map((m) => m.text)).toEqual(["Re: part 1", "Re: part 2", "Re: part 3"]);
    expect(world.ai.maxInFlight).toBe(1);
    // Each turn saw the previous answers.
    expect(world.ai.requestsAbout("part 3")[0]!.messages.slice(1).map((m) => m.content)).toEqual([
      "part 1",
      "Re: part 1",
      "part 2",
      "Re: part 2",
      "part 3",
    ]);
  });
});

describe("odd input", () => {
  test("a sticker or a video gets a short hint; a photo or voice note Telegram cannot give the bot gets a clear reply", async () => {
    const { chat, user } = person("Sticky");
    world.tg.userSendsOther(chat, user, { sticker: { file_id: "s1", file_unique_id: "u1", type: "regular", width: 512, height: 512, is_animated: false, is_video: false } });
    world.tg.userSendsOther(chat, user, { video: { file_id: "m1", file_unique_id: "u4", width: 90, height: 90, duration: 3 } });
    world.tg.userSendsOther(chat, user, { photo: [{ file_id: "p1", file_unique_id: "u2", width: 90, height: 90 }] });
    world.tg.userSendsOther(chat, user, { voice: { file_id: "v1", file_unique_id: "u3", duration: 2 } });
    const messages = await world.tg.waitForChat(chat.id, (m) => m.length === 4, "four replies");
    expect(messages.map((m) => m.text)).toEqual([
      "I read text, photos, voice messages and documents, but not this kind of message yet.",
      "I read text, photos, voice messages and documents, but not this kind of message yet.",
      "I couldn't download that file from Telegram. Please try sending it again.",
      "I couldn't download that file from Telegram. Please try sending it again.",
    ]);
    expect(world.ai.requests.filter((r) => r.messages.some((x) => x.content.includes("Sticky")))).toHaveLength(0);
  });

  test("an unknown command gets a hint", async () => {
    const { chat, user } = person("Curious");
    world.tg.userSends(chat, user, "/frobnicate");
    const [reply] = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the hint");
    expect(reply!.text).toMatch(/\/help/);
  });

  test("huge text with emoji, Cyrillic and a NUL byte is stored and answered", async () => {
    const { chat, user } = person("Odd");
    const text = `Привет 👋\u0000 ${"ж".repeat(4085)}`; // 4096: Telegram's most for one message
    world.tg.userSends(chat, user, text);
    const expected = squash(`Echo: ${text.replace("\u0000", "")}`);
    // One rich message, or two classic ones (4 096 a message): either way, all of it, in order.
    const messages = await world.tg.waitForChat(chat.id, (m) => squash(m.map((x) => x.text).join("")) === expected, "the whole echoed answer");
    for (const m of messages) expect(m.rich ? Buffer.byteLength(m.text) <= 32_768 : m.text.length <= 4096).toBe(true);
  });
});
