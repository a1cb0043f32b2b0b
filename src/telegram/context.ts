import type { Context } from "grammy";
import type { Place } from "../dialogue/conversation.ts";
import type { Turn } from "../inbox/turn.ts";
import type { Texts } from "./texts.ts";

/**
 * grammY's context, plus the inbox row the update came from (set for every update the inbox runs)
 * and what the bot says, in the language of the user the update is from.
 */
export type ParleyContext = Context & {
  turn?: Turn;
  texts: Texts;
  /** The user sends faster than USER_MESSAGES_PER_MINUTE: the update is kept but not acted on (tell: say so, once). */
  overRate?: { tell: boolean };
  /** The callback data of an inline button in this chat that carries `data`: signed (buttons.ts). */
  button(data: string): string;
};

/** Reply options that quote the user's message in groups (so it is clear whom a reply is for). */
export const quoteInGroups = (ctx: ParleyContext): { reply_parameters?: { message_id: number } } =>
  ctx.chat?.type !== "private" && ctx.msg ? { reply_parameters: { message_id: ctx.msg.message_id } } : {};

/** Who asks to change the chat's settings, as the settings policy needs to know it. */
export const settingsRequester = (ctx: ParleyContext) => ({
  chatType: ctx.chat?.type ?? "private",
  chatId: ctx.chat?.id ?? 0,
  userId: ctx.from?.id ?? 0,
  senderChatId: ctx.msg?.sender_chat?.id,
});

/** A button pressed longer than `seconds` after the bot sent its message. */
export const buttonExpired = (ctx: ParleyContext, seconds: number) => Date.now() / 1000 - (ctx.callbackQuery?.message?.date ?? 0) > seconds;

/** The forum topic a message was written in (undefined outside topics: a reply's thread is no topic). */
export const topicOf = (msg: ParleyContext["msg"]): number | undefined => (msg?.is_topic_message ? msg.message_thread_id : undefined);

/** Where the update was written, as memory sees it: the chat, its forum topic, who wrote. */
export const placeOf = (ctx: ParleyContext): Place => ({
  chatId: ctx.chat?.id ?? 0,
  topicId: topicOf(ctx.msg),
  userId: ctx.from?.id ?? 0,
  isGroup: (ctx.chat?.type ?? "private") !== "private",
});
