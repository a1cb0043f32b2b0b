/**
 * Long polling into the durable inbox. A batch of updates is committed to the inbox before the
 * next getUpdates call, the one that moves the offset past it, tells Telegram it arrived: a crash
 * at any point loses nothing (Telegram sends the batch again; the inbox ignores what it has).
 */
import { GrammyError, type Api } from "grammy";
import type { Update } from "grammy/types";
import { createOutageLog, type Logger } from "../logger.ts";
import type { Languages } from "./i18n.ts";

export interface PollerOptions {
  /** An Api outside the send budget: this loop decides how to wait. */
  api: Api;
  /** Commits the updates to the inbox; throws if it could not. */
  ingest(updates: Update[]): Promise<void>;
  allowedUpdates: readonly string[];
  logger: Logger;
  /** Who is told their message waits is told in their language. */
  languages: Languages;
  /** Pause between two attempts while Telegram or the database is unreachable. */
  retryMs?: number;
  /** Long-poll timeout of getUpdates. */
  timeoutSeconds?: number;
}

export interface Poller {
  /** Polls until stop(); rejects with the reason when polling cannot go on (401, 409). */
  run(): Promise<void>;
  stop(): void;
}

export function createPoller(options: PollerOptions): Poller {
  const { api, logger } = options;
  const retryMs = options.retryMs ?? 1_000;
  const telegram = createOutageLog(logger, "Telegram");
  const database = createOutageLog(logger, "database");
  const stopping = new AbortController();
  /** Private chats told during this database outage that their message will be answered later. */
  const told = new Set<number>();

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopping.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });

  const tellWaiting = (updates: Update[]) => {
    for (const update of updates) {
      const chat = update.message?.chat;
      if (chat?.type !== "private" || told.has(chat.id)) continue;
      told.add(chat.id);
      api.sendMessage(chat.id, options.languages.textsFor(update.message?.from?.language_code).storageDelayed).catch(() => undefined);
    }
  };

  const ingest = async (updates: Update[]) => {
    while (!stopping.signal.aborted) {
      try {
        await options.ingest(updates);
        database.succeeded();
        told.clear();
        return true;
      } catch (error) {
        database.failed(error);
        tellWaiting(updates);
        await pause(retryMs);
      }
    }
    return false;
  };

  return {
    async run() {
      let offset = 0;
      while (!stopping.signal.aborted) {
        let updates: Update[];
        try {
          updates = await api.getUpdates(
            { offset, limit: 100, timeout: options.timeoutSeconds ?? 30, allowed_updates: [...options.allowedUpdates] as never },
            stopping.signal as Parameters<Api["getUpdates"]>[1],
          );
          telegram.succeeded();
        } catch (error) {
          if (stopping.signal.aborted) break;
          if (error instanceof GrammyError && (error.error_code === 401 || error.error_code === 409)) throw error;
          telegram.failed(error);
          const retryAfter = error instanceof GrammyError ? error.parameters.retry_after : undefined;
          await pause(retryAfter ? retryAfter * 1000 : retryMs);
          continue;
        }
        if (updates.length === 0) continue;
        if (!(await ingest(updates))) break;
        offset = updates.at(-1)!.update_id + 1;
      }
    },
    stop() {
      stopping.abort();
    },
  };
}
