/**
 * Chats: a chat as a turn records it, the settings a chat keeps for itself (/system, /model,
 * /mode), and which of a chat's histories a message belongs to (see dialogue/conversation.ts for
 * the keys).
 */
import type { Id } from "./ids.ts";

export interface ChatInfo {
  id: Id;
  type: string;
  title: string | null;
}

export interface ChatSettings {
  /** The chat's own instructions to the model; null: the operator's default. */
  systemPrompt: string | null;
  /** The model the chat chose (/model); null: the operator's default. */
  model: string | null;
  /** Groups: one history per member ("member") or one shared (null, the default). */
  historyMode: string | null;
}

/** One history of a chat (see dialogue/conversation.ts for the keys). */
export interface ConversationRef {
  chatId: Id;
  conversation: string;
}

/** A chat's own history: a private chat's, or a group's shared one outside topics. */
export const wholeChat = (chatId: Id): ConversationRef => ({ chatId, conversation: "" });
