/**
 * Telegram cuts a long paste into several messages of up to 4 096 characters, sent a moment
 * apart. Before a turn runs, its message and the ones right after it in the inbox that continue
 * it (the same user and topic, text, within the merge window of the piece before, which was near
 * the limit) become one turn: the first row takes the whole text, the others end as merged, in
 * one statement. While the last piece seen is near the limit and its window is still open, the
 * turn waits for the next piece (holding its lease: a crash hands the row on, unmerged).
 */
import type { Message, Update } from "grammy/types";
import type { ClaimedUpdate, InboxRepository, PendingUpdate } from "../db/inbox.repository.ts";
import type { Logger } from "../logger.ts";

/** A piece this long (UTF-16 units, as Telegram counts) may have been cut by Telegram. */
export const PASTE_PIECE_MIN_CHARS = 3_500;
/** At most this many pieces make one turn (a 40 000-character paste). */
const MAX_PIECES = 10;
/** Messages waiting behind a turn are answered together: by default at most this many, and at most this many characters. */
export const MAX_COALESCED = 10;
export const MAX_COALESCED_CHARS = 8_000;

export interface PasteMergerOptions {
  inbox: InboxRepository;
  owner: string;
  /** PASTE_MERGE_MS: how soon after a piece the next must come; 0 turns merging off. */
  windowMs: number;
  logger: Logger;
  /**
   * Whether a message is for the bot (private chats: all; groups: a mention or a reply to it): only
   * those are answered together. Default: all.
   */
  addressed?: (message: Message) => boolean;
  /** MERGE_WAITING_MAX: at most this many waiting messages answered together (1: none). */
  mergeMax?: number;
  /** Waits, or resolves early when the bot stops (tests pass a fake clock through this). */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface PasteMerger {
  /**
   * The row to run: itself, or with the rest of its paste merged into it, or with the messages its
   * author sent right after it (while the chat's previous turn was answered) merged into it.
   */
  merge(row: ClaimedUpdate): Promise<ClaimedUpdate>;
}

type TextMessage = Message & { text: string };

const textMessageOf = (payload: unknown): TextMessage | undefined => {
  const message = (payload as Update | null)?.message;
  return message?.text !== undefined && !message.entities?.some((e) => e.type === "bot_command" && e.offset === 0) ? (message as TextMessage) : undefined;
};

const nearLimit = (message: TextMessage) => message.text.length >= PASTE_PIECE_MIN_CHARS;

/** `next` continues `piece`: the same author and topic, written within the window (seconds, as Telegram dates them). */
const continues = (piece: TextMessage, next: TextMessage, windowMs: number) =>
  next.from?.id === piece.from?.id &&
  next.message_thread_id === piece.message_thread_id &&
  next.date - piece.date <= Math.ceil(windowMs / 1000) &&
  next.date >= piece.date;

/** The longest run of pending updates, from the first, that make one paste. */
export function pasteRun(pending: readonly PendingUpdate[], windowMs: number): Array<PendingUpdate & { message: TextMessage }> {
  const run: Array<PendingUpdate & { message: TextMessage }> = [];
  for (const update of pending) {
    const message = textMessageOf(update.payload);
    if (!message) break;
    const last = run.at(-1);
    if (last && !(nearLimit(last.message) && continues(last.message, message, windowMs))) break;
    run.push({ ...update, message });
    if (run.length === MAX_PIECES) break;
  }
  return run;
}

/**
 * The run of waiting messages, from the first, that are answered as one turn: text from the same
 * author and topic, each for the bot, up to MAX_COALESCED messages and MAX_COALESCED_CHARS.
 */
export function coalescedRun(pending: readonly PendingUpdate[], addressed: (message: Message) => boolean, max = MAX_COALESCED): Array<PendingUpdate & { message: TextMessage }> {
  const run: Array<PendingUpdate & { message: TextMessage }> = [];
  let chars = 0;
  for (const update of pending) {
    const message = textMessageOf(update.payload);
    if (!message || !addressed(message)) break;
    const first = run[0]?.message;
    if (first && (message.from?.id !== first.from?.id || message.message_thread_id !== first.message_thread_id)) break;
    if (run.length > 0 && (run.length >= max || chars + message.text.length > MAX_COALESCED_CHARS)) break;
    run.push({ ...update, message });
    chars += message.text.length;
  }
  return run;
}

export function createPasteMerger(options: PasteMergerOptions): PasteMerger {
  const { inbox, owner, windowMs, logger } = options;
  const addressed = options.addressed ?? (() => true);
  const mergeMax = options.mergeMax ?? MAX_COALESCED;

  /** Merges `run` (its first is `row`) into `row`, joined by `separator`; the row as it is if another owner took it. */
  const absorbRun = async (row: ClaimedUpdate, run: Array<PendingUpdate & { message: TextMessage }>, separator: string) => {
    const message = { ...run[0]!.message, text: run.map((piece) => piece.message.text).join(separator) };
    const payload = { ...(row.payload as Update), message };
    const absorbed = run.slice(1).map((piece) => piece.updateId);
    if (!(await inbox.absorb(row.updateId, owner, payload, absorbed))) return null; // taken over: its new owner merges
    return { message, row: { ...row, payload } };
  };
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  /** Messages that waited behind the chat's previous turn: answered together, in one turn and one model call. */
  const coalesce = async (row: ClaimedUpdate & { chatId: bigint }): Promise<ClaimedUpdate> => {
    const run = coalescedRun(await inbox.pending(row.chatId, row.updateId, mergeMax), addressed, mergeMax);
    if (run.length < 2 || run[0]!.updateId !== row.updateId) return row;
    const merged = await absorbRun(row, run, "\n\n");
    if (!merged) return row;
    logger.info({ messages: run.length, chars: merged.message.text.length }, "messages that waited behind the previous turn are answered together");
    return merged.row;
  };

  return {
    async merge(row) {
      const first = textMessageOf(row.payload);
      if (row.state !== "working" || row.chatId === null || !first) return row;
      if (windowMs === 0 || !nearLimit(first)) return row.chatHasMore && mergeMax > 1 && addressed(first) ? coalesce({ ...row, chatId: row.chatId }) : row;
      let run = pasteRun(await inbox.pending(row.chatId, row.updateId, MAX_PIECES), windowMs);
      // The last piece near the limit may have a next one on its way: wait for it, until its window closes.
      for (let waits = 0; waits < MAX_PIECES; waits++) {
        const last = run.at(-1)!;
        const left = last.receivedAt.getTime() + windowMs - now();
        if (run.length === MAX_PIECES || !nearLimit(last.message) || left <= 0) break;
        await sleep(left);
        run = pasteRun(await inbox.pending(row.chatId, row.updateId, MAX_PIECES), windowMs);
      }
      if (run.length < 2 || run[0]!.updateId !== row.updateId) return row;
      const merged = await absorbRun(row, run, "\n");
      if (!merged) return row;
      logger.info({ pieces: run.length, chars: merged.message.text.length }, "a long paste, sent in pieces, became one turn");
      return merged.row;
    },
  };
}
