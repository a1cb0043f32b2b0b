/**
 * The histories of a group: each forum topic its own, and `/mode` for one history
 * per member. One bot for the file; every test has its own group and people.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BOT_USER, type BotMessage, type TgChat, type TgUser } from "../fakes/telegram-server.ts";
import { E2E_STORES, person } from "../helpers/world.ts";
import { createInProcessWorld, type InProcessWorld } from "./world.ts";

describe.each(E2E_STORES)("on %s", (store) => {
  let world: InProcessWorld;
  beforeAll(async () => {
    world = await createInProcessWorld(store);
    await world.startBot();
  });
  afterAll(async () => world?.close());

  const at = `@${BOT_USER.username}`;
  /** What the model was sent for the message that said `text`, after the system prompt. */
  const seenWith = (text: string) => world.ai.requestsAbout(text)[0]!.messages.slice(1).map((m) => `${m.role}:${m.content}`);

  /** The user writes (in a topic, if given) and waits for the bot's next message in the chat. */
  async function say(chat: TgChat, user: TgUser, text: string, topic?: number): Promise<BotMessage> {
    const next = world.tg.nextBotMessage(chat.id);
    const inTopic = topic === undefined ? {} : { message_thread_id: topic, is_topic_message: true };
    world.tg.userSends(chat, user, text, inTopic);
    const reply = await next;
    // An answer is done when the model's text is all there (the group preview may come first).
    if (text.startsWith("/")) return reply;
    await world.tg.waitFor(() => world.tg.messagesIn(chat.id).find((m) => m.messageId === reply.messageId)!.text.startsWith("Echo"), "the whole answer");
    return world.tg.messagesIn(chat.id).find((m) => m.messageId === reply.messageId)!;
  }

  test("each forum topic has its own history, answered in the topic; /clear in a topic clears that topic only", async () => {
    const forum: TgChat = { id: -100_9001, type: "supergroup", title: "Forum", is_forum: true };
    const { user } = person("Tara");
    world.tg.chatAdmins.set(forum.id, [user.id]);

    const inTen = await say(forum, user, `${at} recipes: pancakes`, 10);
    expect(inTen).toMatchObject({ threadId: 10, text: "Echo: Tara: recipes: pancakes" });
    const inTwenty = await say(forum, user, `${at} travel: Lisbon`, 20);
    expect(inTwenty.threadId).toBe(20);
    expect(seenWith("travel: Lisbon")).toEqual(["user:Tara: travel: Lisbon"]); // nothing of topic 10
    await say(forum, user, `${at} general talk`); // the General topic: the chat's own history
    expect(seenWith("general talk")).toEqual(["user:Tara: general talk"]);

    await say(forum, user, `${at} recipes: waffles`, 10);
    expect(seenWith("recipes: waffles")).toEqual(["user:Tara: recipes: pancakes", "assistant:Echo: Tara: recipes: pancakes", "user:Tara: recipes: waffles"]);

    const cleared = await say(forum, user, "/clear", 20);
    expect(cleared).toMatchObject({ threadId: 20, text: expect.stringContaining("(2 messages)") });
    await say(forum, user, `${at} travel: Porto`, 20);
    expect(seenWith("travel: Porto")).toEqual(["user:Tara: travel: Porto"]);
    await say(forum, user, `${at} recipes: crêpes`, 10);
    expect(seenWith("recipes: crêpes")).toHaveLength(5); // topic 10 kept its four, plus this one
  });

  test("/mode: an admin switches a group to one history per member; each clears their own; switching back restores the shared one", async () => {
    const group: TgChat = { id: -100_9002, type: "supergroup", title: "Study group" };
    const admin = person("Ada").user;
    const ben = person("Ben").user;
    const cai = person("Cai").user;
    world.tg.chatAdmins.set(group.id, [admin.id]);

    await say(group, ben, `${at} shared fact: the sky is blue`);
    const menu = await say(group, ben, "/mode");
    expect(menu.text).toMatch(/shares one conversation/);
    expect(menu.buttons!.map((row) => row[0]!.text)).toEqual(["✅ One history for the group", "One history per member"]);
    // A member who is not an admin cannot change it.
    const perMember = menu.buttons![1]![0]!.callback_data;
    const refused = world.tg.userPresses(group, ben, menu, perMember);
    await world.tg.waitFor(() => world.tg.answeredCallbackQueries.some((q) => q.id === refused), "the refusal");
    expect(world.tg.answeredCallbackQueries.find((q) => q.id === refused)).toMatchObject({ show_alert: true });
    expect(world.tg.answeredCallbackQueries.find((q) => q.id === refused)).toMatchObject({ text: "Only this group's administrators can do that." });
    world.tg.userPresses(group, admin, menu, perMember);
    await world.tg.waitFor(() => /separate conversation with each member/.test(world.tg.messagesIn(group.id).find((m) => m.messageId === menu.messageId)!.text), "the new mode");

    await say(group, ben, `${at} Ben's secret: 7`);
    await say(group, cai, `${at} Cai's secret: 9`);
    expect(seenWith("Cai's secret: 9")).toEqual(["user:Cai: Cai's secret: 9"]); // neither the shared one nor Ben's
    await say(group, ben, `${at} what was mine?`);
    expect(seenWith("what was mine?")).toEqual(["user:Ben: Ben's secret: 7", "assistant:Echo: Ben: Ben's secret: 7", "user:Ben: what was mine?"]);

    // Ben is no admin, but his history is his own to clear; Cai's stays.
    const cleared = await say(group, ben, "/clear");
    expect(cleared.text).toMatch(/\(4 messages\)/);
    // Only Ben can undo his /clear.
    const notHis = world.tg.userPresses(group, cai, cleared, cleared.buttons![0]![0]!.callback_data);
    await world.tg.waitFor(() => world.tg.answeredCallbackQueries.some((q) => q.id === notHis), "the refusal");
    expect(world.tg.answeredCallbackQueries.find((q) => q.id === notHis)).toMatchObject({ text: "This button belongs to someone else.", show_alert: true });
    await say(group, cai, `${at} and mine?`);
    expect(seenWith("and mine?")).toHaveLength(3);

    const back = await say(group, admin, "/mode");
    world.tg.userPresses(group, admin, back, back.buttons![0]![0]!.callback_data);
    await world.tg.waitFor(() => /shares one conversation with me again/.test(world.tg.messagesIn(group.id).find((m) => m.messageId === back.messageId)!.text), "the shared mode");
    await say(group, cai, `${at} and now?`);
    expect(seenWith("and now?")).toEqual(["user:Ben: shared fact: the sky is blue", "assistant:Echo: Ben: shared fact: the sky is blue", "user:Cai: and now?"]);
  });

  test("/mode in a private chat says it is for groups", async () => {
    const { chat, user } = person("Pia");
    const reply = await say(chat, user, "/mode");
    expect(reply.text).toBe("/mode is for groups: a private chat has one conversation.");
  });
});
