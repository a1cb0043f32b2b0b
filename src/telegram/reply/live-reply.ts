import { GrammyError, type Api } from "grammy";
import type { MessageEntity } from "grammy/types";
import type { Logger } from "pino";
import type { DeliveryProgress } from "../domain/delivery.ts";
import { formatAnswer, previewText, richPreview, splitRichMarkdown, type FormattedText } from "./markdown/render.ts";
import type { RichSupport } from "./rich.ts";
import { SendShed } from "./budget.ts";
import { TELEGRAM_TEXT_LIMIT } from "./split.ts";
import { cleanText } from "../lib/text.ts";

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

const isBadRequest = (error: unknown, pattern?: RegExp): error is GrammyError =>
  error instanceof GrammyError && error.error_code === 400 && (!pattern || pattern.test(error.description));

const NOT_MODIFIED = /message is not modified/i;
const CANNOT_EDIT = /message to edit not found|message can't be edited|MESSAGE_ID_INVALID/i;
const TYPING_EVERY_MS = 4_500;
const GROUP_INTERVAL_MS = 3_000;

export function createLiveReply(options: LiveReplyOptions): LiveReply {
  const { api, previewApi, chatId, logger, intervalMs, rich, draft } = options;
  const groupIntervalMs = options.groupIntervalMs ?? GROUP_INTERVAL_MS;
  const thread = options.threadId === undefined ? {} : { message_thread_id: options.threadId };
  let messageId: number | undefined = options.resume?.previewMessageId;
  let partsSent = options.resume?.parts ?? 0;
  // A resumed delivery goes on in the format it started in (its parts were cut that way).
  let format: "rich" | "classic" | undefined = options.resume ? (options.resume.format ?? "classic") : undefined;
  let previewIsRich = format === "rich";
  let shown = "";
  let latest = "";
  let lastFlushAt = Date.now(); // classic: the first preview waits one interval, so quick answers arrive whole
  let flushes = 0;
  let timer: NodeJS.Timeout | undefined;
  let queue: Promise<void> = Promise.resolve();
  let finished = false;

  const richNow = () => rich?.enabled === true && format !== "classic";

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

  const replyTo = () =>
    messageId === undefined && partsSent === 0 && options.replyToMessageId !== undefined
      ? { reply_parameters: { message_id: options.replyToMessageId, allow_sending_without_reply: true } }
      : {};

  const gotMessage = (id: number) => {
    if (messageId === undefined) {
      messageId = id;
      stopTyping();
    }
  };

  const send = async (text: string, entities: MessageEntity[] = [], via = api) => {
    const sent = await via.sendMessage(chatId, text, { ...thread, ...replyTo(), ...(entities.length ? { entities } : {}) });
    gotMessage(sent.message_id);
  };

  const sendRich = async (markdown: string, via = api) => {
    const sent = await via.sendRichMessage(chatId, { markdown }, { ...thread, ...replyTo() });
    gotMessage(sent.message_id);
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
    if (chunk.text === shown && chunk.entities.length === 0 && !previewIsRich) return;
    try {
      await via.editMessageText(chatId, id, chunk.text, chunk.entities.length ? { entities: chunk.entities } : {});
      shown = chunk.text;
      previewIsRich = false;
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

  const editRich = async (id: number, markdown: string, via = api): Promise<void> => {
    try {
      await via.editMessageText(chatId, id, { markdown });
      shown = markdown;
      previewIsRich = true;
    } catch (error) {
      if (isBadRequest(error, NOT_MODIFIED)) return;
      if (isBadRequest(error, CANNOT_EDIT)) {
        messageId = undefined;
        return sendRich(markdown, via);
      }
      throw error;
    }
  };

  const flushClassic = async () => {
    const text = previewText(cleanText(latest));
    if (text === "" || text === shown) return;
    if (messageId === undefined) {
      await send(text, [], previewApi);
      shown = text;
    } else {
      await edit(messageId, { text, entities: [] }, previewApi);
    }
  };

  const flushRich = async () => {
    const markdown = richPreview(cleanText(latest));
    if (markdown === "" || markdown === shown) return;
    if (draft) {
      await previewApi.sendRichMessageDraft(chatId, draft.id, { markdown }, { ...thread, can_stop: true });
      shown = markdown;
      stopTyping();
    } else if (messageId === undefined) {
      await sendRich(markdown, previewApi);
      shown = markdown;
      previewIsRich = true;
    } else {
      await editRich(messageId, markdown, previewApi);
    }
  };

  const flushPreview = async () => {
    if (finished) return;
    lastFlushAt = Date.now();
    flushes++;
    try {
      if (richNow()) await flushRich();
      else await flushClassic();
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

  const finishClassic = async (markdown: string) => {
    format = "classic";
    const parts = await formatAnswer(markdown);
    for (; partsSent < parts.length; partsSent++) {
      const part = parts[partsSent]!;
      if (partsSent === 0 && messageId !== undefined) await edit(messageId, part);
      else await sendFormatted(part);
    }
  };

  /** One rich part the server refused (a parse error, too long): that part goes classic. */
  const sendPartClassic = async (markdown: string, first: boolean) => {
    const chunks = await formatAnswer(markdown);
    for (const [i, chunk] of chunks.entries()) {
      if (i === 0 && first && messageId !== undefined) await edit(messageId, chunk);
      else await sendFormatted(chunk);
    }
  };

  const finishRich = async (markdown: string) => {
    format = "rich";
    const parts = await splitRichMarkdown(markdown);
    // Rich messages are for fewer, richer messages: an answer that would need more of them than
    // of classic ones (thousands of tiny blocks, past 500 a message) goes classic, in fewer messages.
    if (partsSent === 0 && parts.length > Math.ceil(markdown.length / TELEGRAM_TEXT_LIMIT) + 1) {
      logger.info({ parts: parts.length }, "an answer of many tiny blocks goes as classic messages");
      return finishClassic(markdown);
    }
    for (; partsSent < parts.length; partsSent++) {
      const part = parts[partsSent]!;
      const first = partsSent === 0 && messageId !== undefined;
      try {
        if (first) await editRich(messageId!, part);
        else await sendRich(part);
      } catch (error) {
        if (rich?.lacks(error)) {
          // Only possible before anything rich was sent: the whole answer goes classic.
          partsSent = 0;
          return finishClassic(markdown);
        }
        if (!isBadRequest(error)) throw error;
        logger.warn({ reason: error.description, part: partsSent }, "Telegram refused a rich message; sending it as classic text");
        await sendPartClassic(part, first);
      }
    }
  };

  return {
    update(textSoFar) {
      if (finished) return;
      latest = textSoFar;
      if (timer) return;
      let wait: number;
      if (!richNow()) wait = lastFlushAt + intervalMs - Date.now();
      else if (draft) wait = flushes === 0 ? (draft.firstAfterMs ?? 0) : lastFlushAt + draft.intervalMs - Date.now();
      else wait = lastFlushAt + (flushes === 0 ? intervalMs : groupIntervalMs) - Date.now();
      timer = setTimeout(() => {
        timer = undefined;
        enqueue(flushPreview);
      }, Math.max(0, wait));
    },

    async finish(markdown) {
      await settle();
      if (richNow()) await finishRich(markdown);
      else await finishClassic(markdown);
    },

    async fail(notice) {
      await settle();
      await send(notice);
    },

    cancel: settle,

    progress: () => ({
      parts: partsSent,
      ...(messageId === undefined ? {} : { previewMessageId: messageId }),
      ...(format === undefined ? {} : { format }),
    }),
  };
}
