/**
 * The process: reads the configuration, runs the app, and owns signals and the exit status.
 */
import { GrammyError, HttpError } from "grammy";
import { setFlagsFromString } from "node:v8";
import { createApp } from "./app.ts";
import { ConfigError, parseConfig, readEnvironment, secretsOf, type Config } from "./config.ts";
import { StoreInUseError } from "./db/store-lock.ts";
import { cannotConnect, describeStore, isConnectionFailure } from "./db/store-errors.ts";
import { PendingMigrationsError } from "./db/migrations.ts";
import { createLogContext, createLogger } from "./logger.ts";

/** Hard stop: whatever is still running is abandoned (the process must exit within 10 s). */
const SHUTDOWN_DEADLINE_MS = 9_500;
/** A stop signal repeated within this time is the same request, delivered twice. */
const SIGNAL_ECHO_MS = 1_000;

function describeStartupError(error: unknown, config: Config | undefined): string {
  if (error instanceof ConfigError || error instanceof PendingMigrationsError || error instanceof StoreInUseError) {
    return error.message;
  }
  if (error instanceof GrammyError && error.error_code === 401) {
    return "Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized). Check the token from @BotFather.";
  }
  if (error instanceof GrammyError && error.method === "setWebhook") {
    return `Telegram refused TELEGRAM_WEBHOOK_URL: ${error.description}`;
  }
  if (error instanceof HttpError) {
    return `Cannot reach the Telegram Bot API at ${config?.telegram.apiRoot}. Check TELEGRAM_API_ROOT and the network.`;
  }
  const message = error instanceof Error ? error.message : String(error);
  if ((error as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE") {
    return `HTTP_PORT ${config?.http.port} on ${config?.http.host} is already in use: ${message}`;
  }
  if (config?.database.kind === "postgres" && isConnectionFailure(error)) return cannotConnect(error, describeStore(config.database));
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
  // MEMORY_PROFILE=lean: V8 sizes its heap for memory rather than speed. Set before the store and
  // the bot allocate anything sizeable; the heuristics read the flag as they go (doc/benchmarks.md).
  if (config.memoryProfile === "lean") setFlagsFromString("--optimize-for-size");

  const logContext = createLogContext();
  const logger = createLogger({ level: config.logLevel, ...secretsOf(config), context: logContext });
  // Listen from the start, so a signal during start-up is not lost (it stops the bot once started).
  // One stop request often arrives twice: Ctrl-C or a SIGTERM to the process group reaches the bot
  // and npm, which forwards it again. Repeats within a second are that echo; a later one is an
  // operator insisting, and ends the process at once (non-zero: turns are abandoned).
  const stopRequested = new AbortController();
  let firstSignalAt: number | undefined;
  for (const name of ["SIGTERM", "SIGINT"] as const) {
    process.on(name, () => {
      if (firstSignalAt === undefined) {
        firstSignalAt = Date.now();
        stopRequested.abort(name);
      } else if (Date.now() - firstSignalAt > SIGNAL_ECHO_MS) {
        logger.warn({ signal: name }, "stopping at once, as asked again: turns in flight are abandoned");
        process.exit(1);
      }
    });
  }
  process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled promise rejection"));

  const app = createApp(config, {
    logger,
    logContext,
    onFatal(reason) {
      logger.fatal({ reason }, "polling stopped");
      process.stderr.write(`Parley stopped: ${reason}\n`);
      process.exitCode = 1;
      stopRequested.abort("polling failed");
    },
  });
  try {
    await app.start(stopRequested.signal);
  } catch (error) {
    // Any failure after a stop was asked for is that stop (StartAborted, or a request it aborted).
    if (stopRequested.signal.aborted) {
      // Asked to stop while starting (docker stop while Telegram is unreachable): a clean end.
      logger.info({ signal: stopRequested.signal.reason }, "stopped during start-up");
      await app.stop().catch(() => undefined);
      process.exit(0);
    }
    process.stderr.write(`${describeStartupError(error, config)}\n`);
    await app.stop().catch(() => undefined);
    process.exit(1);
  }

  if (!stopRequested.signal.aborted) {
    await new Promise((resolve) => stopRequested.signal.addEventListener("abort", resolve, { once: true }));
  }
  logger.info({ signal: stopRequested.signal.reason }, "stopping: no new updates, finishing the turns in flight");
  setTimeout(() => {
    // Something did not stop in time (a turn, the database): what it was doing is abandoned, and
    // the exit status says so to whatever supervises the process.
    logger.error("shutdown deadline reached; exiting with work abandoned");
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await app.stop();
  logger.info("stopped");
  process.exit();
}

await main();
