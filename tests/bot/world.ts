/**
 * The in-process world: the fakes, the data directory and the stores of tests/helpers/world.ts, but
 * each bot is the app itself (createApp, wired as main.ts wires it, with the same logger) running in
 * the test's process. No build, no child process, no start-up of Node: the tests that only talk to
 * the bot through Telegram and the model (and read its log) run here; tests/e2e keeps what only a
 * real process shows (signals, exit codes, crashes, start-up, npm scripts, many processes).
 *
 * A bot here has the parts of BotProcess those tests use: its log as the process would print it,
 * waits on that log, where its HTTP server listens, and stop().
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createApp, type App } from "../../src/app.ts";
import { parseConfig, secretsOf } from "../../src/config.ts";
import { createLogContext, createLogger } from "../../src/logger.ts";
import { FakeOpenAI } from "../fakes/openai-server.ts";
import { FakeTelegram } from "../fakes/telegram-server.ts";
import { createOutputWaits, httpBaseIn, linesMatching } from "../helpers/bot-process.ts";
import { testSettings, worldPostgres } from "../helpers/world.ts";

export class InProcessBot {
  /** Every log line, as the process would print them on stdout. */
  stdout = "";
  private readonly waits = createOutputWaits(() => this.stdout);
  private app: App | undefined;
  private stopped: Promise<{ code: number; ms: number }> | undefined;
  private fatal: string | undefined;
  private readonly settings: Record<string, string>;

  constructor(settings: Record<string, string>) {
    this.settings = settings;
  }

  async start(): Promise<void> {
    const config = parseConfig(this.settings);
    const logContext = createLogContext();
    const destination = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.stdout += chunk.toString("utf8");
        this.waits.check();
        done();
      },
    });
    const logger = createLogger({ level: config.logLevel, ...secretsOf(config), destination, context: logContext });
    this.app = createApp(config, { logger, logContext, onFatal: (reason) => (this.fatal = reason) });
    await this.app.start();
  }

  /** Lines of the log that match `pattern`. */
  linesMatching(pattern: RegExp): number {
    return linesMatching(this.stdout, pattern);
  }

  waitForLines(pattern: RegExp, count: number, timeoutMs = 20_000): Promise<void> {
    return this.waits.until(() => this.linesMatching(pattern) >= count, `${count} lines ${pattern}`, timeoutMs);
  }

  waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    return this.waits.until(() => pattern.test(this.stdout), String(pattern), timeoutMs);
  }

  /** The base URL of the bot's HTTP server (health, metrics), from where it says it listens. */
  httpBase(): string {
    return httpBaseIn(this.stdout);
  }

  /** Stops the app as main.ts does on SIGTERM; code 0 unless the app gave up on its own (onFatal). */
  stop(): Promise<{ code: number; ms: number }> {
    this.stopped ??= (async () => {
      const started = Date.now();
      await this.app?.stop();
      return { code: this.fatal === undefined ? 0 : 1, ms: Date.now() - started };
    })();
    return this.stopped;
  }
}

export interface InProcessWorld {
  tg: FakeTelegram;
  ai: FakeOpenAI;
  dataDir: string;
  /** The PostgreSQL database the bots use, if the world is on PostgreSQL. */
  databaseUrl: string | undefined;
  startBot(extra?: Record<string, string>): Promise<InProcessBot>;
  close(): Promise<void>;
}

/** A world whose bots run in this process on `store`: PGlite in the data directory, or a new migrated PostgreSQL database. */
export async function createInProcessWorld(store: "pglite" | "postgres" = "pglite"): Promise<InProcessWorld> {
  const postgres = await worldPostgres(store);
  const databaseUrl = postgres ? (postgres.config as { url: string }).url : undefined;
  const tg = await new FakeTelegram().start();
  const ai = await new FakeOpenAI().start();
  const dataDir = mkdtempSync(path.join(tmpdir(), "parley-bot-"));
  const bots: InProcessBot[] = [];
  return {
    tg,
    ai,
    dataDir,
    databaseUrl,
    async startBot(extra = {}) {
      const bot = new InProcessBot({ ...testSettings(tg, ai, dataDir), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...extra });
      bots.push(bot);
      await bot.start();
      return bot;
    },
    async close() {
      await Promise.all(bots.map((bot) => bot.stop().catch(() => undefined)));
      await tg.close();
      await ai.close();
      rmSync(dataDir, { recursive: true, force: true });
      await postgres?.drop();
    },
  };
}
