import type { MessageRepository } from "../db/message.repository.ts";
import type { Logger } from "../logger.ts";

export interface RetentionOptions {
  repository: Pick<MessageRepository, "purgeDeleted">;
  days: number;
  logger: Logger;
  /** Rows per statement: each holds its locks only for these rows. */
  batchSize?: number;
  /** Time between two runs; the first runs soon after start. */
  everyMs?: number;
  firstAfterMs?: number;
}

export interface Retention {
  /** One run: purges batch after batch until nothing is left; returns how many rows. */
  runOnce(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * Erases soft-deleted messages older than HISTORY_RETENTION_DAYS, in small batches with a pause
 * between them, so no statement holds many locks or runs long. Every instance runs it; SKIP
 * LOCKED keeps them out of each other's way.
 */
export function createRetention({ repository, days, logger, batchSize = 1_000, everyMs = 60 * 60_000, firstAfterMs = 60_000 }: RetentionOptions): Retention {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopping = false;

  const purgeAll = async () => {
    let total = 0;
    for (;;) {
      const purged = await repository.purgeDeleted(days, batchSize);
      total += purged;
      if (purged < batchSize || stopping) break;
      await new Promise((resolve) => setTimeout(resolve, 50)); // let other work reach the database
    }
    if (total > 0) logger.info({ purged: total, retentionDays: days }, "erased soft-deleted messages past retention");
    return total;
  };

  const runOnce = () =>
    (running ??= purgeAll().finally(() => (running = undefined)));

  const schedule = (ms: number) => {
    timer = setTimeout(() => {
      runOnce()
        .catch((error: unknown) => logger.warn({ err: error }, "could not purge old messages; trying again later"))
        .finally(() => !stopping && schedule(everyMs));
    }, ms);
    timer.unref();
  };

  return {
    runOnce,
    start: () => schedule(firstAfterMs),
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
