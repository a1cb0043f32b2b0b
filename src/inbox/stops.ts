import type { Update } from "grammy/types";
import { commandOf } from "../lib/text.ts";

/**
 * Stop requests for answers being written: the stop button under a draft
 * (`stopped_message_generation`) and `/cancel`. Such an update is also an ordinary inbox row,
 * worked in its chat's order, i.e. after the answer it means to stop. So it acts at ingest: the
 * instance that receives it stops the answer it names if it runs it, and (PostgreSQL) notifies the
 * others, one of which may be running it. Who may stop what is decided where the answer runs
 * (ParleyBot.stop): the same access gate as every update, and the answer's author or a chat admin.
 */

/** An answer being written, as a stop request can name it. */
export interface RunningAnswer {
  chatId: number;
  /** Its forum topic, if it is written in one. */
  topicId?: number | undefined;
  /** Who asked for it: theirs to stop. */
  authorId: number;
  /** Private chats: the draft it is shown in (the stop button under a draft names it). */
  draftId?: number | undefined;
}

/** Who asks to stop what: a chat, a topic of it, or one draft. */
export interface StopRequest {
  chatId: number;
  topicId?: number | undefined;
  /** The user asking (the stop button: the private chat's user). */
  user: { id: number; username?: string | undefined };
  /** The stop button: only the answer shown in this draft. */
  draftId?: number | undefined;
  /** An anonymous group admin writes as the group itself. */
  senderChatId?: number | undefined;
}

export interface GenerationStops {
  /** An answer starting: its signal aborts on a stop request; release it when done. */
  register(answer: RunningAnswer): { signal: AbortSignal; release(): void };
  /** The answers running in this process that `request` names, before anyone's rights are checked. */
  named(request: StopRequest): RunningAnswer[];
  /** Stops one of them. True if it was still running. */
  stop(answer: RunningAnswer): boolean;
}

/** Does `request` name `answer`: the same chat and topic, and the same draft if it names one. */
function names(request: StopRequest, answer: RunningAnswer): boolean {
  if (answer.chatId !== request.chatId) return false;
  if (request.draftId !== undefined) return answer.draftId === request.draftId;
  return answer.topicId === request.topicId;
}

export function createGenerationStops(): GenerationStops {
  const running = new Map<RunningAnswer, AbortController>();
  return {
    register(answer) {
      const controller = new AbortController();
      const entry = { ...answer };
      running.set(entry, controller);
      return { signal: controller.signal, release: () => running.delete(entry) };
    },
    named: (request) => [...running.keys()].filter((answer) => names(request, answer)),
    stop(answer) {
      const controller = running.get(answer);
      if (!controller) return false;
      controller.abort(new Error("stopped by the user"));
      running.delete(answer);
      return true;
    },
  };
}

/** What an update asks to stop, or null: the draft's stop button, or /cancel (to this bot). */
export function stopRequestOf(update: Update, botUsername: string): StopRequest | null {
  const stopped = update.stopped_message_generation;
  if (stopped) {
    // Drafts exist in private chats only: the chat is the user's.
    return { chatId: stopped.chat.id, topicId: stopped.message_thread_id, user: { id: stopped.chat.id, username: stopped.chat.username }, draftId: stopped.draft_id };
  }
  const message = update.message;
  const text = message?.text;
  if (!message?.from || !text || commandOf(text, botUsername) !== "cancel") return null;
  return {
    chatId: message.chat.id,
    topicId: message.is_topic_message ? message.message_thread_id : undefined,
    user: { id: message.from.id, username: message.from.username },
    senderChatId: message.sender_chat?.id,
  };
}

/** A stop request passed between instances (NOTIFY): read back, or null if it is not one. */
export function parseStopRequest(payload: string): StopRequest | null {
  try {
    const value = JSON.parse(payload) as Partial<StopRequest>;
    const id = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v);
    const optionalId = (v: unknown) => v === undefined || id(v);
    if (!id(value.chatId) || !id(value.user?.id) || !optionalId(value.topicId) || !optionalId(value.draftId) || !optionalId(value.senderChatId)) return null;
    const username = typeof value.user!.username === "string" ? value.user!.username : undefined;
    return { chatId: value.chatId!, topicId: value.topicId, user: { id: value.user!.id, username }, draftId: value.draftId, senderChatId: value.senderChatId };
  } catch {
    return null;
  }
}
