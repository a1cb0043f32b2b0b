import { autoRetry } from "@grammyjs/auto-retry";
import { sequentialize } from "@grammyjs/runner";
import { Bot, GrammyError, HttpError, type BotError } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import type { Logger } from "pino";
import type { DialogueService } from "../dialogue/dialogue.service.ts";
import { createChatFeature } from "./features/chat.ts";
import { createClearFeature } from "./features/clear.ts";
import { createHelpFeature } from "./features/help.ts";
import { createStartFeature } from "./features/start.ts";
import { createUnsupportedFeature } from "./features/unsupported.ts";
import type { InFlightTracker } from "./in-flight.ts";

export interface BotDependencies {
  token: string;
  apiRoot: string;
  /** The bot's own account (getMe), fetched once at start-up. */
  botInfo: UserFromGetMe;
  dialogue: DialogueService;
  logger: Logger;
  abortTurns: AbortSignal;
  inFlight: InFlightTracker;
  previewIntervalMs?: number;
}

/** The last line of defence: every error that escapes a handler is logged, never fatal. */
export function handleBotError(logger: Logger) {
  return (error: BotError): void => {
    const inner = error.error;
    const where = { updateId: error.ctx.update.update_id, chatId: error.ctx.chat?.id };
    if (inner instanceof GrammyError && inner.error_code === 403) {
      logger.warn({ ...where, reason: inner.description }, "user blocked the bot or removed it from the chat");
    } else if (inner instanceof GrammyError) {
      logger.error({ ...where, method: inner.method, code: inner.error_code, reason: inner.description }, "Telegram rejected a request");
    } else if (inner instanceof HttpError) {
      logger.error({ ...where, err: inner }, "could not reach Telegram");
    } else {
      logger.error({ ...where, err: inner }, "unexpected error while handling an update");
    }
  };
}

export function createBot(deps: BotDependencies): Bot {
  const bot = new Bot(deps.token, { botInfo: deps.botInfo, client: { apiRoot: deps.apiRoot, timeoutSeconds: 60 } });
  // Honour 429 retry_after (and ride out Telegram's own 5xx) for every API call.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 5, maxDelaySeconds: 60 }));

  bot.use(deps.inFlight.middleware);
  // Different chats run concurrently; the updates of one chat strictly in order.
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
  bot.use(createStartFeature());
  bot.use(createHelpFeature());
  bot.use(createClearFeature(deps));
  bot.use(
    createChatFeature({
      dialogue: deps.dialogue,
      logger: deps.logger,
      previewIntervalMs: deps.previewIntervalMs ?? 1_000,
      abortTurns: deps.abortTurns,
    }),
  );
  bot.use(createUnsupportedFeature());

  bot.catch(handleBotError(deps.logger));
  return bot;
}
