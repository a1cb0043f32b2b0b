import { Api, Bot, BotError, GrammyError, type Transformer } from "grammy";
import type { Update, UserFromGetMe } from "grammy/types";
import type { Logger } from "pino";
import type { AccessService } from "../access/access.service.ts";
import { createChatAdmins, createSettingsPolicy } from "../access/chat-admins.ts";
import type { UsageService } from "../limits/usage.service.ts";
import type { AccessConfig } from "../config.ts";
import type { ClaimedUpdate, InboxRepository } from "../db/inbox.repository.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { DialogueService } from "../dialogue/dialogue.service.ts";
import type { GenerationStops, StopRequest } from "../inbox/stops.ts";
import type { Languages } from "./i18n.ts";
import type { MediaService } from "../media/media.service.ts";
import { createTurn, type Turn, type TurnCommits } from "../inbox/turn.ts";
import type { ParleyContext } from "./context.ts";
import { deliveryRetryMs, logBotError } from "./errors.ts";
import { createRichSupport } from "./rich.ts";
import { createButtons } from "./buttons.ts";
import type { PrivacyRepository } from "../db/privacy.repository.ts";
import type { SendBudget } from "./budget.ts";
import { createAccessGate } from "./features/access.ts";
import { createRateLimiter } from "../limits/rate.ts";
import { createAdminFeature } from "./features/admin.ts";
import { createChatFeature } from "./features/chat.ts";
import { createForgetFeature } from "./features/forget.ts";
import { createStopFeature } from "./features/stop.ts";
import { createMigrateFeature } from "./features/migrate.ts";
import { createSystemFeature } from "./features/system.ts";
import { createModelFeature } from "./features/model.ts";
import { createModeFeature } from "./features/mode.ts";
import { createExportFeature } from "./features/export.ts";
import { createUsageFeature } from "./features/usage.ts";
import { createClearFeature } from "./features/clear.ts";
import { createHelpFeature } from "./features/help.ts";
import { createStartFeature } from "./features/start.ts";
import { createUnsupportedFeature } from "./features/unsupported.ts";

export interface BotDependencies {
  token: string;
  apiRoot: string;
  /** The bot's own account (getMe), fetched once at start-up. */
  botInfo: UserFromGetMe;
  dialogue: DialogueService;
  logger: Logger;
  abortTurns: AbortSignal;
  /** Installed on every Bot API client (metrics, reachability). */
  observeApi: Transformer;
  /** The bot's budget of sends to Telegram: finals wait for it, previews are dropped under pressure. */
  budget: SendBudget;
  access: AccessService;
  usage: UsageService;
  groupSettingsBy: AccessConfig["groupSettingsBy"];
  metrics: Pick<Metrics, "turnRefused">;
  /** Where a running answer learns that the user stopped it. */
  stops: GenerationStops;
  /** TELEGRAM_RICH_MESSAGES: auto (while the server has them) or off. */
  richMessages: "auto" | "off";
  /** What the bot says, in each user's language. */
  languages: Languages;
  /** Photos, voice and documents. */
  media: MediaService;
  imageMaxSide: number;
  /** USER_MESSAGES_PER_MINUTE. */
  messagesPerMinute: number;
  /** /forget erases through this. */
  privacy: PrivacyRepository;
  previewIntervalMs?: number;
  draftIntervalMs?: number;
}

export interface ParleyBot {
  bot: Bot<ParleyContext>;
  /**
   * Runs one leased inbox row through the bot and ends it (its commits through `commits`); `onNext`
   * is called when that may have made the chat's next update runnable (see createTurn).
   */
  handle(row: ClaimedUpdate, inbox: InboxRepository, commits: TurnCommits, leaseOwner: string, onNext: () => void): Promise<void>;
  /** Tells the chat of a row given up as poison that its message will not be answered. */
  tellPoisoned(row: ClaimedUpdate): Promise<void>;
  /**
   * A stop request, at ingest: the answers running here that it names stop if its user passes the
   * access gate and wrote them, or administers the chat. Returns how many stopped.
   */
  stop(request: StopRequest): Promise<number>;
}

/**
 * A Telegram API client: every call observed (`observe`), and, with a budget, its sends paced as
 * `kind` (previews dropped under pressure, finals waiting for their slot).
 */
export function createPlainApi(token: string, apiRoot: string, observe: Transformer, timeoutSeconds = 60, budget?: Transformer): Api {
  const api = new Api(token, { apiRoot, timeoutSeconds });
  api.config.use(observe); // every attempt is seen, retried ones included
  if (budget) api.config.use(budget);
  return api;
}

export function createBot(deps: BotDependencies): ParleyBot {
  const bot = new Bot<ParleyContext>(deps.token, { botInfo: deps.botInfo, client: { apiRoot: deps.apiRoot, timeoutSeconds: 60 } });
  // Sends wait for their slot of the bot's budget, and a short flood wait in place; a longer one,
  // Telegram's 5xx or a broken connection end the call, and the delivery waits in the inbox
  // instead (see features/chat.ts).
  bot.api.config.use(deps.observeApi); // every attempt is seen, retried ones included
  bot.api.config.use(deps.budget.transformer("final"));

  const { access, usage, logger, dialogue, metrics } = deps;
  const turns = new Map<number, Turn>();
  const buttons = createButtons(deps.token);
  bot.use((ctx, next) => {
    ctx.turn = turns.get(ctx.update.update_id);
    ctx.texts = deps.languages.textsFor(ctx.from?.language_code);
    const chatId = ctx.chat?.id ?? 0;
    ctx.button = (data) => buttons.sign(chatId, data);
    return next();
  });
  // A button press counts only if this bot made that button for this chat; features then see its data.
  bot.on("callback_query:data", (ctx, next) => {
    const data = buttons.verify(ctx.chat?.id ?? 0, ctx.callbackQuery.data);
    if (data === null) {
      logger.info({ userId: ctx.from.id }, "refused: a button this bot did not make (forged, old, or from another chat)");
      return ctx.answerCallbackQuery({ text: ctx.texts.buttonInvalid, show_alert: true });
    }
    ctx.callbackQuery.data = data;
    return next();
  });
  const chatAdmins = createChatAdmins({
    fetch: async (chatId) => (await bot.api.getChatAdministrators(chatId)).map((member) => member.user.id),
  });
  const settings = createSettingsPolicy({ by: deps.groupSettingsBy, isBotAdmin: access.isBotAdmin, chatAdmins });
  bot.use(createAccessGate({ access, logger, metrics, rate: createRateLimiter(deps.messagesPerMinute) }));
  // The chat feature comes right after the gate: a turn waits for the model inside it, and every
  // middleware layer before it stays suspended meanwhile (memory per turn in flight). It passes
  // commands, callback queries and service messages on to the features below.
  bot.use(
    createChatFeature({
      dialogue,
      logger,
      previewApi: createPlainApi(deps.token, deps.apiRoot, deps.observeApi, 60, deps.budget.transformer("preview")),
      previewIntervalMs: deps.previewIntervalMs ?? 1_000,
      rich: createRichSupport(deps.richMessages, logger),
      // The first text within 150 ms (an answer complete by then goes out as one message, with no
      // draft), then about three drafts a second: smooth, and within Telegram's pace.
      firstDraftAfterMs: 150,
      draftIntervalMs: deps.draftIntervalMs ?? 300,
      abortTurns: deps.abortTurns,
      usage,
      metrics,
      stops: deps.stops,
      media: deps.media,
      imageMaxSide: deps.imageMaxSide,
    }),
  );
  bot.use(createStartFeature());
  bot.use(createHelpFeature());
  bot.use(createClearFeature({ dialogue, logger, settings }));
  bot.use(createUsageFeature({ usage, access }));
  bot.use(createForgetFeature({ privacy: deps.privacy, logger }));
  bot.use(createAdminFeature({ access, logger }));
  bot.use(createStopFeature({ dialogue }));
  bot.use(createMigrateFeature({ dialogue, logger }));
  bot.use(createSystemFeature({ dialogue, settings, logger }));
  bot.use(createModelFeature({ dialogue, settings, logger }));
  bot.use(createModeFeature({ dialogue, settings, logger }));
  bot.use(createExportFeature({ dialogue, logger }));
  bot.use(createUnsupportedFeature());

  /** May `request`'s user stop answers others asked for: a chat admin (or the bot's). */
  const administers = async ({ chatId, user, senderChatId }: StopRequest) =>
    access.isBotAdmin(user.id) || senderChatId === chatId || (chatId < 0 && (await chatAdmins.isChatAdmin(chatId, user.id)));

  return {
    bot,
    async stop(request) {
      const named = deps.stops.named(request);
      if (named.length === 0) return 0;
      // The same gate as every update: someone who may not use the bot stops nothing.
      if (!(await access.isAllowed(request.user))) {
        logger.info({ userId: request.user.id, chatId: request.chatId }, "refused: a stop request from a user who is not allowed");
        return 0;
      }
      const others = named.some((answer) => answer.authorId !== request.user.id);
      const admin = others && (await administers(request));
      let stopped = 0;
      for (const answer of named) if ((answer.authorId === request.user.id || admin) && deps.stops.stop(answer)) stopped++;
      if (stopped < named.length) logger.info({ userId: request.user.id, chatId: request.chatId }, "refused: a stop request for someone else's answer");
      return stopped;
    },
    async tellPoisoned(row) {
      const update = row.payload as Update | null;
      const message = update?.message ?? update?.edited_message;
      if (!message) return;
      const texts = deps.languages.textsFor(message.from?.language_code);
      await bot.api.sendMessage(message.chat.id, texts.poisoned, {
        ...(message.is_topic_message && message.message_thread_id !== undefined ? { message_thread_id: message.message_thread_id } : {}),
        reply_parameters: { message_id: message.message_id, allow_sending_without_reply: true },
      });
    },
    async handle(row, inbox, commits, leaseOwner, onNext) {
      const turn = createTurn(row, inbox, commits, leaseOwner, deps.logger, onNext);
      const updateId = Number(row.updateId);
      turns.set(updateId, turn);
      try {
        await bot.handleUpdate(row.payload as Update);
        // The answer runs here, after the middleware has returned (see Turn.continueWith).
        await turn.takeRest()?.();
        if (!turn.ended) await turn.done(); // a command, chatter, or anything else without a turn
      } catch (error) {
        if (!(error instanceof BotError)) throw error;
        logBotError(deps.logger, error);
        if (turn.ended) return;
        const inner = error.error;
        const wait = deliveryRetryMs(inner, row.attempts);
        if (wait !== undefined) return turn.retryLater(wait);
        // What retrying cannot fix (the user blocked the bot, a request Telegram refuses) ends here;
        // anything else (a bug, the database gone) is tried again by the worker.
        if (inner instanceof GrammyError) return turn.failed(`${inner.error_code} ${inner.description}`);
        throw inner;
      } finally {
        turns.delete(updateId);
      }
    },
  };
}
