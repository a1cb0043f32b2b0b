import type { ClaimedUpdate, InboxRepository } from "../db/inbox.repository.ts";
import type { DeliveryProgress } from "../domain/delivery.ts";
import { END_RETRY_MS, retryWrite } from "../lib/retry.ts";
import type { Logger } from "../logger.ts";

/**
 * One leased inbox row as a handler sees it: what is already stored of it, and the ways to end
 * it. Every end is conditional on this instance still holding the lease.
 */
export interface Turn {
  readonly updateId: bigint;
  readonly owner: string;
  readonly attempts: number;
  /** An answer stored by an earlier attempt, still to be delivered (not to be generated again). */
  readonly answer: { id: bigint; content: string } | null;
  readonly delivery: DeliveryProgress | null;
  /** True once the row was finished or released. */
  readonly ended: boolean;
  /** The answer reached the user. */
  delivered(): Promise<void>;
  /** Nothing (more) to answer: a command, chatter, a failure already told. */
  done(): Promise<void>;
  failed(reason: string): Promise<void>;
  /** Try again later: from scratch if unanswered, the delivery only (from `delivery`) if answered. */
  retryLater(delayMs: number, delivery?: DeliveryProgress): Promise<void>;
  /** The row was already ended in the database with the turn's record (a failed turn): nothing to write. */
  endedByRecord(): void;
  /**
   * The rest of the turn (the model's answer and its delivery), run once the update's handlers
   * have returned: each middleware layer a handler runs inside stays suspended for as long as the
   * handler waits, and a turn waits for the model for seconds (about 35 suspended frames, with their
   * closures and promises, per turn in flight).
   */
  continueWith(rest: () => Promise<void>): void;
  /** What continueWith left to run, taken once (undefined if nothing). */
  takeRest(): (() => Promise<void>) | undefined;
}


/**
 * `onNext` is called when the turn's end may have made work runnable (its chat's next update), so
 * the worker looks at once instead of claiming after every turn.
 */
export function createTurn(row: ClaimedUpdate, inbox: InboxRepository, owner: string, logger: Logger, onNext: () => void): Turn {
  let ended = false;
  let rest: (() => Promise<void>) | undefined;
  const finish = async (state: "delivered" | "done" | "failed", reason?: string) => {
    const { held, chatHasMore } = await inbox.finish(row.updateId, owner, state, reason);
    if (chatHasMore) onNext();
    return held;
  };
  const end = async (action: () => Promise<boolean>) => {
    ended = true;
    const kept = await retryWrite(action, END_RETRY_MS, (error, attempt) =>
      logger.warn({ err: error, attempt }, "could not record how the turn ended; retrying"),
    );
    if (!kept) logger.warn("the turn was taken over by another instance before it ended here");
  };
  return {
    updateId: row.updateId,
    owner,
    attempts: row.attempts,
    answer: row.answer,
    delivery: row.delivery,
    get ended() {
      return ended;
    },
    delivered: () => end(() => finish("delivered")),
    done: () => end(() => finish("done")),
    failed: (reason) => end(() => finish("failed", reason)),
    endedByRecord: () => {
      ended = true;
      onNext();
    },
    continueWith: (work) => {
      if (rest) throw new Error("a turn has one rest");
      rest = work;
    },
    takeRest: () => {
      const work = rest;
      rest = undefined;
      return work;
    },
    retryLater: (delayMs, delivery) =>
      end(async () => {
        const held = await inbox.release(row.updateId, owner, { delayMs, ...(delivery ? { delivery } : {}) });
        if (delayMs === 0) onNext();
        return held;
      }),
  };
}
