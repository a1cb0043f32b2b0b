/**
 * In process: the access gate, delivery resumed where it stopped, and a poison row, each with the
 * fault it guards against named (a removed access check, a delivery resumed from part 0, a row
 * retried forever).
 */
import { afterEach, expect, test } from "vitest";
import { sql } from "kysely";
import { createDatabase } from "../../src/db/connection.ts";
import { createLanguages } from "../../src/telegram/i18n.ts";
import { person } from "../helpers/world.ts";
import { startInProcess, type InProcessBot } from "./harness.ts";

let bot: InProcessBot | undefined;
afterEach(async () => {
  await bot?.dispose();
  bot = undefined;
});

test("the gate: a stranger gets one reply with their id, the model is not called, and their button press does nothing", async () => {
  const friend = person("Friend");
  const stranger = person("Stranger");
  bot = await startInProcess({ ALLOWED_USERS: String(friend.user.id) });
  const { tg, ai } = bot;
  tg.userSends(stranger.chat, stranger.user, "let me in");
  const [refused] = await tg.waitForChat(stranger.chat.id, (m) => m.length === 1, "the refusal");
  expect(refused!.text).toContain(String(stranger.user.id));
  expect(ai.requestsAbout("let me in")).toEqual([]);

  tg.userSends(friend.chat, friend.user, "hello");
  const [answer] = await tg.waitForChat(friend.chat.id, (m) => m.length === 1, "the answer");
  expect(answer!.text).toBe("Echo: hello");
  // The friend's /forget button, pressed by the stranger in the friend's chat: refused.
  tg.userSends(friend.chat, friend.user, "/forget");
  const [, ask] = await tg.waitForChat(friend.chat.id, (m) => m.length === 2, "the question");
  const press = tg.userPresses(friend.chat, stranger.user, ask!, ask!.buttons![0]![0]!.callback_data);
  await tg.waitFor(() => tg.answeredCallbackQueries.some((q) => q.id === press), "the press answered");
  expect(tg.answeredCallbackQueries.find((q) => q.id === press)).toMatchObject({ text: "This button belongs to someone else.", show_alert: true });
});

test("a delivery cut by Telegram's 5xx resumes where it stopped: every part of the answer is sent once", async () => {
  const reader = person("Reader");
  bot = await startInProcess({ TELEGRAM_RICH_MESSAGES: "off" });
  const { tg, ai } = bot;
  const paragraphs = Array.from({ length: 3 }, (_, i) => `Part ${i}: ${"lorem ipsum ".repeat(300)}`);
  ai.respondWith(() => ({ kind: "answer", chunks: [paragraphs.join("\n\n")] }));
  // The second message of the answer fails once, as Telegram's 500.
  let sends = 0;
  tg.failNext("sendMessage", { error_code: 500, description: "Internal Server Error" }, (params) => params.chat_id === reader.chat.id && ++sends === 2);
  tg.userSends(reader.chat, reader.user, "a long one, please");
  await tg.waitFor(() => tg.messagesIn(reader.chat.id).some((m) => m.text.startsWith("Part 2")), "the last part");
  const texts = tg.messagesIn(reader.chat.id).map((m) => m.text.slice(0, 6));
  expect(texts).toEqual(["Part 0", "Part 1", "Part 2"]);
  expect(ai.requestsAbout("a long one")).toHaveLength(1); // delivered again, never generated again
});

test("a row that fails the same way twice is poison: ended as failed, the chat told once, never run again", async () => {
  const victim = person("Victim");
  bot = await startInProcess({ TELEGRAM_RICH_MESSAGES: "off" });
  const { tg, ai } = bot;
  // A Bot API (or a proxy) that answers "ok" with nothing, twice: the delivery cannot go on.
  const toVictim = (params: Record<string, unknown>) => params.chat_id === victim.chat.id && typeof params.text === "string" && params.text.startsWith("Echo");
  tg.answerNext("sendMessage", null, toVictim);
  tg.answerNext("sendMessage", null, toVictim);
  tg.userSends(victim.chat, victim.user, "break it");
  const [notice] = await tg.waitForChat(victim.chat.id, (m) => m.length === 1, "the poison notice");
  expect(notice!.text).toBe(createLanguages().textsFor("en").poisoned);
  expect(ai.requestsAbout("break it")).toHaveLength(1);
  const dataDir = bot.dataDir;
  await bot.stop();
  const db = createDatabase({ kind: "pglite", dataDir });
  try {
    const { rows } = await sql<{ state: string; error: string }>`select state, error from inbox where payload is null and error like 'poison:%'`.execute(db);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.state).toBe("failed");
  } finally {
    await db.destroy();
  }
});
