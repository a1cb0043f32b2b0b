/**
 * End to end: how the bot starts, refuses to start, and stops.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BotProcess } from "../helpers/bot-process.ts";
import { createWorld, person, type World } from "../helpers/world.ts";

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe("start-up", () => {
  test("bad settings: one message naming each, exit 1, no stack trace", async () => {
    const bot = new BotProcess({ HISTORY_MAX_MESSAGES: "many", LOG_LEVEL: "loud", DATABASE_URL: "mysql://nope" });
    const exit = await bot.exited;
    expect(exit.code).toBe(1);
    for (const name of ["TELEGRAM_BOT_TOKEN", "OPENAI_API_KEY", "HISTORY_MAX_MESSAGES", "LOG_LEVEL", "DATABASE_URL"]) {
      expect(bot.stderr).toContain(name);
    }
    expect(bot.stderr).toMatch(/^Invalid configuration:/);
    expect(bot.stderr).not.toMatch(/\n\s+at /);
    expect(bot.stdout).toBe("");
  });

  test("a token Telegram rejects: a clear message and exit 1", async () => {
    world = await createWorld();
    const bot = new BotProcess(world.env({ TELEGRAM_BOT_TOKEN: "111:wrong-token" }));
    expect((await bot.exited).code).toBe(1);
    expect(bot.stderr).toContain("Telegram rejected TELEGRAM_BOT_TOKEN");
    expect(bot.stderr).not.toContain("111:wrong-token");
    expect(bot.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("polling", () => {
  test("another instance polling with the same token (409): a clear message and exit 1", async () => {
    world = await createWorld();
    const bot = await world.startBot();
    world.tg.failNext("getUpdates", {
      error_code: 409,
      description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    });
    world.tg.pushUpdate({}); // wakes the pending long poll so the next one meets the conflict
    const exit = await bot.exited;
    expect(exit.code).toBe(1);
    expect(bot.stderr).toContain("another instance of this bot is already receiving its updates");
  });
});

describe("shutdown", () => {
  test("SIGTERM mid-answer: the answer is finished and delivered, then exit 0 within 10 s", async () => {
    world = await createWorld();
    const w = world;
    const bot = await w.startBot();
    w.ai.respondWith(() => ({ kind: "answer", chunks: ["Worth ", "the ", "wait"], latencyMs: 1_500 }));
    const { chat, user } = person("Patient");
    const requested = w.ai.nextRequest();
    w.tg.userSends(chat, user, "Take your time");
    await requested; // the turn is in flight: the model is "thinking" for 1.5 s

    const exit = await bot.stop();
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(10_000);
    expect(w.tg.messagesIn(chat.id).map((m) => m.text)).toEqual(["Worth the wait"]);
  });

  test("SIGINT with nothing in flight exits 0 at once", async () => {
    world = await createWorld();
    const bot = await world.startBot();
    const exit = await bot.stop("SIGINT");
    expect({ ...exit, ms: 0, out: exit.code === 0 ? "" : bot.stdout + bot.stderr }).toEqual({ code: 0, signal: null, ms: 0, out: "" });
    expect(bot.stdout).toContain('"msg":"stopped"');
  });
});
