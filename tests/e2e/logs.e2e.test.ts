/**
 * End to end: the logs of a realistic conversation, at LOG_LEVEL=debug, say what happened and
 * never what was said. Every text a user or the model wrote carries a marker word; no log line
 * (debug ones included: no setting shows conversation text) may contain one, nor a secret, and
 * every line carries its own fields only: none left over from an earlier, unrelated line.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { lastUserText } from "../fakes/openai-server.ts";
import { BOT_USER, type TgChat } from "../fakes/telegram-server.ts";
import type { BotProcess } from "../helpers/bot-process.ts";
import { createWorld, E2E_STORES, OPENAI_KEY, person, type World } from "../helpers/world.ts";


// Marker words: what users wrote (U…) and what the model wrote (M…).
const USER = ["Uquokkaalpha", "Uquokkabeta", "Uquokkagamma", "Uquokkaedited", "Uquokkasystem", "Uquokkagroup", "Uquokkastranger", "Uquokkastream", "Uquokkafailed", "Uquokkaretry"];
const MODEL = ["Mnarwhal", "Mnarwhalstream"];

describe.each(E2E_STORES)("logs on %s", (store) => {
let world: World;
let bot: BotProcess;
const lia = person("Lia");
const gus = person("Gus");
const stranger = person("Stranger");
const group: TgChat = { id: -100_931, type: "supergroup", title: "Loggers" };

beforeAll(async () => {
  world = await createWorld(store);
  // Every answer echoes the user's text, with the model's own marker: both are conversation.
  world.ai.respondWith((request) => ({ kind: "answer", chunks: ["Mnarwhal says: ", lastUserText(request)] }));
  bot = await world.startBot({ ALLOWED_USERS: [lia, gus].map((p) => p.user.id).join(","), LOG_LEVEL: "debug" });
});
afterAll(async () => world?.close());

async function answerIn(chatId: number, text: string) {
  const messages = await world.tg.waitForChat(chatId, (ms) => ms.some((m) => m.text.includes(text)), `a message with "${text}"`);
  return messages.filter((m) => m.text.includes(text)).at(-1)!;
}

type Line = Record<string, unknown> & { level: number; msg: string };

  test("a conversation at debug level leaves no conversation text and no secret in any line, and no line carries another's fields", async () => {
    const { chat, user } = lia;
    // A few private turns.
    world.tg.userSends(chat, user, "Remember Uquokkaalpha please");
    await answerIn(chat.id, "Mnarwhal says: Remember Uquokkaalpha");
    world.tg.userSends(chat, user, "And Uquokkabeta too");
    await answerIn(chat.id, "Mnarwhal says: And Uquokkabeta");
    const latest = world.tg.userSends(chat, user, "What about Uquokkagamma?");
    await answerIn(chat.id, "Mnarwhal says: What about Uquokkagamma?");
    // An edit of the latest message: answered again.
    world.tg.userEdits(chat, user, latest, "What about Uquokkaedited?");
    await answerIn(chat.id, "Mnarwhal says: What about Uquokkaedited?");

    // The chat's own instructions.
    world.tg.userSends(chat, user, "/system Always mention Uquokkasystem.");
    await answerIn(chat.id, "I'll follow these instructions");

    // A streamed answer whose first preview (a draft) Telegram refuses: the refused request's
    // parameters hold the answer so far.
    const words = ["Mnarwhalstream ", ...Array.from({ length: 8 }, (_, i) => `part${i} `)];
    world.ai.respondOnceWith({ kind: "answer", chunks: words, chunkDelayMs: 150 });
    world.tg.failNext("sendRichMessageDraft", { error_code: 400, description: "Bad Request: draft rejected" }, (p) => p.chat_id === chat.id);
    world.tg.userSends(chat, user, "Stream Uquokkastream slowly");
    await answerIn(chat.id, "part7");
    await bot.waitForOutput(/"msg":"could not update the answer preview"/);

    // The typing indicator refused (a debug line with a Telegram error, unless the bot's budget
    // drops the call first), and the final answer refused once by a Telegram 500 (it waits in the
    // inbox and is sent again).
    world.tg.failNext("sendChatAction", { error_code: 400, description: "Bad Request: chat not found" }, (p) => p.chat_id === chat.id);
    world.tg.failNext("sendRichMessage", { error_code: 500, description: "Internal Server Error" }, (p) => p.chat_id === chat.id);
    world.tg.userSends(chat, user, "Retry Uquokkaretry later");
    await answerIn(chat.id, "Mnarwhal says: Retry Uquokkaretry");

    // A model error (a 400: the client does not retry it).
    world.ai.respondOnceWith({ kind: "error", status: 400, message: "Invalid request: the request was malformed" });
    const notice = world.tg.nextBotMessage(chat.id);
    world.tg.userSends(chat, user, "This one Uquokkafailed");
    await notice;
    await bot.waitForOutput(/"msg":"model call failed"/);

    // A group turn, and a stranger refused.
    world.tg.userSends(group, gus.user, `@${BOT_USER.username} Uquokkagroup in the group`);
    await answerIn(group.id, "Uquokkagroup in the group");
    const refusal = world.tg.nextBotMessage(stranger.chat.id);
    world.tg.userSends(stranger.chat, stranger.user, "my Uquokkastranger plan");
    expect((await refusal).text).toContain("private");

    // /clear, then a clean stop.
    world.tg.userSends(chat, user, "/clear");
    await answerIn(chat.id, "forgotten our conversation");
    await bot.waitForOutput(/"msg":"history cleared"/);
    expect((await bot.stop()).code).toBe(0);

    const raw = bot.stdout.split("\n").filter((l) => l.trim() !== "");
    const lines = raw.map((l) => JSON.parse(l) as Line);
    // What the test went through was logged (so the scan below looks at something).
    const messages = lines.map((l) => l.msg);
    for (const msg of ["Parley is running", "answered", "a message was edited", "chat instructions set", "could not update the answer preview", "answer not delivered yet; it waits in the inbox", "model call failed", "refused: the user is not allowed", "history cleared", "stopped"]) {
      expect(messages).toContain(msg);
    }
    expect(lines.some((l) => l.level === 20 && l.msg === "typing indicator failed")).toBe(true);

    // No conversation text and no secret in any line: info and above, and debug too (no setting
    // shows conversation text in the logs).
    const forbidden = [...USER, ...MODEL, world.tg.token, world.tg.token.split(":")[1]!, OPENAI_KEY];
    const leaks = (level: (n: number) => boolean) =>
      raw.filter((_, i) => level(lines[i]!.level)).flatMap((line) => forbidden.filter((word) => line.includes(word)).map((word) => `${word} in ${line}`));
    expect(leaks((n) => n >= 30)).toEqual([]);
    expect(leaks((n) => n < 30)).toEqual([]);
    expect(forbidden.filter((word) => bot.stderr.includes(word))).toEqual([]);

    // Every line's fields are its own.
    const startUp = lines.filter((l) => l.msg === "Parley is running");
    expect(startUp).toHaveLength(1);
    for (const key of ["receiving", "memoryProfile", "instance", "http"]) {
      expect(startUp[0]).toHaveProperty(key);
      // Where health is served is said as soon as it is (before the store and Telegram), and again when running.
      expect(lines.filter((l) => key in l).map((l) => l.msg)).toEqual(key === "http" ? ["health checks listening; starting", "Parley is running"] : ["Parley is running"]);
    }
    expect(lines.filter((l) => "migration" in l && l.msg !== "migration applied")).toEqual([]);
    const keys = (l: Line) => Object.keys(l).sort();
    const base = ["app", "level", "msg", "time"]; // base: { app } only (no pid, no hostname)
    expect(keys(lines.find((l) => l.msg === "stopped")!)).toEqual(base);
    expect(keys(lines.find((l) => l.msg.startsWith("stopping:"))!)).toEqual([...base, "signal"].sort());
    for (const answered of lines.filter((l) => l.msg === "answered")) {
      expect(keys(answered).filter((k) => !base.includes(k))).toEqual(
        ["answerChars", "chatId", "completionTokens", "firstTextMs", "historyChars", "historyMessages", "modelMs", "promptTokens", "updateId"],
      );
    }
    // A turn's update id stays with its turn: the lines outside any turn have none.
    expect(lines.filter((l) => ["Parley is running", "stopped"].includes(l.msg) && "updateId" in l)).toEqual([]);
  });
});
