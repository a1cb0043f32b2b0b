/**
 * The bot (the app in this process) against the fake Telegram and the fake model, chatting as
 * people would. One bot for the file, but every test stands alone: its own people and chats, its
 * own history. What only the real process shows (a restart after SIGTERM, its output) is in
 * tests/e2e/conversation.e2e.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { lastUserText } from "../fakes/openai-server.ts";
import { BOT_USER } from "../fakes/telegram-server.ts";
import { E2E_STORES, person } from "../helpers/world.ts";
import { createInProcessWorld, type InProcessBot, type InProcessWorld } from "./world.ts";

// The same conversation on each store: the embedded one, and PostgreSQL when TEST_DATABASE_URL is set.
describe.each(E2E_STORES)("on %s", (store) => {
  let world: InProcessWorld;
  let bot: InProcessBot;

  beforeAll(async () => {
    world = await createInProcessWorld(store);
    bot = await world.startBot();
  });
  afterAll(async () => world?.close());

  /** Waits for the bot's answer that contains `text` in the chat, as the user sees it. */
  async function answerIn(chatId: number, text: string) {
    const messages = await world.tg.waitForChat(chatId, (ms) => ms.some((m) => m.text.includes(text)), `an answer with "${text}"`);
    return messages.find((m) => m.text.includes(text))!;
  }

  const lastUserTextOf = (text: string) => lastUserText(world.ai.requestsAbout(text)[0]!);
  const contents = (messages: { role: string; content: string }[]) => messages.map((m) => `${m.role}:${m.content}`);

  describe("a conversation", () => {
    test("registers its commands and greets on /start and /help", async () => {
      const alice = person("Alice");
      const [english, russian] = world.tg.callsOf("setMyCommands");
      const commands = english!.params.commands as Array<{ command: string }>;
      expect(commands.map((c) => c.command)).toEqual(["start", "help", "clear", "cancel", "retry", "system", "model", "mode", "export", "usage", "forget"]);
      // The same menu for Russian-speaking users, in Russian; the English one is everyone else's.
      expect(english!.params.language_code).toBeUndefined();
      expect(russian).toMatchObject({ ok: true, params: { language_code: "ru" } });
      expect((russian!.params.commands as Array<{ command: string; description: string }>).find((c) => c.command === "clear")!.description).toBe("Забыть этот разговор и начать заново");

      world.tg.userSends(alice.chat, alice.user, "/start");
      expect((await answerIn(alice.chat.id, "Hi, Alice!")).text).toMatch(/remembers our conversation/);
      world.tg.userSends(alice.chat, alice.user, "/help");
      expect((await answerIn(alice.chat.id, "Commands:")).text).toContain("/clear");
      // Commands are not conversation: the model never saw them.
      expect(world.ai.requests.filter((r) => r.messages.some((m) => m.content.includes("/start") || m.content.includes("/help")))).toEqual([]);
    });

    test("speaks the user's language: Russian to a Russian-speaking user, English to others", async () => {
      const olga = person("Ольга");
      olga.user.language_code = "ru";
      world.tg.userSends(olga.chat, olga.user, "/start");
      expect((await answerIn(olga.chat.id, "Привет, Ольга!")).text).toMatch(/помнит наш разговор/);
      world.tg.userSends(olga.chat, olga.user, "Запомни: 21");
      await answerIn(olga.chat.id, "Echo: Запомни: 21");
      world.tg.userSends(olga.chat, olga.user, "/clear");
      expect((await answerIn(olga.chat.id, "Готово")).text).toBe("Готово: я забыл наш разговор (2 сообщения). Начнём заново.");
      const hans = person("Hans");
      hans.user.language_code = "de";
      world.tg.userSends(hans.chat, hans.user, "/cancel");
      expect((await answerIn(hans.chat.id, "answer")).text).toBe("There's no answer being written right now.");
    });

    test("two people chat at once, each with a memory of their own", async () => {
      const alice = person("Alice");
      const bob = person("Bob");
      world.tg.userSends(alice.chat, alice.user, "My name is Alice");
      world.tg.userSends(bob.chat, bob.user, "My name is Bob");
      await answerIn(alice.chat.id, "Echo: My name is Alice");
      await answerIn(bob.chat.id, "Echo: My name is Bob");

      world.tg.userSends(alice.chat, alice.user, "What is my name?");
      await answerIn(alice.chat.id, "Echo: What is my name?");
      const request = world.ai.requestsAbout("What is my name?")[0]!;
      expect(request.model).toBe("fake-model");
      expect(request.messages[0]?.role).toBe("system");
      expect(contents(request.messages.slice(1))).toEqual([
        "user:My name is Alice",
        "assistant:Echo: My name is Alice",
        "user:What is my name?",
      ]);
      expect(JSON.stringify(request.messages)).not.toContain("Bob");
      // Typing indicator while waiting.
      expect(world.tg.callsOf("sendChatAction", alice.chat.id).length).toBeGreaterThan(0);
    });

    test("/clear forgets the conversation, and the next message starts fresh", async () => {
      const grace = person("Grace");
      const heidi = person("Heidi");
      for (const [who, text] of [[grace, "I am Grace"], [grace, "I like tea"], [heidi, "I am Heidi"]] as const) {
        world.tg.userSends(who.chat, who.user, text);
        await answerIn(who.chat.id, `Echo: ${text}`);
      }
      world.tg.userSends(grace.chat, grace.user, "/clear");
      expect((await answerIn(grace.chat.id, "forgotten")).text).toContain("(4 messages)"); // 2 turns
      world.tg.userSends(grace.chat, grace.user, "Who am I?");
      await answerIn(grace.chat.id, "Echo: Who am I?");
      const request = world.ai.requestsAbout("Who am I?")[0]!;
      expect(contents(request.messages.slice(1))).toEqual(["user:Who am I?"]);
      // Another person's memory is untouched.
      world.tg.userSends(heidi.chat, heidi.user, "And me?");
      await answerIn(heidi.chat.id, "Echo: And me?");
      expect(contents(world.ai.requestsAbout("And me?")[0]!.messages.slice(1, 2))).toEqual(["user:I am Heidi"]);
    });

    test("a long paste Telegram cut into pieces is one turn: one request with the whole text, one answer, one message in the history", async () => {
      const paz = person("Paz");
      // Pieces near the limit (the paste and its echo must fit the history budget of 16 000 characters).
      const pieces = ["α".repeat(3_800), "β".repeat(3_800), "and that is the end of my paste"];
      for (const piece of pieces) world.tg.userSends(paz.chat, paz.user, piece);
      await answerIn(paz.chat.id, "end of my paste");
      const whole = pieces.join("\n");
      expect(world.ai.requests.filter((r) => r.messages.some((m) => typeof m.content === "string" && /[αβ]/.test(m.content)))).toHaveLength(1);
      expect(lastUserTextOf("end of my paste")).toBe(whole);
      world.tg.userSends(paz.chat, paz.user, "Summarise it");
      await answerIn(paz.chat.id, "Echo: Summarise it");
      expect(contents(world.ai.requestsAbout("Summarise it")[0]!.messages.slice(1)).map((c) => c.slice(0, 30))).toEqual([
        `user:${whole.slice(0, 25)}`,
        `assistant:Echo: ${whole.slice(0, 14)}`,
        "user:Summarise it",
      ]);
    });

    test("Undo under a /clear brings the conversation back, exactly as it was", async () => {
      const ivan = person("Ivan");
      world.tg.userSends(ivan.chat, ivan.user, "My code is 4711");
      await answerIn(ivan.chat.id, "Echo: My code is 4711");
      world.tg.userSends(ivan.chat, ivan.user, "/clear");
      const cleared = await answerIn(ivan.chat.id, "forgotten");
      const [undo] = cleared.buttons![0]!;
      expect(undo!.text).toBe("↩️ Undo");
      world.tg.userPresses(ivan.chat, ivan.user, cleared, undo!.callback_data);
      const undone = await answerIn(ivan.chat.id, "Undone");
      expect(undone.messageId).toBe(cleared.messageId); // the same message, edited, its button gone
      expect(undone.text).toBe("Undone: I remember our conversation again (2 messages).");
      expect(undone.buttons).toBeUndefined();
      world.tg.userSends(ivan.chat, ivan.user, "What is my code?");
      await answerIn(ivan.chat.id, "Echo: What is my code?");
      expect(contents(world.ai.requestsAbout("What is my code?")[0]!.messages.slice(1))).toEqual([
        "user:My code is 4711",
        "assistant:Echo: My code is 4711",
        "user:What is my code?",
      ]);
    });

    test("a video's caption is a prompt (the model is told what it came with), and a reply quotes what it replies to", async () => {
      const kim = person("Kim");
      world.tg.userSendsOther(kim.chat, kim.user, { video: { file_id: "f1", file_unique_id: "u1", width: 90, height: 90, duration: 4 }, caption: "Nice view?" });
      await answerIn(kim.chat.id, "Echo: [video] Nice view?");
      const quoted = { message_id: 999, date: 0, chat: kim.chat, from: kim.user, text: "The meeting is at 10" };
      world.tg.userSends(kim.chat, kim.user, "Move it to 11", { reply_to_message: quoted });
      await answerIn(kim.chat.id, "Move it to 11");
      expect(lastUserTextOf("Move it to 11")).toBe("> The meeting is at 10\n\nMove it to 11");
    });

    test("a group upgraded to a supergroup keeps its memory", async () => {
      const group = { id: -4242, type: "group" as const, title: "Club" };
      const supergroup = { id: -1004242, type: "supergroup" as const, title: "Club" };
      const lou = person("Lou");
      world.tg.userSends(group, lou.user, `@${BOT_USER.username} our motto is carpe diem`);
      await answerIn(group.id, "Echo: Lou: our motto is carpe diem");
      // Telegram's two service messages: in the old chat, then in the new one.
      world.tg.userSendsOther(group, lou.user, { migrate_to_chat_id: supergroup.id });
      world.tg.userSendsOther(supergroup, lou.user, { migrate_from_chat_id: group.id });
      world.tg.userSends(supergroup, lou.user, `@${BOT_USER.username} what is our motto?`);
      await answerIn(supergroup.id, "Echo: Lou: what is our motto?");
      expect(contents(world.ai.requestsAbout("what is our motto?")[0]!.messages.slice(1))).toEqual([
        "user:Lou: our motto is carpe diem",
        "assistant:Echo: Lou: our motto is carpe diem",
        "user:Lou: what is our motto?",
      ]);
    });

    test("/system: a chat's own instructions, shown, used, kept through /clear, and reset", async () => {
      const mia = person("Mia");
      const say = async (text: string, expected: string) => {
        world.tg.userSends(mia.chat, mia.user, text);
        return answerIn(mia.chat.id, expected);
      };
      expect((await say("/system", "default instructions")).text).toContain("You are Parley");
      await say("/system Answer in French.", "I'll follow these instructions");
      await say("Hi", "Echo: Hi");
      await say("/clear", "forgotten");
      await say("Hello", "Echo: Hello");
      expect(world.ai.requestsAbout("Hello")[0]!.messages[0]).toEqual({ role: "system", content: "Answer in French." });
      expect((await say("/system", "This chat's instructions")).text).toContain("Answer in French.");
      await say("/system reset", "default instructions again");
      await say("Bonjour", "Echo: Bonjour");
      expect(world.ai.requestsAbout("Bonjour")[0]!.messages[0]!.content).toMatch(/^You are Parley/);
      expect((await say(`/system ${"x".repeat(4_001)}`, "too long")).text).toContain("4,000");
    });

    test("/export sends the chat's live history as a Markdown document and as JSON", async () => {
      const eli = person("Eli");
      world.tg.userSends(eli.chat, eli.user, "/export");
      await answerIn(eli.chat.id, "nothing to export");
      for (const text of ["First question", "Second question"]) {
        world.tg.userSends(eli.chat, eli.user, text);
        await answerIn(eli.chat.id, `Echo: ${text}`);
      }
      world.tg.userSends(eli.chat, eli.user, "/export");
      await world.tg.waitFor(() => world.tg.documents.filter((d) => d.chatId === eli.chat.id).length === 2, "two documents");
      const [markdown, json] = world.tg.documents.filter((d) => d.chatId === eli.chat.id);
      expect(markdown!.fileName).toMatch(new RegExp(`^parley-${eli.chat.id}-\\d{4}-\\d{2}-\\d{2}\\.md$`));
      expect(markdown!.caption).toBe("This chat's history: 4 messages (the same as JSON below).");
      const text = markdown!.content.toString("utf8");
      expect(text).toMatch(/^# Chat with Eli\n/);
      expect(text.indexOf("## Eli, ")).toBeLessThan(text.indexOf("First question"));
      expect(text.indexOf("First question")).toBeLessThan(text.indexOf("Echo: Second question"));
      expect(text).toContain("## Parley (fake-model), ");
      const data = JSON.parse(json!.content.toString("utf8")) as { chatId: number; messages: Array<{ role: string; author: string | null; content: string }> };
      expect(data.chatId).toBe(eli.chat.id);
      expect(data.messages.map((m) => [m.role, m.author, m.content])).toEqual([
        ["user", "Eli", "First question"],
        ["assistant", null, "Echo: First question"],
        ["user", "Eli", "Second question"],
        ["assistant", null, "Echo: Second question"],
      ]);
    });

    test("/export that Telegram refuses (a file too big): the user is told, in one short message", async () => {
      const ida = person("Ida");
      world.tg.userSends(ida.chat, ida.user, "Something to export");
      await answerIn(ida.chat.id, "Echo: Something to export");
      world.tg.failNext("sendDocument", { error_code: 413, description: "Request Entity Too Large" });
      world.tg.userSends(ida.chat, ida.user, "/export");
      expect((await answerIn(ida.chat.id, "did not take the export file")).text).toBe("Telegram did not take the export file. Try /export again in a minute.");
      expect(world.tg.documents.filter((d) => d.chatId === ida.chat.id)).toHaveLength(0);
    });

    test("/retry answers the last message again; the new answer replaces the old in the conversation", async () => {
      const rex = person("Rex");
      world.tg.userSends(rex.chat, rex.user, "/retry");
      await answerIn(rex.chat.id, "no answer to try again");
      world.tg.userSends(rex.chat, rex.user, "Name a colour");
      await answerIn(rex.chat.id, "Echo: Name a colour");
      world.ai.respondOnceWith({ kind: "answer", chunks: ["Blue"] });
      world.tg.userSends(rex.chat, rex.user, "/retry");
      await answerIn(rex.chat.id, "Blue");
      // The model was asked the same question, without the old answer.
      const again = world.ai.requests.find((r) => r.messages.at(-1)?.content === "Name a colour" && r !== world.ai.requestsAbout("Name a colour")[0]);
      expect(contents(again!.messages.slice(1))).toEqual(["user:Name a colour"]);
      world.tg.userSends(rex.chat, rex.user, "Why that one?");
      await answerIn(rex.chat.id, "Echo: Why that one?");
      expect(contents(world.ai.requestsAbout("Why that one?")[0]!.messages.slice(1))).toEqual([
        "user:Name a colour",
        "assistant:Blue",
        "user:Why that one?",
      ]);
    });

    test("an edited message updates the stored turn; the latest one is answered again", async () => {
      const eda = person("Eda");
      const first = world.tg.userSends(eda.chat, eda.user, "My cat is Tom");
      await answerIn(eda.chat.id, "Echo: My cat is Tom");
      const latest = world.tg.userSends(eda.chat, eda.user, "What is 2+3?");
      await answerIn(eda.chat.id, "Echo: What is 2+3?");
      // Editing the latest question: answered again, the new answer replacing the old.
      world.tg.userEdits(eda.chat, eda.user, latest, "What is 2+5?");
      await answerIn(eda.chat.id, "Echo: What is 2+5?");
      // Editing an older one: its stored text changes, no new answer.
      world.tg.userEdits(eda.chat, eda.user, first, "My cat is Felix");
      world.tg.userSends(eda.chat, eda.user, "Recap?");
      await answerIn(eda.chat.id, "Echo: Recap?");
      expect(contents(world.ai.requestsAbout("Recap?")[0]!.messages.slice(1))).toEqual([
        "user:My cat is Felix",
        "assistant:Echo: My cat is Tom",
        "user:What is 2+5?",
        "assistant:Echo: What is 2+5?",
        "user:Recap?",
      ]);
      expect(world.tg.messagesIn(eda.chat.id).map((m) => m.text)).toEqual(["Echo: My cat is Tom", "Echo: What is 2+3?", "Echo: What is 2+5?", "Echo: Recap?"]);
    });

    test("the same update delivered twice is stored and answered once", async () => {
      const carol = person("Carol");
      world.tg.userSends(carol.chat, carol.user, "Only once, please");
      await answerIn(carol.chat.id, "Echo: Only once, please");
      const update = world.tg.lastUpdate()!;
      world.tg.pushUpdate({ message: update.message });
      world.tg.userSends(carol.chat, carol.user, "Next one");
      await answerIn(carol.chat.id, "Echo: Next one");
      expect(world.ai.requestsAbout("Only once, please")).toHaveLength(1);
      const request = world.ai.requestsAbout("Next one")[0]!;
      expect(contents(request.messages.slice(1))).toEqual([
        "user:Only once, please",
        "assistant:Echo: Only once, please",
        "user:Next one",
      ]);
    });

    test("in a group it answers only when spoken to, and tells people apart", async () => {
      const group = { id: -100555, type: "supergroup" as const, title: "Friends" };
      const dan = person("Dan").user;
      const eve = person("Eve").user;
      world.tg.userSends(group, dan, "just chatting among ourselves");
      world.tg.userSends(group, eve, `@${BOT_USER.username} what is 2+2?`);
      const answer = await answerIn(group.id, "Echo: Eve: what is 2+2?");
      expect(world.ai.requests.some((r) => lastUserText(r).includes("among ourselves"))).toBe(false);
      // It quotes the message it answers, so the group sees whom it is talking to.
      expect(answer.replyTo).toBeDefined();

      world.tg.userSends(group, dan, "and 3+3?", { reply_to_message: { message_id: answer.messageId, date: 0, chat: group, from: BOT_USER, text: answer.text } });
      await answerIn(group.id, "Echo: Dan: and 3+3?");
      const request = world.ai.requestsAbout("and 3+3?")[0]!;
      expect(contents(request.messages.slice(1))).toEqual([
        "user:Eve: what is 2+2?",
        "assistant:Echo: Eve: what is 2+2?",
        "user:Dan: and 3+3?",
      ]);
    });

    test("logs one line per answered turn, with sizes and timings but not the conversation", async () => {
      const judy = person("Judy");
      world.tg.userSends(judy.chat, judy.user, "a secret recipe for pancakes");
      await answerIn(judy.chat.id, "Echo: a secret recipe for pancakes");
      // Logs are written asynchronously: the line may land just after the answer.
      await bot.waitForOutput(new RegExp(`^(?=.*"chatId":${judy.chat.id}\\b)(?=.*"msg":"answered").*$`, "m"));
      const answered = bot.stdout
        .split("\n")
        .filter((line) => line.includes('"msg":"answered"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(answered.length).toBeGreaterThan(0);
      expect(answered[0]).toMatchObject({ level: 30, historyMessages: expect.any(Number), modelMs: expect.any(Number) });
      expect(answered.some((line) => line.chatId === judy.chat.id)).toBe(true);
      expect(bot.stdout).not.toContain("pancakes");
    });
  });
});

test("/model: the models the operator allows, as buttons; the chat's choice is used from then on", async () => {
  const w = await createInProcessWorld();
  try {
    await w.startBot({ OPENAI_MODELS: "fake-model, fake-model-large" });
    const { chat, user } = person("Moritz");
    w.tg.userSends(chat, user, "/model");
    const [ask] = await w.tg.waitForChat(chat.id, (m) => m.length === 1, "the model choice");
    expect(ask!.text).toBe("This chat uses fake-model. Choose a model:");
    expect(ask!.buttons!.map((row) => row[0]!.text)).toEqual(["✅ fake-model", "fake-model-large"]);
    w.tg.userPresses(chat, user, ask!, ask!.buttons![1]![0]!.callback_data);
    await w.tg.waitForChat(chat.id, (m) => m[0]?.text === "Done: this chat now uses fake-model-large.", "the choice confirmed");
    w.tg.userSends(chat, user, "which one?");
    await w.tg.waitForChat(chat.id, (m) => m.length === 2, "the answer");
    expect(w.ai.requestsAbout("which one?")[0]!.model).toBe("fake-model-large");
    // Other chats keep the default.
    const other = person("Otto");
    w.tg.userSends(other.chat, other.user, "and me?");
    await w.tg.waitForChat(other.chat.id, (m) => m.length === 1, "the other answer");
    expect(w.ai.requestsAbout("and me?")[0]!.model).toBe("fake-model");
  } finally {
    await w.close();
  }
});
