/**
 * Answers as Telegram renders them since Bot API 10.1: rich messages carrying the
 * model's Markdown, streamed as drafts with a stop button in private chats, one edited rich
 * message in groups, and classic messages from a Bot API server without them.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BOT_USER, type TgChat } from "../fakes/telegram-server.ts";
import { person } from "../helpers/world.ts";
import { createInProcessWorld, type InProcessWorld } from "./world.ts";

let world: InProcessWorld;
beforeAll(async () => {
  world = await createInProcessWorld();
  await world.startBot();
});
afterAll(async () => world?.close());

const RICH_ANSWER = [
  "## Squares",
  "",
  "| n | n² |",
  "| --- | --- |",
  "| 2 | 4 |",
  "| 3 | 9 |",
  "",
  "$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$",
  "",
  "```python",
  "print([n * n for n in range(4)])",
  "```",
].join("\n");

describe("rich answers", () => {
  test("private chat: drafts with a stop button from the first text, then one rich message with the model's Markdown", async () => {
    const { chat, user } = person("Rika");
    const half = RICH_ANSWER.indexOf("$$");
    // The second piece comes 1.5 s after the first: the first draft must not wait for it.
    world.ai.respondWith(() => ({ kind: "answer", chunks: [RICH_ANSWER.slice(0, half), RICH_ANSWER.slice(half)], chunkDelayMs: 1_500 }));
    world.tg.userSends(chat, user, "Show me squares");
    const [answer] = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the rich answer");
    expect(answer).toMatchObject({ rich: true, text: RICH_ANSWER, entities: [] });
    const drafts = world.tg.drafts.filter((d) => d.chatId === chat.id);
    expect(drafts.length).toBeGreaterThanOrEqual(1);
    expect(drafts.every((d) => d.rich && d.canStop && d.draftId === drafts[0]!.draftId && d.draftId !== 0)).toBe(true);
    expect(drafts[0]!.text).toBe(RICH_ANSWER.slice(0, half).trim());
    expect(drafts[0]!.at).toBeLessThan(answer!.sentAt - 1_000); // shown while the model was still writing
    // The model was told that tables and formulas render.
    expect(world.ai.requestsAbout("Show me squares")[0]!.messages[0]!.content).toMatch(/tables.*formulas/);
  });

  test("group: no drafts; one rich message quoting the asker, edited into the whole answer", async () => {
    const group: TgChat = { id: -100_801, type: "supergroup", title: "Math" };
    const { user } = person("Gus");
    const words = RICH_ANSWER.split(/(?<=\n)/);
    world.ai.respondWith(() => ({ kind: "answer", chunks: words, chunkDelayMs: 150 }));
    const asked = world.tg.userSends(group, user, `@${BOT_USER.username} squares please`);
    const [answer] = await world.tg.waitForChat(group.id, (m) => m[0]?.text === RICH_ANSWER, "the whole answer in one message");
    expect(answer).toMatchObject({ rich: true, replyTo: asked });
    expect(world.tg.messagesIn(group.id)).toHaveLength(1);
    expect(world.tg.drafts.filter((d) => d.chatId === group.id)).toEqual([]);
    // Previews at the group pace: about 2 s of writing gives at most a preview and an edit or two.
    expect(answer!.editCount).toBeLessThanOrEqual(3);
  });

  test("an answer over 32 768 bytes: several rich messages, cut between blocks, the code block whole", async () => {
    const { chat, user } = person("Lena");
    const code = "```js\n" + Array.from({ length: 400 }, (_, i) => `console.log("line ${i}");`).join("\n") + "\n```";
    // Over 32 768 bytes, within ANSWER_MAX_CHARS (32 000 characters): Cyrillic is two bytes a letter.
    const paragraphs = Array.from({ length: 60 }, (_, i) => `Paragraph ${i}: ${"текст ".repeat(45)}`);
    const markdown = [...paragraphs.slice(0, 30), code, ...paragraphs.slice(30)].join("\n\n");
    expect(Buffer.byteLength(markdown)).toBeGreaterThan(40_000);
    world.ai.respondWith(() => ({ kind: "answer", chunks: [markdown] }));
    world.tg.userSends(chat, user, "Long one");
    const messages = await world.tg.waitForChat(chat.id, (m) => m.at(-1)?.text.includes("Paragraph 59") ?? false, "the last part");
    expect(messages.length).toBeGreaterThanOrEqual(2);
    for (const m of messages) {
      expect(m.rich).toBe(true);
      expect(Buffer.byteLength(m.text)).toBeLessThanOrEqual(32_768);
    }
    expect(messages.some((m) => m.text.includes(code))).toBe(true);
    expect(messages.map((m) => m.text).join("\n\n").replace(/\s+/g, "")).toBe(markdown.replace(/\s+/g, ""));
  });

  test("a rich message Telegram refuses is sent as classic text; the next answer is rich again", async () => {
    const { chat, user } = person("Raf");
    world.ai.respondWith(() => ({ kind: "answer", chunks: ["Some **bold** text"] }));
    world.tg.failNext("sendRichMessage", { error_code: 400, description: "Bad Request: can't parse rich message" }, (p) => p.chat_id === chat.id);
    world.tg.userSends(chat, user, "format");
    const [classic] = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the classic answer");
    expect(classic).toMatchObject({ text: "Some bold text", entities: [{ type: "bold", offset: 5, length: 4 }] });
    expect(classic!.rich).toBeUndefined();
    world.tg.userSends(chat, user, "again");
    const messages = await world.tg.waitForChat(chat.id, (m) => m.length === 2, "the next answer");
    expect(messages[1]).toMatchObject({ rich: true, text: "Some **bold** text" });
  });
});

test("a Bot API server without rich messages: classic messages from the first answer on, said once in the log", async () => {
  const old = await createInProcessWorld();
  try {
    old.tg.richMessages = false;
    const oldBot = await old.startBot({ LOG_LEVEL: "info" });
    const { chat, user } = person("Olga");
    old.ai.respondWith(() => ({ kind: "answer", chunks: ["A **bold** start", " and the rest"], chunkDelayMs: 300 }));
    old.tg.userSends(chat, user, "hi");
    await old.tg.waitForChat(chat.id, (m) => m[0]?.text === "A bold start and the rest", "the classic answer");
    old.tg.userSends(chat, user, "again");
    await old.tg.waitForChat(chat.id, (m) => m.length === 2, "the second answer");
    expect(old.tg.messagesIn(chat.id).every((m) => !m.rich && m.entities.some((e) => e.type === "bold"))).toBe(true);
    expect(oldBot.stdout.match(/has no rich messages; using classic formatted messages/g)).toHaveLength(1);
    // Only the first answer tried the rich methods.
    expect(old.tg.calls.filter((c) => /Rich|Draft/.test(c.method)).length).toBe(1);
    expect((await oldBot.stop()).code).toBe(0);
  } finally {
    await old.close();
  }
});
