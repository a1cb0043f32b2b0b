/**
 * The application: every long-lived object, wired in one place, with start() and stop().
 * main.ts runs it as a process; tests/bot/ drives it in-process.
 */
import { randomUUID } from "node:crypto";
import { Api, GrammyError, HttpError } from "grammy";
import { sql } from "kysely";
import type { LanguageCode, Update, UserFromGetMe } from "grammy/types";
import { createAccessService } from "./access/access.service.ts";
import { createRetention, type Retention } from "./retention/retention.service.ts";
import { createUsageService } from "./limits/usage.service.ts";
import type { Config } from "./config.ts";
import { createAccessRepository } from "./db/access.repository.ts";
import { createUsageRepository } from "./db/usage.repository.ts";
import { createSettingsRepository } from "./db/settings.repository.ts";
import { createDatabase } from "./db/connection.ts";
import { createInboxRepository, INBOX_CHANNEL, STOP_CHANNEL } from "./db/inbox.repository.ts";
import { createPrivacyRepository } from "./db/privacy.repository.ts";
import { createMessageRepository } from "./db/message.repository.ts";
import { createTurnCommitRepository } from "./db/turn-commit.repository.ts";
import { createTurnCommits, type TurnCommits } from "./inbox/turn.ts";
import { assertMigrated, createMigrator, migrateToLatest, pendingMigrations } from "./db/migrations.ts";
import { listen, type Listener } from "./db/notifications.ts";
import { createInstancesRepository, FLOOD_CHANNEL, parseFlood } from "./db/instances.repository.ts";
import { createSendBudget } from "./telegram/budget.ts";
import { createDialogueService } from "./dialogue/dialogue.service.ts";
import { createHttpServer, type HttpServer, type Readiness } from "./http/server.ts";
import { ALLOWED_UPDATES, toIncoming } from "./inbox/updates.ts";
import { withBatchedEnds } from "./inbox/batched.ts";
import { createGenerationStops, parseStopRequest, stopRequestOf, type StopRequest } from "./inbox/stops.ts";
import { createInboxWorker, type InboxWorker } from "./inbox/worker.ts";
import { createPasteMerger } from "./inbox/paste.ts";
import { createLlmClient } from "./llm/client.ts";
import { createModelWatch } from "./llm/model-check.ts";
import { createLogContext, createOutageLog, type LogContext, type Logger } from "./logger.ts";
import { backoffMs } from "./lib/retry.ts";
import { createMetrics } from "./ops/metrics.ts";
import { createBot, createPlainApi, type ParleyBot } from "./telegram/bot.ts";
import { addressedText } from "./telegram/prompt.ts";
import { observeApi } from "./telegram/observe.ts";
import { createPoller, type Poller } from "./telegram/polling.ts";
import { createLanguages } from "./telegram/i18n.ts";
import { createFileDownloader } from "./telegram/file-downloader.ts";
import { createMediaService } from "./media/media.service.ts";
import { createFileBox } from "./media/box/box.ts";
import { createTranscriber } from "./llm/transcribe.ts";

/** Turns still waiting for the model this long into a shutdown are cancelled (and run again later). */
const SHUTDOWN_GRACE_MS = 7_000;
/** getMe at start-up: an attempt that gets no answer in this time is tried again. */
const GET_ME_TIMEOUT_S = 10;
/** Waits between getMe attempts while Telegram is unreachable at start-up: 1 s, 2 s, 4 s … 30 s. */
const START_RETRY = { baseMs: 1_000, maxMs: 30_000 };

/** A stop was asked for while the app was starting: nothing is wrong, the process ends cleanly. */
export class StartAborted extends Error {
  constructor() {
    super("stopped during start-up");
    this.name = "StartAborted";
  }
}

/** Waits `ms`, or until `signal` aborts (then throws StartAborted). */
const pause = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new StartAborted());
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
    };
    const stop = () => {
      done();
      reject(new StartAborted());
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal?.addEventListener("abort", stop, { once: true });
  });

export interface App {
  /**
   * Health first (/healthz answers from here on, /readyz says what start-up still waits for),
   * then the store, Telegram (waited for while unreachable), receiving, the worker. `signal`
   * aborts a start-up still under way: it then throws StartAborted.
   */
  start(signal?: AbortSignal): Promise<void>;
  /** Stops receiving, lets the turns in flight finish (cancelling late ones), closes the database. */
  stop(): Promise<void>;
}

export interface AppOptions {
  logger: Logger;
  /** The logger's context: each turn runs in one, so its lines carry its update id. */
  logContext?: LogContext;
  /** Called when the app cannot go on by itself (polling refused for good: 401, 409). */
  onFatal(reason: string): void;
}

export function createApp(config: Config, { logger, onFatal, logContext = createLogContext() }: AppOptions): App {
  const metrics = createMetrics();
  const telegramApi = observeApi(metrics);
  const db = createDatabase(config.database, {
    onIdleError: (error) => logger.warn({ err: error }, "lost an idle database connection; it will reconnect"),
    onPool: (pool) => metrics.watchPool(() => ({ inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount })),
  });
  const migrator = createMigrator(db);
  /** This instance's name: the owner of its inbox leases, the sender of its notifications, its heartbeat. */
  const instanceId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const inbox = withBatchedEnds(createInboxRepository(db));
  // One budget of sends to Telegram for the whole bot: on PostgreSQL the instances share it.
  const instances = config.database.kind === "postgres" ? createInstancesRepository(db) : undefined;
  let liveInstances = 1;
  let heartbeat: NodeJS.Timeout | undefined;
  const budget = createSendBudget({
    perSecond: config.telegram.sendsPerSecond,
    instances: () => liveInstances,
    onFlood: (chatId, untilMs) => {
      logger.warn({ chatId, waitMs: untilMs - Date.now() }, "Telegram asked the bot to slow down (429); every instance waits");
      instances?.notifyFlood(instanceId, chatId, untilMs).catch((error: unknown) => logger.warn({ err: error }, "could not pass a flood wait on to the other instances"));
    },
  });
  const { token, apiRoot, webhook } = config.telegram;
  const languages = createLanguages();
  const abortTurns = new AbortController();
  const stops = createGenerationStops();
  let botUsername = "";
  let worker: InboxWorker | undefined;
  let poller: Poller | undefined;
  let http: HttpServer | undefined;
  let opsHttp: HttpServer | undefined;
  let listener: Listener | undefined;
  let retention: Retention | undefined;

  metrics.watchInbox(() => inbox.backlog());

  const ingest = async (updates: Update[]) => {
    metrics.updatesReceived(await inbox.ingest(updates.map(toIncoming), instanceId));
    worker?.wake();
    // A stop request acts now, not in its turn (which comes after the answer it means to stop):
    // here, if this instance writes an answer it names; otherwise where one does.
    const requests = updates.map((u) => stopRequestOf(u, botUsername)).filter((r): r is StopRequest => r !== null);
    if (requests.length === 0) return;
    const elsewhere = requests.filter((request) => stops.named(request).length === 0);
    for (const request of requests) if (!elsewhere.includes(request)) stopHere(request);
    for (const request of elsewhere) logger.debug({ chatId: request.chatId, userId: request.user.id }, "a stop request names no answer written here");
    if (elsewhere.length > 0 && config.database.kind === "postgres") {
      await inbox.notifyStops(elsewhere).catch((error: unknown) => logger.warn({ err: error }, "could not pass a stop request on to the other instances"));
    }
  };
  /** Stops what the request names, if its user may (ParleyBot.stop); never holds up the caller. */
  let stopAnswers: ((request: StopRequest) => Promise<number>) | undefined;
  const stopHere = (request: StopRequest) => {
    stopAnswers?.(request).catch((error: unknown) => logger.warn({ err: error, chatId: request.chatId }, "could not decide a stop request"));
  };

  /** The model server, its key and the allowed models: looked at once the bot runs (llm/model-check.ts). */
  const models = createModelWatch({ server: config.openai, models: config.openai.models, logger });

  /** What start-up is doing now; "running" once it is done (/readyz shows it until then). */
  let phase = "starting";
  /** The store is migrated (embedded) or checked: webhook updates may be stored from now on. */
  let storeReady = false;

  /** GET /readyz: the database answers, its schema is current, Telegram was reachable last time. */
  const readiness = async (): Promise<Readiness> => {
    // Until the store is ready, start-up itself is what is missing (and the store is not touched
    // beside its migration).
    if (!storeReady) return { ready: false, checks: { startup: phase } };
    const checks: Record<string, string> = phase === "running" ? {} : { startup: phase };
    try {
      await sql`select 1`.execute(db);
      checks.database = "ok";
      const pending = await pendingMigrations(migrator);
      checks.schema = pending.length === 0 ? "ok" : `migrations pending: ${pending.join(", ")}`;
      databaseOutage.succeeded();
    } catch (error) {
      // Which check fails, never the error's text (it may name hosts and users): that goes to the log, once.
      checks.database = "unreachable";
      databaseOutage.failed(error);
    }
    checks.telegram = telegramApi.reachable() ? "ok" : "unreachable";
    const model = phase === "running" ? models.readiness() : undefined;
    if (model !== undefined) checks.model = model;
    return { ready: Object.values(checks).every((c) => c === "ok"), checks };
  };
  const databaseOutage = createOutageLog(logger, "database");

  /** The store ready: the embedded one migrated (and its leases void), PostgreSQL checked to be migrated. */
  const prepareStore = async () => {
    if (config.database.kind === "pglite") {
      const { results } = await migrateToLatest(migrator);
      for (const r of results ?? []) logger.info({ migration: r.migrationName, status: r.status }, "migration applied");
      // One process owns this store (lockDataDir): leases left by a crashed run are void now.
      const released = await inbox.releaseAllLeases();
      if (released > 0) logger.info({ released }, "resuming updates a previous run left unfinished");
    } else {
      await assertMigrated(migrator);
    }
  };

  /**
   * Who the bot is (getMe). A token Telegram refuses fails start-up at once; while Telegram is
   * unreachable (a network down, a proxy dropping packets) each attempt has GET_ME_TIMEOUT_S, a
   * warning says so, and start-up waits, /healthz answering meanwhile, until a stop is asked for.
   */
  const whoAmI = async (signal: AbortSignal | undefined): Promise<UserFromGetMe> => {
    const api = new Api(token, { apiRoot, timeoutSeconds: GET_ME_TIMEOUT_S });
    for (let attempt = 1; ; attempt++) {
      try {
        // grammY types its signal as the abort-controller polyfill's; Node's own works the same.
        const me = await api.getMe(signal as Parameters<Api["getMe"]>[0]);
        if (attempt > 1) logger.info({ attempts: attempt }, "Telegram reachable; starting");
        return me;
      } catch (error) {
        if (signal?.aborted) throw new StartAborted();
        if (!(error instanceof HttpError)) throw error; // Telegram answered: 401 and the like are for the operator
        const delayMs = backoffMs(attempt, START_RETRY);
        logger.warn({ err: error, attempt, delayMs, apiRoot }, "Telegram unreachable at start-up; trying again (check the network and TELEGRAM_API_ROOT)");
        await pause(delayMs, signal);
      }
    }
  };

  /** The services and the grammY bot, wired once Telegram has said who the bot is. */
  const createServices = async (signal: AbortSignal | undefined) => {
    const messages = createMessageRepository(db);
    const commits = createTurnCommits(createTurnCommitRepository(db));
    const media = createMediaService({
      download: createFileDownloader({ api: createPlainApi(token, apiRoot, telegramApi.transformer), token, apiRoot }),
      transcriber: createTranscriber({ ...config.media.transcribe, apiKey: config.openai.apiKey, timeoutMs: config.openai.timeoutMs, maxRetries: config.openai.maxRetries }),
      documentMaxChars: config.media.documentMaxChars,
      documentMaxPages: config.media.documentMaxPages,
      imageMaxSide: config.media.imageMaxSide,
      box: createFileBox({ timeoutMs: config.media.fileTimeoutMs, memoryMb: config.media.fileMemoryMb, logger }),
      logger,
    });
    const access = createAccessService({ config: config.access, repository: createAccessRepository(db) });
    const usage = createUsageService(createUsageRepository(db), config.limits, { isBotAdmin: access.isBotAdmin });
    const dialogue = createDialogueService({
      repository: messages,
      llm: createLlmClient(config.openai),
      settings: config.dialogue,
      logger,
      metrics,
      chatSettings: createSettingsRepository(db),
      models: config.openai.models,
      media,
      vision: config.media.vision,
      historyMaxImages: config.media.historyMaxImages,
      usage,
    });
    phase = "waiting for Telegram (getMe)";
    const botInfo = await whoAmI(signal);
    botUsername = botInfo.username;
    if (config.access.everyone && !config.access.explicit) {
      logger.warn("ALLOWED_USERS is not set: anyone on Telegram can use this bot and its model budget (set ALLOWED_USERS, or * to mean it)");
    }
    const parley = createBot({
      token,
      apiRoot,
      botInfo,
      dialogue,
      logger,
      abortTurns: abortTurns.signal,
      observeApi: telegramApi.transformer,
      budget,
      access,
      usage,
      groupSettingsBy: config.access.groupSettingsBy,
      metrics,
      richMessages: config.telegram.richMessages,
      stops,
      languages,
      media,
      imageMaxSide: config.media.imageMaxSide,
      messagesPerMinute: config.limits.messagesPerMinute,
      privacy: createPrivacyRepository(db),
    });
    stopAnswers = (request) => parley.stop(request);
    return { parley, messages, commits, botInfo };
  };

  /** The worker: each claimed row, a long paste merged first, through the bot. */
  const createWorker = (parley: ParleyBot, commits: TurnCommits, botInfo: UserFromGetMe) => {
    const paste = createPasteMerger({
      inbox,
      owner: instanceId,
      windowMs: config.inbox.pasteMergeMs,
      mergeMax: config.inbox.mergeWaitingMax,
      logger,
      // Only messages for the bot are answered together (a group's chatter is not).
      addressed: (message) => message.chat.type === "private" || (message.text !== undefined && addressedText({ text: message.text, entities: message.entities, reply_to_message: message.reply_to_message }, botInfo) !== null),
    });
    return createInboxWorker({
      inbox,
      owner: instanceId,
      leaseMs: config.inbox.leaseMs,
      maxConcurrent: config.inbox.maxConcurrentTurns,
      logger,
      logContext,
      handle: async (row) => parley.handle(await paste.merge(row), inbox, commits, instanceId, () => worker?.wake()),
      onPoison: (row) => parley.tellPoisoned(row),
    });
  };

  /**
   * Health and metrics on HTTP_HOST:HTTP_PORT; in webhook mode that listener is public (it takes
   * the webhook), and metrics and the readiness checks move to the ops listener.
   */
  const serveHttp = async () => {
    const takesWebhook = webhook && config.inbox.role === "all";
    http = createHttpServer({
      ...config.http,
      logger,
      readiness,
      metrics,
      // Before the store is ready an update is refused with 503, and Telegram sends it again.
      webhook: takesWebhook ? { path: webhook.path, secret: webhook.secret, ingest: (u) => (storeReady ? ingest([u]) : Promise.reject(new Error("still starting"))) } : undefined,
      ops: !takesWebhook,
    });
    const port = await http.listen();
    let opsAt: string | undefined;
    if (takesWebhook) {
      opsHttp = createHttpServer({ ...config.ops, logger, readiness, metrics, ops: true });
      opsAt = `${config.ops.host}:${await opsHttp.listen()}`;
    }
    logger.info({ http: `${config.http.host}:${port}`, ...(opsAt ? { ops: opsAt } : {}) }, "health checks listening; starting");
    return { port, opsAt };
  };

  /** The command menus, and updates coming in: a webhook, or long polling. Says how they come. */
  const startReceiving = async (parley: ParleyBot, port: number, signal: AbortSignal | undefined): Promise<string> => {
    const abortable = signal as Parameters<Api["getMe"]>[0];
    let receiving = "nothing (worker only)";
    if (config.inbox.role === "all") {
      // The command menu in each language the bot speaks (the default one for everyone else).
      for (const [i, locale] of languages.locales.entries()) {
        await parley.bot.api.setMyCommands(languages.textsFor(locale).commands, i === 0 ? undefined : { language_code: locale as LanguageCode }, abortable).catch((error: unknown) => {
          logger.warn({ err: error, locale }, "could not register the command list");
        });
      }
      if (webhook) {
        await parley.bot.api.setWebhook(
          webhook.url,
          { secret_token: webhook.secret, allowed_updates: [...ALLOWED_UPDATES], max_connections: webhook.maxConnections },
          abortable,
        );
        receiving = `webhook on ${config.http.host}:${port}${webhook.path}`;
      } else {
        await parley.bot.api.deleteWebhook(undefined, abortable); // long polling cannot coexist with a webhook
        const current = createPoller({ api: createPlainApi(token, apiRoot, telegramApi.transformer, 45, budget.transformer("final")), ingest, allowedUpdates: ALLOWED_UPDATES, logger, languages });
        poller = current;
        current.run().catch((error: unknown) => {
          const reason =
            error instanceof GrammyError && error.error_code === 409
              ? "another instance of this bot is already receiving its updates (409 Conflict)"
              : error instanceof GrammyError && error.error_code === 401
                ? "Telegram no longer accepts TELEGRAM_BOT_TOKEN (401 Unauthorized)"
                : error instanceof Error
                  ? error.message
                  : String(error);
          onFatal(reason);
        });
        receiving = "long polling";
      }
    }
    return receiving;
  };

  /** On PostgreSQL: the other instances' ingests, stop requests and flood waits, and their number. */
  const joinInstances = async () => {
    if (config.database.kind === "postgres") {
      // Another instance's ingest: look now. This one's own ingest has woken the worker already.
      listener = listen(
        config.database.url,
        {
          [INBOX_CHANNEL]: (from) => from !== instanceId && worker?.wake(),
          // Another instance received a stop request: this one may be writing that chat's answer.
          [STOP_CHANNEL]: (payload) => {
            const request = parseStopRequest(payload);
            if (request && stops.named(request).length > 0) stopHere(request);
          },
          // Another instance met a 429: this one waits too.
          [FLOOD_CHANNEL]: (payload) => {
            const flood = parseFlood(payload, instanceId);
            if (flood) budget.pause(flood.chatId, flood.untilMs);
          },
        },
        logger,
      );
    }
    if (instances) {
      // The instances share the budget of sends: each learns how many there are every two seconds.
      const beat = () =>
        instances
          .beat(instanceId)
          .then((live) => (liveInstances = live))
          .catch((error: unknown) => logger.debug({ err: error }, "could not record this instance as alive"));
      await beat();
      heartbeat = setInterval(beat, 2_000);
    }
  };

  return {
    async start(signal) {
      const step = (now: string) => {
        if (signal?.aborted) throw new StartAborted();
        phase = now;
      };
      const { port, opsAt } = await serveHttp();
      step("preparing the store");
      await prepareStore();
      storeReady = true;
      step("waiting for Telegram (getMe)");
      const { parley, messages, commits, botInfo } = await createServices(signal);
      step("starting to receive updates");
      if (config.retentionDays !== null) {
        retention = createRetention({ repository: messages, days: config.retentionDays, logger });
        retention.start();
      }
      worker = createWorker(parley, commits, botInfo);
      const receiving = await startReceiving(parley, port, signal);
      step("joining the other instances");
      await joinInstances();
      step("running");
      worker.start();
      models.look();
      logger.info(
        {
          bot: botInfo.username,
          store: config.database.kind,
          model: config.openai.model,
          receiving,
          http: `${config.http.host}:${port}`,
          ...(opsAt ? { ops: opsAt } : {}),
          instance: instanceId,
          memoryProfile: config.memoryProfile,
        },
        "Parley is running",
      );
    },

    async stop() {
      poller?.stop();
      await http?.close();
      await opsHttp?.close();
      const cancelLate = setTimeout(() => {
        logger.warn({ turns: worker?.running() }, "turns still running; cancelling them (they run again on the next start)");
        abortTurns.abort();
      }, SHUTDOWN_GRACE_MS);
      await worker?.stop();
      clearTimeout(cancelLate);
      await retention?.stop();
      clearInterval(heartbeat);
      await instances?.leave(instanceId).catch(() => undefined);
      await listener?.close();
      await db.destroy();
    },
  };
}
