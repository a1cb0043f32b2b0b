/**
 * End to end on a real PostgreSQL server (TEST_DATABASE_URL): the operator's flow
 * (migrations pending → refuse → `npm run db:migrate` → start) and a database outage.
 */
import pg from "pg";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { migrate } from "../helpers/audit.ts";
import { BotProcess, npmRun } from "../helpers/bot-process.ts";
import { createTempPostgres, queryPostgres, TEST_DATABASE_URL, type TestStore } from "../helpers/stores.ts";
import { createWorld, person, type World } from "../helpers/world.ts";

describe.skipIf(!TEST_DATABASE_URL)("on PostgreSQL", () => {
  // Every test has its own database, bot and fakes, and leaves nothing behind, even when it fails
  // halfway through an outage (connections are allowed again before the database is dropped).
  let world: World;
  let admin: pg.Client;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    world = await createWorld();
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    await admin.end();
    await world.close();
  });

  /** A new database for this test (migrated unless asked not to), dropped after it. */
  const database = async (migrated = true) => {
    const store: TestStore = await createTempPostgres();
    const url = (store.config as { url: string }).url;
    const name = new URL(url).pathname.slice(1);
    cleanups.push(async () => {
      await admin.query(`alter database ${name} allow_connections true`);
      await store.drop();
    });
    if (migrated) await migrate(store.config);
    return { url, name };
  };

  test("with migrations pending the bot refuses to start and says what to run", async () => {
    const { url } = await database(false);
    const refused = new BotProcess(world.env({ DATABASE_URL: url }));
    expect((await refused.exited).code).toBe(1);
    expect(refused.stderr).toContain("make db-migrate");
    expect(refused.stderr).toContain("20261122000000_initial_schema");
    expect(refused.stderr).toContain("20261123000000_durable_inbox");
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });

  test("`npm run db:migrate` names the database and migrates it, then the bot starts and stores the chat there", async () => {
    const { url, name } = await database(false);
    const migrated = await npmRun("db:migrate", { DATABASE_URL: url });
    expect(migrated.output).toContain(`Migrating PostgreSQL database "${name}" on `);
    expect(migrated.output).toContain("applied: 20261122000000_initial_schema");
    expect(migrated.code).toBe(0);

    const bot = await world.startBot({ DATABASE_URL: url });
    expect(bot.stdout).toContain('"store":"postgres"');
    const { chat, user } = person("Pat");
    world.tg.userSends(chat, user, "Привет 👋");
    await world.tg.waitFor(() => world.tg.messagesIn(chat.id)[0]?.text === "Echo: Привет 👋", "the answer");
    expect(await queryPostgres(url, "select role, content, char_length from messages where chat_id = $1 order by id", [chat.id])).toEqual([
      { role: "user", content: "Привет 👋", char_length: 8 },
      { role: "assistant", content: "Echo: Привет 👋", char_length: 14 },
    ]);
    expect((await bot.stop()).code).toBe(0);
  });

  test("database gone: the user is told their message waits, and it is answered once the database is back", { timeout: 60_000 }, async () => {
    const { url, name } = await database();
    // Each message its own turn (MERGE_WAITING_MAX=1): both waiting messages get their own answer.
    let bot = await world.startBot({ DATABASE_URL: url, MERGE_WAITING_MAX: "1" });
    const { chat, user } = person("Outage");
    world.tg.userSends(chat, user, "before the outage");
    await world.tg.waitFor(() => world.tg.messagesIn(chat.id).length === 1, "the first answer", 30_000);
    // …and recorded as delivered (else the outage below would catch that write, and the row stay
    // leased by the process killed below until its lease ran out). Its end is the turn's last log line.
    await bot.waitForOutput(/"msg":"answered"/);
    const unfinished = async () => (await queryPostgres(url, "select count(*)::int as n from inbox where state in ('received', 'working', 'answered')"))[0]!.n as number;
    while ((await unfinished()) > 0) await new Promise((resolve) => setTimeout(resolve, 20));

    await admin.query(`alter database ${name} allow_connections false`);
    await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1", [name]);

    world.tg.userSends(chat, user, "during the outage");
    world.tg.userSends(chat, user, "still during the outage");
    await world.tg.waitFor(() => /will answer as soon as it.s back/.test(world.tg.messagesIn(chat.id)[1]?.text ?? ""), "the notice", 30_000);
    await bot.waitForOutput(/database unreachable; retrying/);
    expect(world.ai.requestsAbout("during the outage")).toHaveLength(0);
    // Not ready, and it says which check fails (a load balancer or an orchestrator can act on it),
    // never the error's text (the log has it).
    const ready = await fetch(`${bot.httpBase()}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { database: string } }).checks.database).toBe("unreachable");

    // The bot dies during the outage: the messages it could not store must not have been confirmed
    // to Telegram (the offset stays), so the next process gets them again.
    bot.kill();
    await bot.exited;
    // Its outage errors (connection strings, Bot API URLs) leaked no secret.
    expect(bot.stdout + bot.stderr).not.toContain(world.tg.token.split(":")[1]);
    await admin.query(`alter database ${name} allow_connections true`);
    bot = await world.startBot({ DATABASE_URL: url, MERGE_WAITING_MAX: "1" });
    // Nothing was lost: both messages are answered, in order, each once, after one notice.
    await world.tg.waitFor(() => world.tg.messagesIn(chat.id).length === 4, "both answers after recovery", 30_000);
    const messages = world.tg.messagesIn(chat.id);
    expect(messages.slice(2).map((m) => m.text)).toEqual(["Echo: during the outage", "Echo: still during the outage"]);
    const request = world.ai.requestsAbout("still during the outage")[0]!;
    expect(request.messages.slice(1).map((m) => m.content)).toEqual([
      "before the outage",
      "Echo: before the outage",
      "during the outage",
      "Echo: during the outage",
      "still during the outage",
    ]);
    expect((await bot.stop()).code).toBe(0);
  });

  test("a turn whose model call failed is stored, out of the context, and its inbox row says why", async () => {
    const { url } = await database();
    const bot = await world.startBot({ DATABASE_URL: url });
    const { chat, user } = person("Failing");
    world.ai.respondWith(() => ({ kind: "error", status: 500, message: "boom" }));
    world.tg.userSends(chat, user, "this one fails");
    await world.tg.waitFor(() => /can't reach the model/.test(world.tg.messagesIn(chat.id)[0]?.text ?? ""), "the failure reply");
    expect(await queryPostgres(url, "select role, content, in_context from messages where chat_id = $1", [chat.id])).toEqual([
      { role: "user", content: "this one fails", in_context: false },
    ]);
    expect(await queryPostgres(url, "select state, error, payload from inbox where chat_id = $1", [chat.id])).toEqual([
      { state: "failed", error: expect.stringMatching(/unavailable|server/), payload: null },
    ]);
    expect((await bot.stop()).code).toBe(0);
  });

  test("`npm run db:reset` asks first (refuses without a terminal), and with --force rolls every migration back and forward", async () => {
    const { url, name } = await database();
    await queryPostgres(url, "insert into chats (id, type) values (1, 'private')");
    const refused = await npmRun("db:reset", { DATABASE_URL: url });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`erases every table of PostgreSQL database "${name}"`);
    expect(refused.output).toContain("FORCE=1");
    expect(await queryPostgres(url, "select count(*)::int as n from chats")).toEqual([{ n: 1 }]);
    const reset = await npmRun("db:reset", { DATABASE_URL: url }, ["--force"]);
    expect(reset.output).toContain("rolled back: 20261122000000_initial_schema");
    expect(reset.code).toBe(0);
    expect(await queryPostgres(url, "select count(*)::int as n from chats")).toEqual([{ n: 0 }]);
  });
});
