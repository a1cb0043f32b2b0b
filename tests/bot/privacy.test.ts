/**
 * The bot as an attacker tries it (issue 18), on both stores: every kind of update passes the
 * access gate before it has an effect (stop requests too, and a stop acts only on the answer it
 * names, for its author or a chat admin); buttons cannot be forged; /forget erases everything it
 * promises, found by searching every table, an update still in flight included; a denied user may
 * still /forget.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { lastUserText } from "../fakes/openai-server.ts";
import { BOT_USER, type BotMessage, type TgChat, type TgUser } from "../fakes/telegram-server.ts";
import { placesOfUser, tablesHolding } from "../helpers/audit.ts";
import { E2E_STORES, person } from "../helpers/world.ts";
import { createInProcessWorld, type InProcessBot, type InProcessWorld } from "./world.ts";
import type { DatabaseConfig } from "../../src/config.ts";
import path from "node:path";

const words = (text: string | undefined) => (text ?? "").match(/word\d+/g)?.length ?? 0;
const mention = `@${BOT_USER.username}`;

describe.each(E2E_STORES)("airtight access and privacy on %s", (store) => {
  let world: InProcessWorld;
  let bot: InProcessBot;
  const root = person("Root"); // the bot's admin
  const ann = person("Ann");
  const ben = person("Ben");
  const cat = person("Cat"); // administers the groups below
  const dee = person("Dee");
  const gus = person("Gus");
  const hal = person("Hal");
  const sid = person("Sid"); // not allowed
  const allowed = [ann, ben, cat, dee, gus, hal];
  const env = { ALLOWED_USERS: allowed.map((p) => p.user.id).join(","), ADMIN_USERS: String(root.user.id), MERGE_WAITING_MAX: "1" };
  let nextGroup = -100_800;
  const group = (title: string, admins: TgUser[] = [cat.user], extra: Partial<TgChat> = {}): TgChat => {
    const chat: TgChat = { id: nextGroup--, type: "supergroup", title, ...extra };
    world.tg.chatAdmins.set(chat.id, admins.map((u) => u.id));
    return chat;
  };
  const storeConfig = (): DatabaseConfig => (world.databaseUrl ? { kind: "postgres", url: world.databaseUrl } : { kind: "pglite", dataDir: path.join(world.dataDir, "pglite") });

  beforeAll(async () => {
    world = await createInProcessWorld(store);
    bot = await world.startBot(env);
    // Long answers for "write…" (a word every 200 ms, 20 s in all): long enough to stop, or not.
    world.ai.respondWith((request) => {
      const text = lastUserText(request);
      if (text.includes("write")) return { kind: "answer", chunks: Array.from({ length: 100 }, (_, i) => `word${i} `), chunkDelayMs: 200 };
      if (text.includes("slowly")) return { kind: "answer", chunks: Array.from({ length: 10 }, (_, i) => `part${i} `), chunkDelayMs: 200 };
      return { kind: "answer", chunks: [`Echo: ${text}`] };
    });
  });
  afterAll(async () => world?.close());

  /** Sends and waits for the bot's next message in that chat. */
  const say = async (chat: TgChat, user: TgUser, text: string, extra: Record<string, unknown> = {}) => {
    const next = world.tg.nextBotMessage(chat.id);
    world.tg.userSends(chat, user, text, extra);
    return next;
  };
  /** Presses a button and waits for Telegram to have its answer. */
  const press = async (chat: TgChat, user: TgUser, message: BotMessage, data: string) => {
    const id = world.tg.userPresses(chat, user, message, data);
    await world.tg.waitFor(() => world.tg.answeredCallbackQueries.some((q) => q.id === id), "the press answered");
    return world.tg.answeredCallbackQueries.find((q) => q.id === id)!;
  };
  /** Resolves at the next log line that matches `pattern` (after those printed so far). */
  const nextLog = (pattern: RegExp) => bot.waitForLines(pattern, bot.linesMatching(pattern) + 1);
  /** The preview of a group answer keeps growing: at least two more words than now. */
  const keepsGrowing = async (chat: TgChat) => {
    const now = words(world.tg.messagesIn(chat.id).at(-1)?.text);
    await world.tg.waitFor(() => words(world.tg.messagesIn(chat.id).at(-1)?.text) >= now + 2, "the answer still being written");
  };

  test("/cancel from a stranger, or from a member who did not ask, stops nothing; the author's or a chat admin's stops it", async () => {
    const team = group("Stoppers");
    world.tg.userSends(team, ann.user, `${mention} write a long story`);
    await world.tg.waitFor(() => words(world.tg.messagesIn(team.id)[0]?.text) >= 3, "the preview");

    const strangerRefused = nextLog(/refused: a stop request from a user who is not allowed/);
    world.tg.userSends(team, sid.user, "/cancel");
    await strangerRefused;
    await keepsGrowing(team);

    const memberRefused = nextLog(/refused: a stop request for someone else's answer/);
    world.tg.userSends(team, ben.user, "/cancel");
    await memberRefused;
    await keepsGrowing(team);

    world.tg.userSends(team, cat.user, "/cancel");
    const [answer] = await world.tg.waitForChat(team.id, (m) => m[0]?.text.endsWith("_⏹ Stopped_") ?? false, "the answer stopped by the chat's admin");
    expect(words(answer!.text)).toBeLessThan(100);
    await world.ai.closedEarlyAbout("write a long story");
    // The stranger's /cancel, in its turn, is refused like anything else they send.
    await world.tg.waitFor(() => world.tg.messagesIn(team.id).some((m) => m.text.includes(String(sid.user.id))), "the stranger refused");
  });

  test("/cancel in one forum topic does not stop an answer in another; in its own topic it does", async () => {
    const forum = group("Forum", [cat.user], { is_forum: true });
    const topic = (id: number) => ({ message_thread_id: id, is_topic_message: true });
    world.tg.userSends(forum, ann.user, `${mention} write in topic one`, topic(11));
    await world.tg.waitFor(() => words(world.tg.messagesIn(forum.id)[0]?.text) >= 3, "the preview in topic one");
    const elsewhere = nextLog(/a stop request names no answer written here/);
    world.tg.userSends(forum, ann.user, "/cancel", topic(22));
    await elsewhere;
    await keepsGrowing(forum);
    world.tg.userSends(forum, ann.user, "/cancel", topic(11));
    await world.tg.waitForChat(forum.id, (m) => m[0]?.text.endsWith("_⏹ Stopped_") ?? false, "the answer in topic one stopped");
  });

  test("the stop button of an earlier draft does not stop the answer being written now; its own does", async () => {
    world.tg.userSends(ben.chat, ben.user, "write the first one");
    await world.tg.waitFor(() => world.tg.drafts.some((d) => d.chatId === ben.chat.id && words(d.text) >= 2), "the first draft");
    const first = world.tg.drafts.find((d) => d.chatId === ben.chat.id)!.draftId;
    world.tg.userStopsDraft(ben.chat, first);
    await world.tg.waitForChat(ben.chat.id, (m) => m.length === 1, "the first answer, stopped");

    world.tg.userSends(ben.chat, ben.user, "write the second one");
    const second = () => world.tg.drafts.filter((d) => d.chatId === ben.chat.id && d.draftId !== first);
    await world.tg.waitFor(() => words(second().at(-1)?.text) >= 2, "the second draft");
    const stale = nextLog(/a stop request names no answer written here/);
    world.tg.userStopsDraft(ben.chat, first);
    await stale;
    const now = words(second().at(-1)!.text);
    await world.tg.waitFor(() => words(second().at(-1)!.text) >= now + 2, "the second answer still being written");
    world.tg.userStopsDraft(ben.chat, second()[0]!.draftId);
    const [, stopped] = await world.tg.waitForChat(ben.chat.id, (m) => m.length === 2, "the second answer, stopped");
    expect(stopped!.text).toMatch(/_⏹ Stopped_$/);
  });

  test("a button's data cannot be forged: crafted data is refused, and a real button checks the presser's rights when pressed", async () => {
    const team = group("Buttons");
    expect((await say(team, ann.user, `${mention} remember the blue door`)).text).toContain("blue door");
    const cleared = await say(team, cat.user, "/clear");
    const undo = cleared.buttons![0]![0]!.callback_data;
    const mark = /^undo:(\d+)~/.exec(undo)![1]!;

    // The old way of naming one's own history, crafted by a member: refused before any feature.
    expect(await press(team, ann.user, cleared, `undo:${mark}:${ann.user.id}`)).toMatchObject({ text: "This button doesn't work here. Send the command again for a new one.", show_alert: true });
    expect(await press(team, ann.user, cleared, `undo:${mark}~AAAAAAAAAAAA`)).toMatchObject({ show_alert: true, text: expect.stringContaining("doesn't work here") });
    // The real button, pressed by a member: the group's admins' to press.
    expect(await press(team, ann.user, cleared, undo)).toMatchObject({ text: "Only this group's administrators can do that.", show_alert: true });
    // The real button copied into another chat does not work there.
    const other = group("Elsewhere");
    expect(await press(other, cat.user, cleared, undo)).toMatchObject({ text: expect.stringContaining("doesn't work here") });
    const asked = await say(team, ann.user, `${mention} what door?`);
    expect(asked.text).toBe("Echo: Ann: what door?");
    expect(world.ai.requestsAbout("what door?")[0]!.messages.map((m) => m.content).join("\n")).not.toContain("blue door");

    await press(team, cat.user, cleared, undo);
    const [restored] = (await world.tg.waitForChat(team.id, (ms) => ms.some((m) => m.messageId === cleared.messageId && m.text.startsWith("Undone")), "the history restored")).filter((m) => m.messageId === cleared.messageId);
    expect(restored!.text).toBe("Undone: I remember our conversation again (2 messages).");
  });

  test("a user the admins denied may still /forget", async () => {
    expect((await say(dee.chat, dee.user, "dee-marker-lighthouse")).text).toContain("dee-marker-lighthouse");
    await say(root.chat, root.user, `/deny ${dee.user.id}`);
    expect((await say(dee.chat, dee.user, "hello?")).text).toContain(String(dee.user.id)); // refused
    const ask = await say(dee.chat, dee.user, "/forget");
    expect(ask.text).toContain("can't be undone");
    await press(dee.chat, dee.user, ask, ask.buttons![0]![0]!.callback_data);
    await world.tg.waitForChat(dee.chat.id, (ms) => ms.some((m) => m.text.startsWith("Done: I've erased 2 messages")), "the erasure");
  });

  test("/forget erases their /system text, their words quoted in others' turns and answers, and an update still in flight: no table holds them after", async () => {
    const harbour = group("Harbour", [gus.user]);
    expect((await say(harbour, gus.user, "/system gus-rule-pirate-talk always")).text).toMatch(/^Done: I'll follow these instructions/);
    // Gus chats (not to the bot); Hal replies to it, asking the bot: the turn quotes Gus.
    const chatter = world.tg.userSends(harbour, gus.user, "gus-chatter lives at 12 Harbour Road");
    const reply = await say(harbour, hal.user, `${mention} where is that?`, {
      reply_to_message: { message_id: chatter, date: 0, chat: harbour, from: gus.user, text: "gus-chatter lives at 12 Harbour Road" },
    });
    expect(reply.text).toContain("gus-chatter lives at 12 Harbour Road"); // the model saw (and echoed) the quote
    // In his private chat: an answer being written, and a message waiting behind it.
    const writing = world.ai.nextRequest();
    world.tg.userSends(gus.chat, gus.user, "slowly gus-inflight-words");
    await writing;
    world.tg.userSends(gus.chat, gus.user, "gus-waiting-words");

    const ask = await say(harbour, gus.user, "/forget");
    await press(harbour, gus.user, ask, ask.buttons![0]![0]!.callback_data);
    await world.tg.waitForChat(harbour.id, (ms) => ms.some((m) => m.text.startsWith("Done: I've erased")), "the erasure");
    // Every table, searched once no turn can write any more.
    await bot.stop();
    const config = storeConfig();
    for (const needle of ["gus-rule-pirate", "gus-chatter", "Harbour Road", "gus-inflight", "gus-waiting", "dee-marker"]) {
      expect(await tablesHolding(config, needle), needle).toEqual([]);
    }
    // Their ids: nowhere but today's usage charges, if limits are set (a /forget does not lift a
    // daily limit), and the inbox record of the press that erased (ids only, pruned within a day).
    expect(await placesOfUser(config, gus.user.id)).toEqual([]); // pressed in a group
    expect(await placesOfUser(config, dee.user.id)).toEqual(["inbox.chat_id"]); // pressed in her private chat

    // Started again, nothing of theirs comes back: the waiting message is not answered.
    bot = await world.startBot(env);
    const probe = await say(hal.chat, hal.user, "anyone there?");
    expect(probe.text).toBe("Echo: anyone there?");
    expect(world.ai.requestsAbout("gus-waiting-words")).toEqual([]);
    expect(world.tg.messagesIn(gus.chat.id).some((m) => m.text.includes("gus-waiting"))).toBe(false);
  });
});
