/**
 * Rich messages (Bot API 10.1): Telegram renders the model's Markdown itself, headings, tables,
 * lists, formulas and code included. This module knows whether the Bot API server has the rich
 * methods at all (markdown/render.ts cuts an answer into rich messages).
 */
import { GrammyError } from "grammy";
import type { Logger } from "../logger.ts";

/** The Bot API server does not have this method: an older or self-hosted server. */
export const isUnknownMethod = (error: unknown): boolean =>
  error instanceof GrammyError && (error.error_code === 404 || /method not found|unknown method/i.test(error.description));

/**
 * Whether to send rich messages: on (TELEGRAM_RICH_MESSAGES=auto) until the Bot API server shows
 * it lacks the rich methods, then off for the rest of the process, said once in the log.
 */
export interface RichSupport {
  readonly enabled: boolean;
  /** Call with an error from a rich method: true if it means the server lacks them (now off). */
  lacks(error: unknown): boolean;
}

export function createRichSupport(mode: "auto" | "off", logger: Logger): RichSupport {
  let enabled = mode === "auto";
  return {
    get enabled() {
      return enabled;
    },
    lacks(error) {
      if (!isUnknownMethod(error)) return false;
      if (enabled) {
        enabled = false;
        logger.warn({ reason: (error as GrammyError).description }, "the Bot API server has no rich messages; using classic formatted messages from now on");
      }
      return true;
    },
  };
}
