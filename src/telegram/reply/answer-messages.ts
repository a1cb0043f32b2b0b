/**
 * The messages one answer lives in, and every call that puts text in them: the preview message
 * (sent, then edited), the draft of a private chat, and the final answer's parts, rich or classic.
 * It knows what the user sees now (`shown`), which message to edit, and how far the final answer
 * got (`progress`, kept by the inbox to resume a delivery from there). When to call it is the live
 * reply's business (live-reply.ts).
 */
import { GrammyError, type Api } from "grammy";
import type { MessageEntity } from "grammy/types";
import type { Logger } from "pino";
import type { DeliveryProgress } from "../../domain/delivery.ts";
import { formatAnswer, splitRichMarkdown, type FormattedText } from "../markdown/render.ts";
import type { RichSupport } from "../rich.ts";
import { TELEGRAM_TEXT_LIMIT } from "../split.ts";

export const isBadRequest = (error: unknown, pattern?: RegExp): error is GrammyError =>
  error instanceof GrammyError && error.error_code === 400 && (!pattern || pattern.test(error.description));

const NOT_MODIFIED = /message is not modified/i;
const CANNOT_EDIT = /message to edit not found|message can't be edited|MESSAGE_ID_INVALID/i;

export interface AnswerMessagesOptions {
  /** For the final answer: its sends wait for a slot of the bot's budget (telegram/budget.ts). */
  api: Api;
  /** For previews and drafts: never wait, dropped under pressure or on a 429. */
  previewApi: Api;
  chatId: number;
  threadId?: number | undefined;
  replyToMessageId?: number | undefined;
  /** How far an earlier attempt got delivering this answer. */
  resume?: DeliveryProgress | null | undefined;
  rich?: RichSupport | undefined;
  /** The answer has a message of its own now (the typing indicator can stop). */
  onFirstMessage(): void;
  logger: Logger;
}

export interface AnswerMessages {
  /** Rich messages, unless the server lacks them or this answer started classic. */
  rich(): boolean;
  /** The preview as plain text: sent, or edited into the preview message. */
  previewClassic(text: string): Promise<void>;
  /** The preview as a rich message: sent, or edited (groups). */
  previewRich(markdown: string): Promise<void>;
  /** The preview as a private chat's draft, with a stop button. */
  draft(draftId: number, markdown: string): Promise<void>;
  /** The final answer, from the part an earlier attempt stopped at; the preview becomes its first part. */
  deliver(markdown: string): Promise<void>;
  /** A short message of its own (a notice). */
  send(text: string): Promise<void>;
  progress(): DeliveryProgress;
}

export function createAnswerMessages(options: AnswerMessagesOptions): AnswerMessages {
  const { api, previewApi, chatId, rich, logger } = options;
  const thread = options.threadId === undefined ? {} : { message_thread_id: options.threadId };
  /** The message the preview is in, and that the final answer's first part replaces. */
  let messageId: number | undefined = options.resume?.previewMessageId;
  let partsSent = options.resume?.parts ?? 0;
  // A resumed delivery goes on in the format it started in (its parts were cut that way).
  let format: "rich" | "classic" | undefined = options.resume ? (options.resume.format ?? "classic") : undefined;
  /** What the preview shows now, and whether as a rich message. */
  let shown = "";
  let shownRich = format === "rich";

  const richNow = () => rich?.enabled === true && format !== "classic";

  const replyTo = () =>
    messageId === undefined && partsSent === 0 && options.replyToMessageId !== undefined
      ? { reply_parameters: { message_id: options.replyToMessageId, allow_sending_without_reply: true } }
      : {};

  const gotMessage = (id: number) => {
    if (messageId === undefined) {
      messageId = id;
      options.onFirstMessage();
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
    if (chunk.text === shown && chunk.entities.length === 0 && !shownRich) return;
    try {
      await via.editMessageText(chatId, id, chunk.text, chunk.entities.length ? { entities: chunk.entities } : {});
      shown = chunk.text;
      shownRich = false;
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
      shownRich = true;
    } catch (error) {
      if (isBadRequest(error, NOT_MODIFIED)) return;
      if (isBadRequest(error, CANNOT_EDIT)) {
        messageId = undefined;
        return sendRich(markdown, via);
      }
      throw error;
    }
  };

  const deliverClassic = async (markdown: string) => {
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

  const deliverRich = async (markdown: string) => {
    format = "rich";
    const parts = await splitRichMarkdown(markdown);
    // Rich messages are for fewer, richer messages: an answer that would need more of them than
    // of classic ones (thousands of tiny blocks, past 500 a message) goes classic, in fewer messages.
    if (partsSent === 0 && parts.length > Math.ceil(markdown.length / TELEGRAM_TEXT_LIMIT) + 1) {
      logger.info({ parts: parts.length }, "an answer of many tiny blocks goes as classic messages");
      return deliverClassic(markdown);
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
          return deliverClassic(markdown);
        }
        if (!isBadRequest(error)) throw error;
        logger.warn({ reason: error.description, part: partsSent }, "Telegram refused a rich message; sending it as classic text");
        await sendPartClassic(part, first);
      }
    }
  };

  return {
    rich: richNow,
    async previewClassic(text) {
      if (text === "" || text === shown) return;
      if (messageId === undefined) {
        await send(text, [], previewApi);
        shown = text;
      } else {
        await edit(messageId, { text, entities: [] }, previewApi);
      }
    },
    async previewRich(markdown) {
      if (markdown === "" || markdown === shown) return;
      if (messageId === undefined) {
        await sendRich(markdown, previewApi);
        shown = markdown;
        shownRich = true;
      } else {
        await editRich(messageId, markdown, previewApi);
      }
    },
    async draft(draftId, markdown) {
      if (markdown === "" || markdown === shown) return;
      await previewApi.sendRichMessageDraft(chatId, draftId, { markdown }, { ...thread, can_stop: true });
      shown = markdown;
      options.onFirstMessage();
    },
    deliver: (markdown) => (richNow() ? deliverRich(markdown) : deliverClassic(markdown)),
    send: (text) => send(text),
    progress: () => ({
      parts: partsSent,
      ...(messageId === undefined ? {} : { previewMessageId: messageId }),
      ...(format === undefined ? {} : { format }),
    }),
  };
}
