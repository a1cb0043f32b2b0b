import type { Update } from "grammy/types";
import type { IncomingUpdate } from "../db/inbox.repository.ts";

/** The update kinds the bot asks Telegram for (polling and webhook alike). */
export const ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "stopped_message_generation"] as const;

/**
 * What the inbox needs to know of an update before anything else: its id, and the chat (and
 * forum topic) whose order it belongs to. Updates of one chat are worked strictly in order.
 */
export function toIncoming(update: Update): IncomingUpdate {
  const message = update.message ?? update.edited_message ?? update.channel_post ?? update.edited_channel_post;
  const chatId = message?.chat.id ?? update.callback_query?.message?.chat.id ?? update.stopped_message_generation?.chat.id ?? null;
  const threadId = message?.is_topic_message ? (message.message_thread_id ?? null) : null;
  return { updateId: update.update_id, chatId, threadId, messageId: update.message?.message_id ?? null, payload: update };
}

/** A body Telegram could have sent: an object with a whole, non-negative update_id. */
export function isUpdate(value: unknown): value is Update {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const id = (value as { update_id?: unknown }).update_id;
  return typeof id === "number" && Number.isSafeInteger(id) && id >= 0;
}
