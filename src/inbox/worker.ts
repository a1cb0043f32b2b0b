/**
 * The turn scheduler: leases runnable inbox rows (the oldest unfinished update of each chat) and
 * runs them, many chats at once and one chat strictly in order, on PostgreSQL itself
 * (FOR UPDATE SKIP LOCKED with leases; doc/adr/0003-durable-inbox.md). Any number of instances
 * can run one against the same database: a lease that is not renewed runs out, and the row is
 * taken over.
 */
import type { ClaimedUpdate, InboxRepository } from "../db/inbox.repository.ts";
import { backoffMs, TURN_RETRY } from "../lib/retry.ts";
import { createLogContext, createOutageLog, type LogContext, type Logger } from "../logger.ts";
import { isStatementError } from "../db/errors.ts";

export interface WorkerOptions {
  inbox: InboxRepository;
  /** This instance's lease owner id. */
  owner: string;
  leaseMs: number;
  maxConcurrent: number;
  /**
   * Runs one leased row. It ends the row itself (finish or release), and calls wake() when that
   * may have made its chat's next update runnable; if it throws, the row is released to be tried
   * again after a back-off.
   */
  handle(row: ClaimedUpdate): Promise<void>;
  logger: Logger;
  /** Each row runs in its own log context: every line of its turn carries its update id. */
  logContext?: LogContext;
  /** How often an idle worker looks for work it was not woken for (expired leases, flood waits). */
  pollIntervalMs?: number;
  /**
   * A row claimed this many times without finishing is given up: a message that crashes the bot
   * every time. Every crash or restart costs all the turns running then an attempt, so this is
   * high enough that restarts alone (deploys, a crash loop with another cause) do not reach it.
   */
  maxAttempts?: number;
  /** Finished rows are deleted after this long (Telegram reuses update ids after a week of silence). */
  keepFinishedMs?: number;
  /** A row given up as poison (it failed the same way twice): tell its chat, best effort. */
  onPoison?(row: ClaimedUpdate): Promise<void>;
}

/**
 * What an error says about the row, to compare with its previous attempt's: null for an outage
 * (the database or the network away), which is not the row's fault and must not give it up.
 * Numbers are blanked, so "row 17" and "row 18" are the same failure.
 */
export function failureOf(error: unknown): string | null {
  if (!isStatementError(error)) {
    const code = (error as { code?: unknown } | null)?.code;
    const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return null; // a passing database state
    if (typeof code === "string" && /^E[A-Z]+/.test(code)) return null; // ECONNREFUSED, ETIMEDOUT…
    if (/connection (terminated|refused|reset)|timeout|socket hang up|fetch failed|network/i.test(text)) return null;
  }
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\d+/g, "#").slice(0, 200);
}

export interface InboxWorker {
  start(): void;
  /** There may be new work: look now (an ingest, a finished turn, a notification). */
  wake(): void;
  /** Stops taking work and waits for the rows running now. */
  stop(): Promise<void>;
  running(): number;
}

const CLAIM_BATCH = 100;
const PRUNE_EVERY_MS = 10 * 60_000;

export function createInboxWorker(options: WorkerOptions): InboxWorker {
  const { inbox, owner, leaseMs, maxConcurrent, logger } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const maxAttempts = options.maxAttempts ?? 20;
  const keepFinishedMs = options.keepFinishedMs ?? 24 * 3_600_000;
  const running = new Set<Promise<void>>();
  const database = createOutageLog(logger, "database");
  let stopped = true;
  let wakeRequested = false;
  /** The last claim took as many rows as it asked for: more may be waiting for a free slot. */
  let saturated = false;
  let wakeUp: (() => void) | undefined;
  let loopDone: Promise<void> = Promise.resolve();
  let heartbeat: NodeJS.Timeout | undefined;
  let pruner: NodeJS.Timeout | undefined;

  const wake = () => {
    wakeRequested = true;
    wakeUp?.();
  };

  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  const logContext = options.logContext ?? createLogContext();
  const run = (row: ClaimedUpdate) => {
    const log = logger;
    const task = logContext.run({ updateId: Number(row.updateId) }, async () => {
      if (row.state === "working" && row.attempts > maxAttempts) {
        log.error({ attempts: row.attempts }, "update failed every attempt; giving it up");
        await inbox.finish(row.updateId, owner, "failed", "too many attempts");
        wake();
        return;
      }
      try {
        await options.handle(row);
      } catch (error) {
        const failure = failureOf(error);
        if (failure !== null && failure === row.lastError) {
          // The same failure twice: trying again would only repeat it (and its model call).
          log.error({ err: error, attempts: row.attempts }, "update failed the same way twice; giving it up as poison");
          await inbox.finish(row.updateId, owner, "failed", `poison: ${failure}`);
          await options.onPoison?.(row).catch((notice: unknown) => log.warn({ err: notice }, "could not tell the chat its message was given up"));
          wake();
          return;
        }
        const delayMs = backoffMs(row.attempts, TURN_RETRY);
        log.warn({ err: error, delayMs }, "update not finished; it will be tried again");
        await inbox.release(row.updateId, owner, { delayMs, ...(failure === null ? {} : { error: failure }) });
      }
    })
      .catch((error: unknown) => log.warn({ err: error }, "could not release an update; its lease will run out"))
      .finally(() => {
        running.delete(task);
        // A slot is free: worth a claim only if the last one filled every slot it could (there may
        // be more waiting). The chat's own next update is the handler's to signal (see handle).
        if (saturated) wake();
      });
    running.add(task);
  };

  const loop = async () => {
    while (!stopped) {
      const free = maxConcurrent - running.size;
      if (free <= 0) {
        // Every slot is busy: wait for a turn to end (it wakes us when saturated). Looping on a
        // pending wake here instead would spin without ever yielding to the event loop.
        await idle(pollIntervalMs);
        continue;
      }
      {
        wakeRequested = false;
        const limit = Math.min(free, CLAIM_BATCH);
        let rows: ClaimedUpdate[];
        try {
          rows = await inbox.claim(owner, limit, leaseMs);
          database.succeeded();
        } catch (error) {
          database.failed(error);
          await idle(pollIntervalMs);
          continue;
        }
        if (stopped) {
          // Claimed in the instant of stopping: give them straight back.
          await Promise.allSettled(rows.map((r) => inbox.release(r.updateId, owner)));
          break;
        }
        for (const row of rows) run(row);
        saturated = rows.length === limit;
        if (saturated) continue; // there may be more
      }
      if (!wakeRequested) await idle(pollIntervalMs);
    }
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loopDone = loop();
      heartbeat = setInterval(() => {
        if (running.size === 0) return;
        inbox.renewLeases(owner, leaseMs).catch((error: unknown) => database.failed(error));
      }, Math.max(200, Math.floor(leaseMs / 3)));
      pruner = setInterval(() => {
        inbox
          .pruneFinished(keepFinishedMs, 1_000)
          .then((deleted) => deleted > 0 && logger.debug({ deleted }, "pruned finished inbox rows"))
          .catch((error: unknown) => logger.debug({ err: error }, "could not prune the inbox"));
      }, PRUNE_EVERY_MS);
      pruner.unref();
    },
    wake,
    async stop() {
      stopped = true;
      wakeUp?.();
      await loopDone;
      while (running.size > 0) await Promise.allSettled([...running]);
      clearInterval(heartbeat);
      clearInterval(pruner);
    },
    running: () => running.size,
  };
}
