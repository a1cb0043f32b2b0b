/**
 * End to end on a real PostgreSQL server (TEST_DATABASE_URL): the operator's flow
 * (migrations pending → refuse → `npm run db:migrate` → start) and a database outage.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BotProcess, npmRun } from "../helpers/bot-process.ts";
import { createTempPostgres, TEST_DATABASE_URL, type TestStore } from "../helpers/stores.ts";
import { createWorld, person, type World } from "../helpers/world.ts";

describe.skipIf(!TEST_DATABASE_URL)("on PostgreSQL", () => {
  let world: World;
  let store: TestStore;
  let url: string;
  let admin: pg.Client;
  let bot: BotProcess;
  const dbName = () => new URL(url).pathname.slice(1);

  beforeAll(async () => {
    world = await createWorld();
    store = await createTempPostgres();
    url = (store.config as { url: string }).url;
    admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.query(`alter database ${dbName()} allow_connections true`).catch(() => undefined);
    await admin?.end();
    await world?.close();
    await store?.drop();
  });

  test("with migrations pending the bot refuses to start and says what to run", async () => {
    const refused = new BotProcess(world.env({ DATABASE_URL: url }));
    expect((await refused.exited).code).toBe(1);
    expect(refused.stderr).toContain("make db-migrate");
    expect(refused.stderr).toContain("20261122000000_initial_schema");
    expect(refused.stderr).toContain("20261123000000_durable_inbox");
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });

  test("`npm run db:migrate` names the database and migrates it, then the bot starts and stores the chat there", async () => {
    const migrate = await npmRun("db:migrate", { DATABASE_URL: url });
    expect(migrate.output).toContain(`Migrating PostgreSQL database "${dbName()}" on `);
    expect(migrate.output).toContain("applied: 20261122000000_initial_schema");
    expect(migrate.code).toBe(0);

    bot = await world.startBot({ DATABASE_URL: url });
    expect(bot.stdout).toContain('"store":"postgres"');
    const { chat, user } = person("Pat");
    world.tg.userSends(chat, user, "Привет 👋");
    await world.tg.waitFor(() => world.tg.messagesIn(chat.id)[0]?.text === "Echo: Привет 👋", "the answer");

    const direct = new pg.Client({ connectionString: url });
    await direct.connect();
    try {
      const rows = await direct.query("select role, content, char_length from messages where chat_id = $1 order by id", [chat.id]);
      expect(rows.rows).toEqual([
        { role: "user", content: "Привет 👋", char_length: 8 },
        { role: "assistant", content: "Echo: Привет 👋", char_length: 14 },
      ]);
    } finally {
      await direct.end();
    }
  });

  test("database gone: the user is told their message waits, and it is answered once the database is back", async () => {
    const { chat, user } = person("Outage");
    world.tg.userSends(chat, user, "before the outage");
    await world.tg.waitFor(() => world.tg.messagesIn(chat.id).length === 1, "the first answer");
    // …and recorded as delivered (else the outage below would catch that write, and the row stay
    // leased by the process killed below until its lease ran out).
    const direct = new pg.Client({ connectionString: url });
    await direct.connect();
    try {
      const unfinished = async () =>
        (await direct.query("select count(*)::int as n from inbox where state in ('received', 'working', 'answered')")).rows[0].n as number;
      while ((await unfinished()) > 0) await new Promise((resolve) => setImmediate(resolve));
    } finally {
      await direct.end();
    }

    await admin.query(`alter database ${dbName()} allow_connections false`);
    await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1", [dbName()]);

    world.tg.userSends(chat, user, "during the outage");
    world.tg.userSends(chat, user, "still during the outage");
    await world.tg.waitFor(() => /will answer as soon as it.s back/.test(world.tg.messagesIn(chat.id)[1]?.text ?? ""), "the notice");
    await bot.waitForOutput(/database unreachable; retrying/);
    expect(world.ai.requestsAbout("during the outage")).toHaveLength(0);
    // Not ready, and it says why (a load balancer or an orchestrator can act on it).
    const ready = await fetch(`${bot.httpBase()}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { database: string } }).checks.database).toMatch(/^unreachable: /);

    // The bot dies during the outage: the messages it could not store must not have been confirmed
    // to Telegram (the offset stays), so the next process gets them again.
    bot.kill();
    await bot.exited;
    await admin.query(`alter database ${dbName()} allow_connections true`);
    bot = await world.startBot({ DATABASE_URL: url });
    // Nothing was lost: both messages are answered, in order, each once, after one notice.
    const messages = await world.tg.waitForChat(chat.id, (m) => m.length === 4, "both answers after recovery");
    expect(messages.slice(2).map((m) => m.text)).toEqual(["Echo: during the outage", "Echo: still during the outage"]);
    const request = world.ai.requestsAbout("still during the outage")[0]!;
    expect(request.messages.slice(1).map((m) => m.content)).toEqual([
      "before the outage",
      "Echo: before the outage",
      "during the outage",
      "Echo: during the outage",
      "still during the outage",
    ]);
  });

  test("a turn whose model call failed is stored, out of the context, and its inbox row says why", async () => {
    const { chat, user } = person("Failing");
    world.ai.respondWith(() => ({ kind: "error", status: 500, message: "boom" }));
    world.tg.userSends(chat, user, "this one fails");
    await world.tg.waitFor(() => /can't reach the model/.test(world.tg.messagesIn(chat.id)[0]?.text ?? ""), "the failure reply");
    const direct = new pg.Client({ connectionString: url });
    await direct.connect();
    try {
      const { rows } = await direct.query("select role, content, in_context from messages where chat_id = $1", [chat.id]);
      expect(rows).toEqual([{ role: "user", content: "this one fails", in_context: false }]);
      const inbox = await direct.query("select state, error, payload from inbox where chat_id = $1", [chat.id]);
      expect(inbox.rows).toEqual([{ state: "failed", error: expect.stringMatching(/unavailable|server/), payload: null }]);
    } finally {
      await direct.end();
      world.ai.reset();
    }
    expect((await bot.stop()).code).toBe(0);
  });

  test("`npm run db:reset` asks first (refuses without a terminal), and with --force rolls every migration back and forward", async () => {
    const refused = await npmRun("db:reset", { DATABASE_URL: url });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`erases every table of PostgreSQL database "${dbName()}"`);
    expect(refused.output).toContain("FORCE=1");
    const reset = await npmRun("db:reset", { DATABASE_URL: url }, ["--force"]);
    expect(reset.output).toContain("rolled back: 20261122000000_initial_schema");
    expect(reset.code).toBe(0);
    const direct = new pg.Client({ connectionString: url });
    await direct.connect();
    try {
      const { rows } = await direct.query("select count(*)::int as n from messages");
      expect(rows[0]).toEqual({ n: 0 });
    } finally {
      await direct.end();
    }
  });
});
