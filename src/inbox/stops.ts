import type { Update } from "grammy/types";

/**
 * Stop requests for answers being written: the stop button under a draft
 * (`stopped_message_generation`) and `/cancel`. Such an update is also an ordinary inbox row,
 * worked in its chat's order, i.e. after the answer it means to stop. So it acts at ingest: the
 * instance that receives it stops the chat's generation if it runs one, and (PostgreSQL) notifies
 * the others, one of which may be running it.
 */
export interface GenerationStops {
  /** A generation starting in a chat: its signal aborts on a stop request; release it when done. */
  register(chatId: number): { signal: AbortSignal; release(): void };
  /** Stops the chat's running generation in this process. True if there was one. */
  stop(chatId: number): boolean;
}

export function createGenerationStops(): GenerationStops {
  const running = new Map<number, AbortController>();
  return {
    register(chatId) {
      const controller = new AbortController();
      running.set(chatId, controller);
      return {
        signal: controller.signal,
        release: () => running.get(chatId) === controller && running.delete(chatId),
      };
    },
    stop(chatId) {
      const controller = running.get(chatId);
      if (!controller) return false;
      controller.abort(new Error("stopped by the user"));
      running.delete(chatId);
      return true;
    },
  };
}

/** The chat whose answer an update asks to stop, or null: the draft's stop button or /cancel. */
export function stopRequestOf(update: Update, botUsername: string): number | null {
  if (update.stopped_message_generation) return update.stopped_message_generation.chat.id;
  const text = update.message?.text;
  if (!text) return null;
  const command = /^\/cancel(?:@(\w+))?(?:\s|$)/i.exec(text);
  if (!command || (command[1] && command[1].toLowerCase() !== botUsername.toLowerCase())) return null;
  return update.message!.chat.id;
}
