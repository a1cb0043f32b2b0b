import { GrammyError, type Api } from "grammy";
import type { MessageEntity } from "grammy/types";
import type { Logger } from "pino";
import type { DeliveryProgress } from "../db/database.ts";
import { formatAnswer, previewText, type FormattedText } from "./format.ts";

export interface LiveReplyOptions {
  /** For the final answer (with auto-retry for short flood waits). */
  api: Api;
  /** For previews and the typing indicator: no retries, a preview that meets a 429 is dropped. */
  previewApi: Api;
  /** How far an earlier attempt got delivering this answer. */
  resume?: DeliveryProgress | null | undefined;
  chatId: number;
  /** Forum topic of the user's message, so the answer lands in the same topic. */
  threadId?: number | undefined;
  /** Quote the user's message (groups), so it is clear whom the answer is for. */
  replyToMessageId?: number | undefined;
  /** At most one preview send/edit per interval (Telegram allows about one per second). */
  intervalMs: number;
  logger: Logger;
}

/**
 * One answer as the user sees it: a typing indicator while waiting, then a message that grows as
 * the model writes (plain text, edited at most once per interval), then the final formatted
 * answer, split into as many messages as it needs.
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

const isBadRequest = (error: unknown, pattern?: RegExp): error is GrammyError =>
  error instanceof GrammyError && error.error_code === 400 && (!pattern || pattern.test(error.description));

const NOT_MODIFIED = /message is not modified/i;
const CANNOT_EDIT = /message to edit not found|message can't be edited|MESSAGE_ID_INVALID/i;
const TYPING_EVERY_MS = 4_500;

export function createLiveReply(options: LiveReplyOptions): LiveReply {
  const { api, previewApi, chatId, logger, intervalMs } = options;
  const thread = options.threadId === undefined ? {} : { message_thread_id: options.threadId };
  let messageId: number | undefined = options.resume?.previewMessageId;
  let partsSent = options.resume?.parts ?? 0;
  let shown = "";
  let latest = "";
  let lastFlushAt = Date.now(); // the first preview waits one interval: quick answers arrive whole
  let timer: NodeJS.Timeout | undefined;
  let queue: Promise<void> = Promise.resolve();
  let finished = false;

  const sendTyping = () => {
    previewApi.sendChatAction(chatId, "typing", thread).catch((error: unknown) => {
      logger.debug({ err: error }, "typing indicator failed");
    });
  };
  sendTyping();
  let typing: NodeJS.Timeout | undefined = setInterval(sendTyping, TYPING_EVERY_MS);
  const stopTyping = () => {
    clearInterval(typing);
    typing = undefined;
  };

  const enqueue = (task: () => Promise<void>) => {
    queue = queue.then(task);
  };

  const send = async (text: string, entities: MessageEntity[] = [], via = api) => {
    const replyTo =
      messageId === undefined && partsSent === 0 && options.replyToMessageId !== undefined
        ? { reply_parameters: { message_id: options.replyToMessageId, allow_sending_without_reply: true } }
        : {};
    const sent = await via.sendMessage(chatId, text, { ...thread, ...replyTo, ...(entities.length ? { entities } : {}) });
    if (messageId === undefined) {
      messageId = sent.message_id;
      stopTyping();
    }
  };

  const sendFormatted = async (chunk: FormattedText) => {
    try {
      await send(chunk.text, chunk.entities);
    } catch (error) {
      if (!isBadRequest(error) || chunk.entities.length === 0) throw error;
      logger.warn({ reason: error.description }, "Telegram rejected the formatting; sending plain text");
      await send(chunk.text);
    }
  };

  const edit = async (id: number, chunk: FormattedText, via = api): Promise<void> => {
    if (chunk.text === shown && chunk.entities.length === 0) return;
    try {
      await via.editMessageText(chatId, id, chunk.text, chunk.entities.length ? { entities: chunk.entities } : {});
      shown = chunk.text;
    } catch (error) {
      if (isBadRequest(error, NOT_MODIFIED)) return;
      if (isBadRequest(error, CANNOT_EDIT)) {
        // The user deleted the preview: the answer still arrives, as a new message.
        messageId = undefined;
        return sendFormatted(chunk);
      }
      if (!isBadRequest(error) || chunk.entities.length === 0) throw error;
      logger.warn({ reason: error.description }, "Telegram rejected the formatting; showing plain text");
      return edit(id, { text: chunk.text, entities: [] }, via);
    }
  };

  const flushPreview = async () => {
    const text = previewText(latest);
    if (finished || text === "" || text === shown) return;
    lastFlushAt = Date.now();
    try {
      if (messageId === undefined) {
        await send(text, [], previewApi);
        shown = text;
      } else {
        await edit(messageId, { text, entities: [] }, previewApi);
      }
    } catch (error) {
      // A lost preview is harmless: the final answer is delivered (and retried) separately.
      logger.warn({ err: error }, "could not update the answer preview");
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
      const wait = Math.max(0, lastFlushAt + intervalMs - Date.now());
      timer = setTimeout(() => {
        timer = undefined;
        enqueue(flushPreview);
      }, wait);
    },

    async finish(markdown) {
      await settle();
      const parts = formatAnswer(markdown);
      for (; partsSent < parts.length; partsSent++) {
        const part = parts[partsSent]!;
        if (partsSent === 0 && messageId !== undefined) await edit(messageId, part);
        else await sendFormatted(part);
      }
    },

    async fail(notice) {
      await settle();
      await send(notice);
    },

    cancel: settle,

    progress: () => ({ parts: partsSent, ...(messageId === undefined ? {} : { previewMessageId: messageId }) }),
  };
}
