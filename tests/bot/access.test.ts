/**
 * The bot as an operator runs it for a closed circle: an allowlist, admins who change it
 * from Telegram, daily limits, /usage, /forget, and group settings for group admins. One bot for
 * the file; every test has its own people and chats.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FakeOpenAI, lastUserText } from "../fakes/openai-server.ts";
import { BOT_USER, type TgChat, type TgUser } from "../fakes/telegram-server.ts";
import { person } from "../helpers/world.ts";
import { createInProcessWorld, type InProcessBot, type InProcessWorld } from "./world.ts";

let world: InProcessWorld;
let bot: InProcessBot;
const root = person("Root"); // the bot's admin
const uma = person("Uma");
const lim = person("Lim");
const fio = person("Fio");
const gia = person("Gia"); // administers the group
const moe = person("Moe");
const ned = person("Nedda");

beforeAll(async () => {
  world = await createInProcessWorld();
  bot = await world.startBot({
    ALLOWED_USERS: [uma, lim, fio, gia, moe].map((p) => p.user.id).join(",") + ",@nedda",
    ADMIN_USERS: String(root.user.id),
    USER_DAILY_MESSAGES: "2",
  });
});
afterAll(async () => world?.close());

async function answerIn(chatId: number, text: string) {
  const messages = await world.tg.waitForChat(chatId, (ms) => ms.some((m) => m.text.includes(text)), `a message with "${text}"`);
  return messages.filter((m) => m.text.includes(text)).at(-1)!;
}

/** Sends and waits for the bot's next message in that chat. */
async function say(chat: TgChat, user: TgUser, text: string, extra: Record<string, unknown> = {}) {
  const next = world.tg.nextBotMessage(chat.id);
  world.tg.userSends(chat, user, text, extra);
  return next;
}

const metric = async (name: string) => {
  const text = await (await fetch(`${bot.httpBase()}/metrics`)).text();
  return Number(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
};

describe("access", () => {
  test("a stranger gets one short reply with their user id; the model is not called and nothing of theirs is kept", async () => {
    const stranger = person("Stan");
    const refusedBefore = await metric('parley_turns_refused_total{reason="not_allowed"}');
    const reply = await say(stranger.chat, stranger.user, "my secret plan");
    expect(reply.text).toContain("this bot is private");
    expect(reply.text).toContain(String(stranger.user.id));
    expect(world.ai.requestsAbout("my secret plan")).toEqual([]);
    expect(await metric('parley_turns_refused_total{reason="not_allowed"}')).toBe(refusedBefore + 1);
    expect((await say(stranger.chat, stranger.user, "/start")).text).toContain(String(stranger.user.id));

    // Allowed later, without a restart: the model sees nothing from before.
    expect((await say(root.chat, root.user, `/allow ${stranger.user.id}`)).text).toBe(`${stranger.user.id} may now talk to me.`);
    await say(stranger.chat, stranger.user, "hello now");
    const request = world.ai.requestsAbout("hello now")[0]!;
    expect(request.messages.slice(1).map((m) => m.content)).toEqual(["hello now"]);
  });

  test("admins allow and deny by @username or id from a private chat, and list who may talk", async () => {
    const newcomer = person("Nina");
    expect((await say(newcomer.chat, newcomer.user, "hi")).text).toContain("private");
    await say(root.chat, root.user, "/allow @Nina");
    expect((await say(newcomer.chat, newcomer.user, "hi again")).text).toBe("Echo: hi again");

    // Nedda is allowed by the settings; an admin's /deny wins over them.
    expect((await say(ned.chat, ned.user, "first")).text).toBe("Echo: first");
    expect((await say(root.chat, root.user, "/deny @nedda")).text).toBe("@nedda may no longer talk to me.");
    expect((await say(ned.chat, ned.user, "second")).text).toContain("private");

    const users = await say(root.chat, root.user, "/users");
    expect(users.text).toContain("Access: only the users listed below.");
    expect(users.text).toContain(`Admins (ADMIN_USERS): ${root.user.id}`);
    expect(users.text).toContain("✅ @nina");
    expect(users.text).toContain("⛔ @nedda");
    expect((await say(root.chat, root.user, "/allow someone!")).text).toContain("Usage: /allow <user id or @username>");
  });

  test("only admins manage access, and only in private", async () => {
    expect((await say(uma.chat, uma.user, "/allow 12345")).text).toBe("Only the bot's administrators can do that.");
    const group: TgChat = { id: -100_701, type: "supergroup", title: "Ops" };
    expect((await say(group, root.user, "/users")).text).toBe("Please send admin commands in a private chat with me.");
    expect((await say(group, uma.user, `/users@${BOT_USER.username}`)).text).toBe("Only the bot's administrators can do that.");
  });

  test("in a group, strangers who speak to the bot are refused, chatter is ignored, and /clear is for the group's admins", async () => {
    const group: TgChat = { id: -100_702, type: "supergroup", title: "Team" };
    world.tg.chatAdmins.set(group.id, [gia.user.id]);
    const stranger = person("Sid");
    world.tg.userSends(group, stranger.user, "just chatting");
    const refused = await say(group, stranger.user, `@${BOT_USER.username} tell me`);
    expect(refused.text).toContain(String(stranger.user.id));
    expect(refused.replyTo).toBeDefined();
    expect(world.tg.messagesIn(group.id)).toHaveLength(1); // the chatter got nothing
    // A caption is a prompt too: a stranger's photo that speaks to the bot is refused the same way.
    const next = world.tg.nextBotMessage(group.id);
    world.tg.userSendsOther(group, stranger.user, { photo: [{ file_id: "p", file_unique_id: "u", width: 9, height: 9 }], caption: `@${BOT_USER.username} look`, caption_entities: [{ type: "mention", offset: 0, length: BOT_USER.username!.length + 1 }] });
    expect((await next).text).toContain(String(stranger.user.id));
    expect(world.ai.requestsAbout("look")).toEqual([]);
    // So is a file that replies to the bot: a stranger's voice note is refused, never transcribed.
    const refusal = world.tg.messagesIn(group.id)[0]!;
    const third = world.tg.nextBotMessage(group.id);
    const voice = { ...world.tg.addFile(Buffer.from("let me in")), duration: 1 };
    world.tg.userSendsOther(group, stranger.user, { voice, reply_to_message: { message_id: refusal.messageId, date: 0, chat: group, from: BOT_USER, text: refusal.text } });
    expect((await third).text).toContain(String(stranger.user.id));
    expect(world.ai.transcriptions).toEqual([]);

    expect((await say(group, moe.user, `@${BOT_USER.username} remember 42`)).text).toBe("Echo: Moe: remember 42");
    const deniedReply = world.tg.nextBotMessage(group.id);
    const clearAsked = world.tg.userSends(group, moe.user, "/clear");
    const denied = await deniedReply;
    expect(denied.text).toBe("Only this group's administrators can do that.");
    expect(denied.replyTo).toBe(clearAsked); // quoted: the group sees whom it is for
    const cleared = await say(group, gia.user, "/clear");
    expect(cleared.text).toMatch(/forgotten our conversation \(2 messages\)/);
    // Its Undo button is the group admins' too.
    const press = world.tg.userPresses(group, moe.user, cleared, cleared.buttons![0]![0]!.callback_data);
    await world.tg.waitFor(() => world.tg.answeredCallbackQueries.some((q) => q.id === press), "the refusal");
    expect(world.tg.answeredCallbackQueries.find((q) => q.id === press)).toMatchObject({ text: "Only this group's administrators can do that.", show_alert: true });
    expect(world.tg.messagesIn(group.id).find((m) => m.messageId === cleared.messageId)!.text).toBe(cleared.text);
    // An anonymous admin writes as the group itself, under one shared id the operator may allow.
    await say(root.chat, root.user, "/allow 1087968824");
    const anonymous: TgUser = { id: 1087968824, first_name: "Group", username: "GroupAnonymousBot", is_bot: true };
    expect((await say(group, anonymous, "/clear", { sender_chat: { id: group.id, type: "supergroup", title: "Team" } })).text).toMatch(/nothing to forget/);
    expect(world.tg.callsOf("getChatAdministrators", group.id)).toHaveLength(1); // asked once, then cached
  });
});

describe("usage and limits", () => {
  test("/usage counts the tokens the model server reported, today and this month", async () => {
    await say(uma.chat, uma.user, "count me");
    const request = world.ai.requestsAbout("count me")[0]!;
    expect(request.stream_options).toEqual({ include_usage: true });
    const { prompt_tokens, completion_tokens } = FakeOpenAI.usageOf(request, "Echo: count me");
    const usage = await say(uma.chat, uma.user, "/usage");
    const tokens = (prompt_tokens + completion_tokens).toLocaleString("en-US");
    expect(usage.text).toContain(`Today: 1 answer, ${tokens} tokens`);
    expect(usage.text).toContain(`This month: 1 answer, ${tokens} tokens`);
    expect(usage.text).toContain("Daily limit: 1 of 2 messages used.");
    expect(await metric('parley_tokens_total{model="fake-model",kind="completion"}')).toBeGreaterThanOrEqual(completion_tokens);
  });

  test("over the daily limit: a clear reply saying when it resets, and no model call; admins are exempt and see everyone", async () => {
    await say(lim.chat, lim.user, "one");
    await say(lim.chat, lim.user, "two");
    const refused = await say(lim.chat, lim.user, "three");
    expect(refused.text).toMatch(/^You've reached today's limit of 2 messages\. It resets at 00:00 UTC, in (\d+ h( \d+ min)?|\d+ min)\.$/);
    expect(world.ai.requestsAbout("three")).toEqual([]);

    for (const text of ["a", "b", "c"]) expect((await say(root.chat, root.user, text)).text).toBe(`Echo: ${text}`);
    const next = world.tg.waitForChat(root.chat.id, (ms) => ms.some((m) => m.text.startsWith("Everyone this month")), "everyone's usage");
    world.tg.userSends(root.chat, root.user, "/usage");
    const everyone = (await next).find((m) => m.text.startsWith("Everyone this month"))!;
    expect(everyone.text).toContain(`@lim (${lim.user.id}):`);
    expect(everyone.text).toMatch(new RegExp(`@root \\(${root.user.id}\\): \\d+ / \\d+ tokens, 3 / 3 answers`));
  });

  test("a model server that gives no usage is estimated; one that refuses stream_options still answers", async () => {
    const person1 = person("Ivy");
    await say(root.chat, root.user, `/allow ${person1.user.id}`);
    world.ai.usage = "ignore";
    try {
      expect((await say(person1.chat, person1.user, "estimate me")).text).toBe("Echo: estimate me");
      expect((await say(person1.chat, person1.user, "/usage")).text).toMatch(/Today: 1 answer, [1-9]\d* tokens/);
      world.ai.usage = "reject";
      expect((await say(person1.chat, person1.user, "old server")).text).toBe("Echo: old server");
      expect(world.ai.requestsAbout("old server").at(-1)!.stream_options).toBeUndefined();
    } finally {
      world.ai.usage = "report";
    }
  });
});

describe("/forget", () => {
  test("asks first, with a button only the asker can press, then erases everything they wrote", async () => {
    expect((await say(fio.chat, fio.user, "my address is 1 Main St")).text).toContain("Echo:");
    const ask = await say(fio.chat, fio.user, "/forget");
    expect(ask.text).toContain("can't be undone");
    const [yes, no] = ask.buttons![0]!;
    expect([yes!.text, no!.text]).toEqual(["Erase everything", "Cancel"]);

    // Someone else's press does nothing but say so.
    const other = world.tg.userPresses(fio.chat, uma.user, ask, yes!.callback_data);
    await world.tg.waitFor(() => world.tg.answeredCallbackQueries.some((q) => q.id === other), "the refusal");
    expect(world.tg.answeredCallbackQueries.find((q) => q.id === other)).toMatchObject({ text: "This button belongs to someone else.", show_alert: true });

    world.tg.userPresses(fio.chat, fio.user, ask, yes!.callback_data);
    const done = await world.tg.waitForChat(fio.chat.id, (ms) => ms.some((m) => m.text.startsWith("Done: I've erased")), "the erasure");
    const edited = done.find((m) => m.messageId === ask.messageId)!;
    expect(edited.text).toBe("Done: I've erased 2 messages for good.");
    expect(edited.buttons).toBeUndefined();
    await world.tg.waitFor(() => world.tg.openCallbackQueries.size === 0, "every press answered");

    await say(fio.chat, fio.user, "who am I?");
    expect(world.ai.requestsAbout("who am I?")[0]!.messages.map((m) => m.content).join("\n")).not.toContain("Main St");
  });

  test("cancel erases nothing", async () => {
    const kit = person("Kit");
    await say(root.chat, root.user, `/allow ${kit.user.id}`);
    await say(kit.chat, kit.user, "keep this");
    const ask = await say(kit.chat, kit.user, "/forget");
    world.tg.userPresses(kit.chat, kit.user, ask, ask.buttons![0]![1]!.callback_data);
    await answerIn(kit.chat.id, "Cancelled: nothing was erased.");
    await say(kit.chat, kit.user, "still there?");
    expect(world.ai.requestsAbout("still there?")[0]!.messages.map((m) => m.content)).toContain("keep this");
    expect(lastUserText(world.ai.requestsAbout("still there?")[0]!)).toBe("still there?");
  });
});

test("every log line of a turn carries the update id, whatever the turn did", async () => {
  const stranger = person("Lou");
  await say(stranger.chat, stranger.user, "let me in");
  await say(root.chat, root.user, `/allow ${stranger.user.id}`);
  world.ai.respondOnceWith({ kind: "error", status: 400, message: "refused by the model" }); // not retried
  await say(stranger.chat, stranger.user, "now?");
  await say(stranger.chat, stranger.user, "answer me");
  const updates = world.tg.allUpdates.slice(-4).map((u) => u.update_id);
  const kinds = ["refused: the user is not allowed", "access changed", "model call failed", "answered"];
  const linesNow = () => bot.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { msg: string; updateId?: number });
  // Logs reach stdout asynchronously: the last line may come a moment after the reply.
  for (const msg of kinds) await bot.waitForOutput(new RegExp(`"updateId":(${updates.join("|")})\\b[^\\n]*"msg":"${msg}"`));
  const lines = linesNow();
  const ofTurns = (msg: string) => lines.filter((l) => l.msg === msg && updates.includes(l.updateId!));
  for (const msg of kinds) {
    expect(ofTurns(msg), msg).toHaveLength(1);
  }
  // And no line of those kinds lacks one.
  for (const msg of kinds) {
    expect(lines.filter((l) => l.msg === msg && l.updateId === undefined), msg).toEqual([]);
  }
});
