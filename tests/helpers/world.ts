/** A fake Telegram, a fake model and a data directory: everything the real bot talks to. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FakeOpenAI } from "../fakes/openai-server.ts";
import { FakeTelegram, type TgChat, type TgUser } from "../fakes/telegram-server.ts";
import { migrate } from "./audit.ts";
import { BotProcess } from "./bot-process.ts";
import { createTempPostgres, TEST_DATABASE_URL, type TestStore } from "./stores.ts";

/** The stores an end-to-end suite runs on: the embedded one always, PostgreSQL when TEST_DATABASE_URL is set. */
export const E2E_STORES: ReadonlyArray<"pglite" | "postgres"> = ["pglite", ...(TEST_DATABASE_URL ? (["postgres"] as const) : [])];

export const OPENAI_KEY = "sk-test-9f8e7d6c5b4a-secret";

export interface World {
  tg: FakeTelegram;
  ai: FakeOpenAI;
  dataDir: string;
  /** The PostgreSQL database the bots use, if the world is on PostgreSQL. */
  databaseUrl: string | undefined;
  /** Settings for a bot process in this world (PGlite in dataDir unless overridden). */
  env(extra?: Record<string, string>): Record<string, string>;
  startBot(extra?: Record<string, string>): Promise<BotProcess>;
  close(): Promise<void>;
}

/** A bot's settings against these fakes, its embedded store in `dataDir`: the e2e and in-process layers alike. */
export function testSettings(tg: FakeTelegram, ai: FakeOpenAI, dataDir: string): Record<string, string> {
  return {
    TELEGRAM_BOT_TOKEN: tg.token,
    TELEGRAM_API_ROOT: tg.url,
    OPENAI_API_KEY: OPENAI_KEY,
    OPENAI_BASE_URL: ai.url,
    OPENAI_MODEL: "fake-model",
    OPENAI_TIMEOUT_SECONDS: "5",
    PGLITE_DATA_DIR: path.join(dataDir, "pglite"),
    HTTP_PORT: "0", // every bot serves health and metrics; tests run many at once
    OPS_PORT: "0", // and in webhook mode an ops listener
    LOG_LEVEL: "debug",
  };
}

/** On PostgreSQL: a new database, migrated as `make db-migrate` would; on PGlite nothing (the bot migrates it). */
export async function worldPostgres(store: "pglite" | "postgres"): Promise<TestStore | undefined> {
  if (store === "pglite") return undefined;
  const postgres = await createTempPostgres();
  await migrate(postgres.config);
  return postgres;
}

/** A world whose bots use `store`: PGlite in the data directory, or a new migrated PostgreSQL database (dropped on close). */
export async function createWorld(store: "pglite" | "postgres" = "pglite"): Promise<World> {
  const postgres = await worldPostgres(store);
  const databaseUrl: Record<string, string> = postgres ? { DATABASE_URL: (postgres.config as { url: string }).url } : {};
  const tg = await new FakeTelegram().start();
  const ai = await new FakeOpenAI().start();
  const dataDir = mkdtempSync(path.join(tmpdir(), "parley-e2e-"));
  const bots: BotProcess[] = [];
  const env = (extra: Record<string, string> = {}) => ({ ...testSettings(tg, ai, dataDir), ...databaseUrl, ...extra });
  return {
    tg,
    ai,
    dataDir,
    databaseUrl: databaseUrl.DATABASE_URL,
    env,
    async startBot(extra) {
      const bot = new BotProcess(env(extra));
      bots.push(bot);
      await bot.waitUntilRunning();
      return bot;
    },
    async close() {
      for (const bot of bots) bot.kill();
      await Promise.all(bots.map((b) => b.exited));
      await tg.close();
      await ai.close();
      rmSync(dataDir, { recursive: true, force: true });
      await postgres?.drop();
    },
  };
}

let nextId = 100;
/** A person with a private chat with the bot. */
export function person(firstName: string): { user: TgUser; chat: TgChat } {
  const id = nextId++;
  return { user: { id, first_name: firstName, username: firstName.toLowerCase() }, chat: { id, type: "private", first_name: firstName } };
}
