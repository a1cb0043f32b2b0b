/**
 * When an answer is shown: the typing indicator, the preview's pace as the model writes, and the
 * final answer or a notice at the end. What is shown where is answer-messages.ts's.
 */
import type { Api } from "grammy";
import type { Logger } from "pino";
import type { DeliveryProgress } from "../../domain/delivery.ts";
import { previewText, richPreview } from "../markdown/render.ts";
import type { RichSupport } from "../rich.ts";
import { SendShed } from "../budget.ts";
import { cleanText } from "../../lib/text.ts";
import { createAnswerMessages } from "./answer-messages.ts";

export interface LiveReplyOptions {
  /** For the final answer: its sends wait for a slot of the bot's budget (telegram/budget.ts). */
  api: Api;
  /** For previews, drafts and the typing indicator: never wait, dropped under pressure or on a 429. */
  previewApi: Api;
  /** How far an earlier attempt got delivering this answer. */
  resume?: DeliveryProgress | null | undefined;
  chatId: number;
  /** Forum topic of the user's message, so the answer lands in the same topic. */
  threadId?: number | undefined;
  /** Quote the user's message (groups), so it is clear whom the answer is for. */
  replyToMessageId?: number | undefined;
  /** Classic previews: at most one send/edit per interval; the first waits one interval too. */
  intervalMs: number;
  /** Rich messages, while the Bot API server has them. Absent: classic text + entities only. */
  rich?: RichSupport | undefined;
  /**
   * Private chats: stream the answer as a draft (animated, with a stop button) `firstAfterMs`
   * after its first text (an answer complete by then arrives as one message, no draft), then at
   * most one draft per `intervalMs`. Absent (groups): a rich preview message, edited at most once
   * per `groupIntervalMs`, Telegram's pace for groups.
   */
  draft?: { id: number; intervalMs: number; firstAfterMs?: number } | undefined;
  groupIntervalMs?: number | undefined;
  logger: Logger;
}

/**
 * One answer as the user sees it: a typing indicator while waiting, then the answer growing as
 * the model writes, then the final answer, split into as many messages as it needs.
 *
 * - Rich (Bot API 10.1), private chat: a draft from the first text, with a stop button; then the
 *   answer as rich messages.
 * - Rich, group: one rich message, edited at the group pace; then edited into the final answer.
 * - Classic (the server has no rich messages, or TELEGRAM_RICH_MESSAGES=off): a plain preview
 *   message edited at most once per interval, then formatted text + entities.
 */
export interface LiveReply {
  update(textSoFar: string): void;
  finish(markdown: string): Promise<void>;
  /** Ends with a short notice instead of (or after the partial) answer. */
  fail(notice: string): Promise<void>;
  /** Ends without sending anything. */
  cancel(): Promise<void>;
  /** What has reached the user so far: resume a failed finish() from here. */
  progress(): DeliveryProgress;
}

const TYPING_EVERY_MS = 4_500;
const GROUP_INTERVAL_MS = 3_000;

/** Telegram shows "typing…" for 5 s or until the bot's next message: sent again every 4.5 s until stopped. */
function startTyping(previewApi: Api, chatId: number, thread: { message_thread_id?: number }, logger: Logger): () => void {
  const sendTyping = () => {
    previewApi.sendChatAction(chatId, "typing", thread).catch((error: unknown) => {
      logger.debug({ err: error }, "typing indicator failed");
    });
  };
  sendTyping();
  const typing = setInterval(sendTyping, TYPING_EVERY_MS);
  return () => clearInterval(typing);
}

export function createLiveReply(options: LiveReplyOptions): LiveReply {
  const { previewApi, chatId, logger, intervalMs, rich, draft } = options;
  const groupIntervalMs = options.groupIntervalMs ?? GROUP_INTERVAL_MS;
  const stopTyping = startTyping(previewApi, chatId, options.threadId === undefined ? {} : { message_thread_id: options.threadId }, logger);
  const { api, threadId, replyToMessageId, resume } = options;
  const messages = createAnswerMessages({ api, previewApi, chatId, threadId, replyToMessageId, resume, rich, logger, onFirstMessage: stopTyping });
  /** The newest text of the answer, not yet shown. */
  let latest = "";
  let lastFlushAt = Date.now(); // classic: the first preview waits one interval, so quick answers arrive whole
  let flushes = 0;
  let timer: NodeJS.Timeout | undefined;
  /** Previews in flight, one after another; the end waits for them. */
  let queue: Promise<void> = Promise.resolve();
  let finished = false;

  const flushPreview = async () => {
    if (finished) return;
    lastFlushAt = Date.now();
    flushes++;
    try {
      if (!messages.rich()) await messages.previewClassic(previewText(cleanText(latest)));
      else if (draft) await messages.draft(draft.id, richPreview(cleanText(latest)));
      else await messages.previewRich(richPreview(cleanText(latest)));
    } catch (error) {
      if (rich?.lacks(error)) return flushPreview();
      // A lost preview is harmless: the final answer is delivered (and retried) separately. One
      // dropped to spare Telegram's budget is expected under load.
      if (error instanceof SendShed) logger.debug("a preview was dropped: the bot is near Telegram's limits");
      else logger.warn({ err: error }, "could not update the answer preview");
    }
  };

  const settle = async () => {
    finished = true;
    clearTimeout(timer);
    await queue;
    stopTyping();
  };

  return {
    update(textSoFar) {
      if (finished) return;
      latest = textSoFar;
      if (timer) return;
      let wait: number;
      if (!messages.rich()) wait = lastFlushAt + intervalMs - Date.now();
      else if (draft) wait = flushes === 0 ? (draft.firstAfterMs ?? 0) : lastFlushAt + draft.intervalMs - Date.now();
      else wait = lastFlushAt + (flushes === 0 ? intervalMs : groupIntervalMs) - Date.now();
      timer = setTimeout(() => {
        timer = undefined;
        queue = queue.then(flushPreview);
      }, Math.max(0, wait));
    },

    async finish(markdown) {
      await settle();
      await messages.deliver(markdown);
    },

    async fail(notice) {
      await settle();
      await messages.send(notice);
    },

    cancel: settle,
    progress: messages.progress,
  };
}
