/**
 * End to end: the real bot process (as `npm start` runs it) against the fake Telegram and the fake
 * model: what only a process shows of a conversation (a restart after SIGTERM, what it prints).
 * The conversation itself is tested in-process: tests/bot/conversation.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BotProcess } from "../helpers/bot-process.ts";
import { createWorld, E2E_STORES, OPENAI_KEY, person, type World } from "../helpers/world.ts";

// The same conversation on each store: the embedded one, and PostgreSQL when TEST_DATABASE_URL is set.
describe.each(E2E_STORES)("on %s", (store) => {
  let world: World;
  let bot: BotProcess;

  beforeAll(async () => {
    world = await createWorld(store);
    bot = await world.startBot();
  });
  afterAll(async () => world?.close());

  /** Waits for the bot's answer that contains `text` in the chat, as the user sees it. */
  async function answerIn(chatId: number, text: string) {
    const messages = await world.tg.waitForChat(chatId, (ms) => ms.some((m) => m.text.includes(text)), `an answer with "${text}"`);
    return messages.find((m) => m.text.includes(text))!;
  }

  const contents = (messages: { role: string; content: string }[]) => messages.map((m) => `${m.role}:${m.content}`);

  describe("what only the process shows", () => {
    test("remembers across a restart, and stops cleanly on SIGTERM", async () => {
      const frank = person("Frank");
      world.tg.userSends(frank.chat, frank.user, "My name is Frank");
      await answerIn(frank.chat.id, "Echo: My name is Frank");
      const exit = await bot.stop();
      expect(exit.code).toBe(0);
      expect(exit.ms).toBeLessThan(10_000);
      expect(bot.stdout).toContain('"msg":"stopped"');

      bot = await world.startBot();
      world.tg.userSends(frank.chat, frank.user, "Do you still remember me?");
      await answerIn(frank.chat.id, "Echo: Do you still remember me?");
      const request = world.ai.requestsAbout("Do you still remember me?")[0]!;
      expect(contents(request.messages.slice(1))).toEqual([
        "user:My name is Frank",
        "assistant:Echo: My name is Frank",
        "user:Do you still remember me?",
      ]);
    });

    test("never writes the bot token or the API key to its logs", async () => {
      const ivan = person("Ivan");
      world.tg.userSends(ivan.chat, ivan.user, "hello there");
      await answerIn(ivan.chat.id, "Echo: hello there");
      const output = bot.stdout + bot.stderr;
      expect(output.length).toBeGreaterThan(0);
      expect(output).not.toContain(world.tg.token);
      expect(output).not.toContain(world.tg.token.split(":")[1]);
      expect(output).not.toContain(OPENAI_KEY);
    });

  });
});
