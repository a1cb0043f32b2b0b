import { GrammyError, HttpError, type BotError } from "grammy";
import { backoffMs, TELEGRAM_RETRY } from "../lib/retry.ts";
import type { Logger } from "../logger.ts";


/**
 * How long to wait before trying a Telegram call again, when waiting can fix it: a flood wait
 * (429, exactly as Telegram asks, however long), Telegram's own 5xx, or no connection.
 * Undefined for errors that waiting does not fix (400, 403).
 */
export function deliveryRetryMs(error: unknown, attempts: number): number | undefined {
  if (error instanceof GrammyError) {
    if (error.error_code === 429) return (error.parameters.retry_after ?? 1) * 1000;
    if (error.error_code >= 500) return backoffMs(attempts, TELEGRAM_RETRY);
    return undefined;
  }
  if (error instanceof HttpError) return backoffMs(attempts, TELEGRAM_RETRY);
  return undefined;
}

/** Logs an error that escaped a handler, at the level it deserves. */
export function logBotError(logger: Logger, error: BotError): void {
  const inner = error.error;
  const where = { chatId: error.ctx.chat?.id }; // the update id comes with the turn's log context
  if (inner instanceof GrammyError && inner.error_code === 403) {
    logger.warn({ ...where, reason: inner.description }, "user blocked the bot or removed it from the chat");
  } else if (inner instanceof GrammyError) {
    logger.error({ ...where, method: inner.method, code: inner.error_code, reason: inner.description }, "Telegram rejected a request");
  } else if (inner instanceof HttpError) {
    logger.warn({ ...where, err: inner }, "could not reach Telegram");
  } else {
    logger.error({ ...where, err: inner }, "unexpected error while handling an update");
  }
}
