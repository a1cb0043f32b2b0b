/**
 * End to end: how the bot starts, refuses to start, and stops.
 */
import { afterEach, describe, expect, test } from "vitest";
import net from "node:net";
import { BotProcess, httpBaseIn, npmRun } from "../helpers/bot-process.ts";
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

describe("start-up while Telegram is unreachable", () => {
  test("refused: /healthz answers, /readyz names what start-up waits for, a warning names the setting; it starts once Telegram is back", async () => {
    world = await createWorld();
    const w = world;
    w.tg.setNetworkDown(true);
    const bot = new BotProcess(w.env({ LOG_LEVEL: "info" }));
    await bot.waitForOutput(/"msg":"Telegram unreachable at start-up; trying again \(check the network and TELEGRAM_API_ROOT\)"/);
    const base = httpBaseIn(bot.stdout);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { startup?: string } }).checks.startup).toBe("waiting for Telegram (getMe)");
    w.tg.setNetworkDown(false);
    await bot.waitForOutput(/"msg":"Parley is running"/, 60_000);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(bot.stdout + bot.stderr).not.toContain(w.tg.token.split(":")[1]!);
    expect((await bot.stop()).code).toBe(0);
  });

  test("no answer at all (packets dropped): SIGTERM during start-up ends the process at once, with exit 0", async () => {
    world = await createWorld();
    // A Bot API that accepts connections and never answers.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const bot = new BotProcess(world.env({ LOG_LEVEL: "info", TELEGRAM_API_ROOT: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}` }));
      await bot.waitForOutput(/"msg":"health checks listening; starting"/);
      const base = httpBaseIn(bot.stdout);
      // Up while getMe waits (the store is prepared first: wait for that phase to pass).
      await expect.poll(async () => ((await (await fetch(`${base}/readyz`)).json()) as { checks: { startup?: string } }).checks.startup, { timeout: 30_000 }).toBe("waiting for Telegram (getMe)");
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const exit = await bot.stop();
      expect(exit.code).toBe(0);
      expect(bot.stdout).toContain('"msg":"stopped during start-up"');
    } finally {
      silent.close();
    }
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
    expect(bot.stderr + bot.stdout).not.toMatch(/\n\s+at /); // through the logger, no raw stack trace
    expect(bot.stdout).toContain('"msg":"polling stopped"');
  });

  test("the token revoked while polling (401): the message names TELEGRAM_BOT_TOKEN, no stack trace, exit 1", async () => {
    world = await createWorld();
    const bot = await world.startBot();
    world.tg.failNext("getUpdates", { error_code: 401, description: "Unauthorized" });
    world.tg.pushUpdate({});
    expect((await bot.exited).code).toBe(1);
    expect(bot.stderr).toContain("Telegram no longer accepts TELEGRAM_BOT_TOKEN (401 Unauthorized)");
    expect(bot.stderr + bot.stdout).not.toMatch(/\n\s+at /);
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

  test("SIGTERM while the model is still thinking after the grace period: the call is cancelled, exit 0, and the next start answers once", async () => {
    world = await createWorld();
    const w = world;
    const bot = await w.startBot({ OPENAI_TIMEOUT_SECONDS: "30" }); // the model may think long
    w.ai.respondWith(() => ({ kind: "answer", chunks: ["too late"], latencyMs: 60_000 }));
    const { chat, user } = person("Hurried");
    const requested = w.ai.nextRequest();
    w.tg.userSends(chat, user, "Still there?");
    await requested;

    const exit = await bot.stop();
    // The grace period (7 s) cancels the call; without it the hard deadline (9.5 s) would end the
    // process with 1.
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(9_000);
    expect(bot.stdout).toContain("turns still running; cancelling them");
    expect(w.tg.messagesIn(chat.id)).toEqual([]);

    w.ai.respondWith(() => ({ kind: "answer", chunks: ["Yes, here."] }));
    const again = await w.startBot();
    await w.tg.waitForChat(chat.id, (m) => m.length === 1, "the answer after the restart");
    expect(w.tg.messagesIn(chat.id).map((m) => m.text)).toEqual(["Yes, here."]);
    expect((await again.stop()).code).toBe(0);
  });

  test("SIGINT with nothing in flight exits 0 at once", async () => {
    world = await createWorld();
    const bot = await world.startBot();
    const exit = await bot.stop("SIGINT");
    expect({ ...exit, ms: 0, out: exit.code === 0 ? "" : bot.stdout + bot.stderr }).toEqual({ code: 0, signal: null, ms: 0, out: "" });
    expect(bot.stdout).toContain('"msg":"stopped"');
  });
});

describe("durability", () => {
  test("the embedded store belongs to one process: a second bot and `npm run db:migrate` refuse at once, naming it", async () => {
    world = await createWorld();
    const first = await world.startBot();
    const dataDir = world.env().PGLITE_DATA_DIR!;
    const second = new BotProcess(world.env());
    expect((await second.exited).code).toBe(1);
    expect(second.stderr).toContain(`The embedded store ${dataDir} is in use by another process (pid ${first.pid})`);
    expect(second.stderr).not.toMatch(/\n\s+at /);
    const migrate = await npmRun("db:migrate", { PGLITE_DATA_DIR: dataDir });
    expect(migrate.code).toBe(1);
    expect(migrate.output).toContain(`The embedded store ${dataDir} is in use by another process`);
    // The first one never noticed.
    const { chat, user } = person("Owner");
    world.tg.userSends(chat, user, "still mine?");
    await world.tg.waitForChat(chat.id, (m) => m[0]?.text === "Echo: still mine?", "the answer");
    expect((await first.stop()).code).toBe(0);
    // Once it is gone, the store opens again.
    const third = await world.startBot();
    expect((await third.stop()).code).toBe(0);
  });

  test("`npm run db:migrate` against a server that is not there: one line naming it, no stack trace, no password", async () => {
    const migrate = await npmRun("db:migrate", { DATABASE_URL: "postgres://parley:Pa55-word@127.0.0.1:1/parley" });
    expect(migrate.code).toBe(1);
    expect(migrate.output).toContain('Cannot connect to PostgreSQL database "parley" on 127.0.0.1:1: connect ECONNREFUSED');
    expect(migrate.output).not.toMatch(/\n\s+at /);
    expect(migrate.output).not.toContain("Pa55-word");
  });

  test("the bot against a PostgreSQL server that is not there: the same line as the tools, no stack trace, no password", async () => {
    world = await createWorld();
    const bot = new BotProcess(world.env({ DATABASE_URL: "postgres://parley:Pa55-word@127.0.0.1:1/parley" }));
    expect((await bot.exited).code).toBe(1);
    expect(bot.stderr).toContain('Cannot connect to PostgreSQL database "parley" on 127.0.0.1:1: connect ECONNREFUSED');
    expect(bot.stderr).toContain("Is the server running, and are the host and port in DATABASE_URL right?");
    expect(bot.stderr + bot.stdout).not.toMatch(/\n\s+at /);
    expect(bot.stderr + bot.stdout).not.toContain("Pa55-word");
  });

  test("a network outage on getUpdates: polling resumes within 5 s of its end, one warning when it starts and one when it ends", async () => {
    world = await createWorld();
    const w = world;
    const bot = await w.startBot({ LOG_LEVEL: "info" });
    const { chat, user } = person("Offline");
    w.tg.setNetworkDown(true);
    w.tg.userSends(chat, user, "sent during the outage");
    await bot.waitForOutput(/"msg":"Telegram unreachable; retrying"/);
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // the outage lasts 6 s
    const restoredAt = Date.now();
    w.tg.setNetworkDown(false);
    await w.tg.waitForChat(chat.id, (m) => m[0]?.text === "Echo: sent during the outage", "the answer after the outage");
    const firstPoll = w.tg.polls.find((t) => t >= restoredAt)!;
    expect(firstPoll - restoredAt).toBeLessThanOrEqual(5_000);
    await bot.waitForOutput(/Telegram reachable again after/);
    const warnings = bot.stdout.split("\n").filter((line) => /Telegram (unreachable|reachable again)/.test(line));
    expect(warnings).toHaveLength(2);
    expect(warnings.every((line) => line.includes('"level":40'))).toBe(true);
    expect(Number(/"outageMs":(\d+)/.exec(warnings[1]!)?.[1])).toBeGreaterThanOrEqual(6_000);
    // The network error names the Bot API URL, token included: the logger scrubs it.
    expect(warnings[0]).toContain("/bot[REDACTED]/getUpdates");
    expect(bot.stdout + bot.stderr).not.toContain(w.tg.token.split(":")[1]!);
    expect((await bot.stop()).code).toBe(0);
  });

  test("a long flood wait (429) on the final answer is honoured, survives a restart, and the model is not asked again", async () => {
    world = await createWorld();
    const w = world;
    let bot = await w.startBot();
    const { chat, user } = person("Flooded");
    // The final answer is a rich message (the Bot API server has them).
    w.tg.failNext(
      "sendRichMessage",
      { error_code: 429, description: "Too Many Requests: retry after 5", parameters: { retry_after: 5 } },
      (p) => p.chat_id === chat.id,
    );
    w.tg.userSends(chat, user, "answer me eventually");
    await w.tg.waitFor(() => w.tg.callsOf("sendRichMessage", chat.id).length === 1, "the refused send");
    const refusedAt = w.tg.callsOf("sendRichMessage", chat.id)[0]!.at;
    await bot.waitForOutput(/"delayMs":5000,.*"msg":"answer not delivered yet; it waits in the inbox"/);
    expect((await bot.stop()).code).toBe(0); // the answer waits in the database, not in this process
    bot = await w.startBot();
    const [answer] = await w.tg.waitForChat(chat.id, (m) => m.length === 1, "the answer after the flood wait");
    expect(answer!.text).toBe("Echo: answer me eventually");
    expect(answer!.rich).toBe(true);
    expect(answer!.sentAt - refusedAt).toBeGreaterThanOrEqual(4_900);
    expect(w.ai.requestsAbout("answer me eventually")).toHaveLength(1);
    expect(w.tg.messagesIn(chat.id)).toHaveLength(1);
    expect((await bot.stop()).code).toBe(0);
  });
});
