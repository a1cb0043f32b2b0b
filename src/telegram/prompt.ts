/**
 * What a message asks the bot, as the model should read it: the text or caption, the mention
 * removed, a reply's quote, or null when a group message is not for the bot. Read by the chat
 * feature (to answer) and by the gate (to keep what an over-rate user meant for the bot).
 */
import type { Message, UserFromGetMe } from "grammy/types";

export const isCommand = (message: Pick<Message.TextMessage, "entities">) =>
  message.entities?.some((e) => e.type === "bot_command" && e.offset === 0) ?? false;


/**
 * In a group the bot answers only when spoken to: mentioned by @username or replied to.
 * Returns the text meant for the model (the mention removed), or null when not addressed.
 */
export function addressedText(message: Pick<Message.TextMessage, "text" | "entities" | "reply_to_message">, me: UserFromGetMe): string | null {
  const mention = `@${me.username}`.toLowerCase();
  const mentions = (message.entities ?? []).filter(
    (e) => e.type === "mention" && message.text.slice(e.offset, e.offset + e.length).toLowerCase() === mention,
  );
  if (mentions.length === 0 && message.reply_to_message?.from?.id !== me.id) return null;
  // "@bot what is…" loses the mention; "so, @bot, what…" reads "so, Parley, what…".
  let text = message.text;
  for (const e of [...mentions].sort((a, b) => b.offset - a.offset)) {
    const leading = text.slice(0, e.offset).trim() === "";
    text = text.slice(0, e.offset) + (leading ? "" : me.first_name) + text.slice(e.offset + e.length);
  }
  return text.trim().replace(/^[,:]\s*/, "");
}

/** The longest quote carried into a turn from the message replied to. */
const QUOTE_MAX_CHARS = 1_000;
/** Media the bot does not read yet: their caption is the prompt, marked with what it came with. */
const UNREAD_MEDIA = ["video", "animation"] as const;

/**
 * What the user asks, as the model should read it, or null when a group message is not for the
 * bot: the text, or a media message's caption (marked with what it came with, which the model
 * does not see yet), and, for a reply, the text replied to as a quote: the part the user selected,
 * or the whole message (not when it is one of the bot's own, which the history already holds).
 */
export function promptOf(message: Message, me: UserFromGetMe, isGroup: boolean): string | null {
  const body = message.text ?? message.caption;
  if (body === undefined) return null;
  const entities = message.text !== undefined ? message.entities : message.caption_entities;
  let text = isGroup ? addressedText({ text: body, entities, reply_to_message: message.reply_to_message }, me) : body;
  if (text === null || text.trim() === "") return text;
  const media = UNREAD_MEDIA.find((kind) => kind in message);
  if (message.text === undefined && media) text = `[${media.replace("_", " ")}] ${text}`;
  const replied = message.reply_to_message;
  const quoted = message.quote?.text ?? (replied && replied.from?.id !== me.id ? (replied.text ?? replied.caption) : undefined);
  if (quoted?.trim()) {
    const cut = quoted.length > QUOTE_MAX_CHARS ? `${quoted.slice(0, QUOTE_MAX_CHARS)}…` : quoted;
    text = `${cut.trim().split("\n").map((line) => `> ${line}`).join("\n")}\n\n${text}`;
  }
  return text;
}

/** Whose words promptOf quotes in a reply (the replied-to message's author), if it quotes someone. */
export function quotedAuthorOf(message: Message, me: UserFromGetMe): number | undefined {
  const replied = message.reply_to_message;
  const author = replied?.from?.id ?? (message.external_reply?.origin.type === "user" ? message.external_reply.origin.sender_user.id : undefined);
  if (author === undefined || author === me.id) return undefined;
  const quoted = message.quote?.text ?? replied?.text ?? replied?.caption;
  return quoted?.trim() ? author : undefined;
}

/**
 * The prompt of a message with a file the bot reads (photo, voice, document…): its caption as
 * promptOf gives it, or "" without one; null when a group message is not for the bot (a caption
 * that does not mention it, and no reply to it).
 */
export function mediaPromptOf(message: Message, me: UserFromGetMe, isGroup: boolean): string | null {
  if (message.caption !== undefined) {
    const prompt = promptOf(message, me, isGroup);
    if (prompt !== null || !isGroup) return prompt ?? "";
  }
  return isGroup && message.reply_to_message?.from?.id !== me.id ? null : "";
}
