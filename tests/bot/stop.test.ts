/**
 * Stopping an answer while it is written, with the draft's stop button or /cancel.
 * The model call ends within a second; the partial answer is shown as final, stored and marked.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { lastUserText } from "../fakes/openai-server.ts";
import { BOT_USER, type TgChat } from "../fakes/telegram-server.ts";
import { person } from "../helpers/world.ts";
import { createInProcessWorld, type InProcessWorld } from "./world.ts";

let world: InProcessWorld;
beforeAll(async () => {
  world = await createInProcessWorld();
  await world.startBot();
});
afterAll(async () => world?.close());

/** A model that writes one word every 200 ms, 100 words in all (20 s): long enough to stop. */
const slowWriter = () =>
  world.ai.respondWith((request) => ({
    kind: "answer",
    chunks: Array.from({ length: 100 }, (_, i) => `word${i} `),
    chunkDelayMs: lastUserText(request).startsWith("quick") ? 0 : 200,
  }));

describe("stop", () => {
  test("the stop button under the draft: the model call ends, the partial answer is shown as final, stored, and marked", async () => {
    slowWriter();
    const { chat, user } = person("Stella");
    world.tg.userSends(chat, user, "tell me a long story");
    await world.tg.waitFor(() => world.tg.drafts.some((d) => d.chatId === chat.id && d.text.includes("word2")), "a draft with some words");
    const draft = world.tg.drafts.find((d) => d.chatId === chat.id)!;
    expect(draft.canStop).toBe(true);
    const stoppedAt = Date.now();
    world.tg.userStopsDraft(chat, draft.draftId);
    const [answer] = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the stopped answer");
    expect(answer!.sentAt - stoppedAt).toBeLessThan(1_000);
    expect(answer!.text).toMatch(/^word0 word1 word2 [\s\S]*\n\n_⏹ Stopped_$/);
    expect(answer!.text).not.toContain("word99");
    // The model call was aborted: the client closed the connection mid-answer.
    await world.ai.closedEarlyAbout("tell me a long story");

    // The partial answer is the conversation's memory (without the mark).
    const partial = answer!.text.replace("\n\n_⏹ Stopped_", "");
    world.ai.respondWith(() => ({ kind: "answer", chunks: ["ok"] }));
    world.tg.userSends(chat, user, "quick: go on");
    await world.tg.waitForChat(chat.id, (m) => m.length === 2, "the next answer");
    const history = world.ai.requestsAbout("quick: go on")[0]!.messages.slice(1).map((m) => m.content.trim());
    expect(history).toEqual(["tell me a long story", partial.trim(), "quick: go on"]);
  });

  test("/cancel in a group stops the answer being written there", async () => {
    slowWriter();
    const group: TgChat = { id: -100_901, type: "supergroup", title: "Stoppers" };
    const { user } = person("Carl");
    world.tg.userSends(group, user, `@${BOT_USER.username} write forever`);
    await world.tg.waitFor(() => (world.tg.messagesIn(group.id)[0]?.text ?? "").includes("word3"), "the preview");
    world.tg.userSends(group, user, "/cancel");
    const [answer] = await world.tg.waitForChat(group.id, (m) => m[0]?.text.endsWith("_⏹ Stopped_") ?? false, "the stopped answer");
    expect(answer!.text).not.toContain("word99");
    // The /cancel's own turn comes next, in chat order: it stopped something, so it says nothing.
    world.ai.respondWith(() => ({ kind: "answer", chunks: ["next"] }));
    world.tg.userSends(group, user, `@${BOT_USER.username} quick one`);
    const messages = await world.tg.waitForChat(group.id, (m) => m.length >= 2, "the next answer");
    expect(messages.map((m) => m.text)).toEqual([answer!.text, "next"]);
  });

  test("/cancel before the first word, and /cancel with nothing being written", async () => {
    world.ai.respondWith(() => ({ kind: "answer", chunks: ["never shown"], latencyMs: 20_000 }));
    const { chat, user } = person("Nat");
    const request = world.ai.nextRequest();
    world.tg.userSends(chat, user, "think hard");
    await request;
    world.tg.userSends(chat, user, "/cancel");
    const [stopped] = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the stop notice");
    expect(stopped!.text).toBe("⏹ Stopped before I wrote anything.");
    await world.ai.closedEarlyAbout("think hard");

    world.tg.userSends(chat, user, "/cancel");
    const messages = await world.tg.waitForChat(chat.id, (m) => m.length === 2, "the reply to a /cancel with nothing to stop");
    expect(messages[1]!.text).toBe("There's no answer being written right now.");
  });
});
