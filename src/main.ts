/**
 * The composition root: the only place that reads configuration, creates the long-lived
 * objects and wires them together, and owns start-up and shutdown.
 */
import { run } from "@grammyjs/runner";
import { Api, GrammyError, HttpError } from "grammy";
import { ConfigError, parseConfig, readEnvironment, secretsOf, type Config } from "./config.ts";
import { createDatabase } from "./db/connection.ts";
import { createMessageRepository } from "./db/message.repository.ts";
import { assertMigrated, createMigrator, migrateToLatest, PendingMigrationsError } from "./db/migrations.ts";
import { createDialogueService } from "./dialogue/dialogue.service.ts";
import { createLlmClient } from "./llm/client.ts";
import { createLogger } from "./logger.ts";
import { createBot } from "./telegram/bot.ts";
import { createInFlightTracker } from "./telegram/in-flight.ts";
import { COMMANDS } from "./telegram/texts.ts";

/** Turns still waiting for the model after this long into a shutdown are cancelled. */
const SHUTDOWN_GRACE_MS = 7_000;
/** Hard stop: whatever is still running is abandoned (the process must exit within 10 s). */
const SHUTDOWN_DEADLINE_MS = 9_500;

class StartupError extends Error {}

function describeStartupError(error: unknown, config: Config | undefined): string {
  if (error instanceof ConfigError || error instanceof PendingMigrationsError || error instanceof StartupError) {
    return error.message;
  }
  if (error instanceof GrammyError && error.error_code === 401) {
    return "Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized). Check the token from @BotFather.";
  }
  if (error instanceof HttpError) {
    return `Cannot reach the Telegram Bot API at ${config?.telegram.apiRoot}. Check TELEGRAM_API_ROOT and the network.`;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (config?.database.kind === "postgres" && /ECONNREFUSED|ENOTFOUND|password|does not exist|timeout/i.test(message)) {
    return `Cannot connect to PostgreSQL (DATABASE_URL): ${message}. Is it running? (make db-up)`;
  }
  return `Parley could not start: ${message}`;
}

async function main(): Promise<void> {
  let config: Config | undefined;
  try {
    config = parseConfig(readEnvironment());
  } catch (error) {
    process.stderr.write(`${describeStartupError(error, config)}\n`);
    process.exit(1);
  }

  const logger = createLogger({ level: config.logLevel, secrets: secretsOf(config) });
  const db = createDatabase(config.database, {
    onIdleError: (error) => logger.warn({ err: error }, "lost an idle database connection; it will reconnect"),
  });
  const abortTurns = new AbortController();
  const inFlight = createInFlightTracker();
  // Listen from the start, so a signal during start-up is not lost (it stops the bot once started).
  // A second Ctrl-C falls through to Node's default and ends the process at once.
  const stopRequested = new AbortController();
  for (const name of ["SIGTERM", "SIGINT"] as const) process.once(name, () => stopRequested.abort(name));
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));

  let stopRunner: (() => Promise<void>) | undefined;
  try {
    const migrator = createMigrator(db);
    if (config.database.kind === "pglite") {
      const { results } = await migrateToLatest(migrator);
      for (const r of results ?? []) logger.info({ migration: r.migrationName, status: r.status }, "migration applied");
    } else {
      await assertMigrated(migrator);
    }

    const dialogue = createDialogueService({
      repository: createMessageRepository(db),
      llm: createLlmClient(config.openai),
      settings: config.dialogue,
      logger,
    });
    // Checked once, without retries: a wrong token or an unreachable API fails start-up at once.
    const botInfo = await new Api(config.telegram.token, { apiRoot: config.telegram.apiRoot }).getMe();
    const bot = createBot({
      token: config.telegram.token,
      apiRoot: config.telegram.apiRoot,
      botInfo,
      dialogue,
      logger,
      abortTurns: abortTurns.signal,
      inFlight,
    });
    await bot.api.deleteWebhook(); // long polling cannot coexist with a webhook
    await bot.api.setMyCommands(COMMANDS).catch((error: unknown) => {
      logger.warn({ err: error }, "could not register the command list");
    });

    const runner = run(bot, { runner: { fetch: { allowed_updates: ["message"] } } });
    stopRunner = () => runner.stop();
    // Polling gives up only on what retrying cannot fix: 401 (token revoked) or 409 (another
    // instance is polling with this token, or a webhook was set). Then the bot stops, with exit 1.
    runner.task()?.catch((error: unknown) => {
      const reason =
        error instanceof GrammyError && error.error_code === 409
          ? "another instance of this bot is already receiving its updates (409 Conflict)"
          : error instanceof Error
            ? error.message
            : String(error);
      logger.fatal({ reason }, "polling stopped");
      process.stderr.write(`Parley stopped: ${reason}\n`);
      process.exitCode = 1;
      stopRequested.abort("polling failed");
    });
    logger.info(
      { bot: bot.botInfo.username, store: config.database.kind, model: config.openai.model },
      "Parley is running",
    );
  } catch (error) {
    process.stderr.write(`${describeStartupError(error, config)}\n`);
    await db.destroy().catch(() => undefined);
    process.exit(1);
  }

  if (!stopRequested.signal.aborted) {
    await new Promise((resolve) => stopRequested.signal.addEventListener("abort", resolve, { once: true }));
  }
  logger.info({ signal: stopRequested.signal.reason }, "stopping: no new updates, finishing the turns in flight");
  setTimeout(() => {
    logger.warn("shutdown deadline reached; exiting");
    process.exit();
  }, SHUTDOWN_DEADLINE_MS).unref();
  const cancelLate = setTimeout(() => {
    logger.warn({ turns: inFlight.size() }, "turns still running; cancelling them");
    abortTurns.abort();
  }, SHUTDOWN_GRACE_MS);
  await stopRunner?.();
  await inFlight.drain();
  clearTimeout(cancelLate);
  await db.destroy();
  logger.info("stopped");
  process.exit();
}

await main();
