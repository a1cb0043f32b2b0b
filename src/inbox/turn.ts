import type { ClaimedUpdate, InboxRepository } from "../db/inbox.repository.ts";
import type { LeasedRetry, LeasedTurn, TurnCommitRepository } from "../db/turn-commit.repository.ts";
import type { DeliveryProgress } from "../domain/delivery.ts";
import type { CommitOutcome, TurnCommit } from "../domain/turns.ts";
import { batchWhileBusy } from "../lib/batch.ts";
import { END_RETRY_MS, retryWrite } from "../lib/retry.ts";
import type { Logger } from "../logger.ts";

/**
 * One leased inbox row as a handler sees it: what is already stored of it, and the ways to end
 * it. Every end is conditional on this instance still holding the lease, and the turn is the one
 * that decides when its row ends: by one of the ends below, or by a commit of a failed turn (whose
 * statement ends the row with the message), or when its lease is found lost.
 */
export interface Turn extends TurnCommit {
  readonly updateId: bigint;
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


/** The statements that commit turns, shared by every turn of this instance. */
export interface TurnCommits {
  commit(input: LeasedTurn): Promise<{ answerId: bigint | null } | null>;
  commitRetry(input: LeasedRetry): Promise<{ answerId: bigint | null } | null>;
}

/** Turns that end while another is being written (a burst of answers) are written in one statement. */
export function createTurnCommits(repository: TurnCommitRepository): TurnCommits {
  return {
    commit: batchWhileBusy((inputs: readonly LeasedTurn[]) => repository.commitTurns(inputs), { maxInFlight: 2, maxBatchSize: 100 }),
    commitRetry: (input) => repository.commitRetry(input),
  };
}

/**
 * `onNext` is called when the turn's end may have made work runnable (its chat's next update), so
 * the worker looks at once instead of claiming after every turn.
 */
export function createTurn(row: ClaimedUpdate, inbox: InboxRepository, commits: TurnCommits, owner: string, logger: Logger, onNext: () => void): Turn {
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
  const lease = { updateId: row.updateId, owner };
  /** A commit's outcome; the row is over here when the lease was lost, or the commit ended it (a failed turn). */
  const committed = (stored: { answerId: bigint | null } | null, endsRow: boolean): CommitOutcome => {
    if (stored === null || endsRow) {
      ended = true;
      if (stored !== null) onNext();
    }
    return stored === null ? { kind: "lease_lost" } : { kind: "committed", answerId: stored.answerId };
  };
  return {
    updateId: row.updateId,
    key: String(row.updateId),
    attempts: row.attempts,
    answer: row.answer,
    delivery: row.delivery,
    get ended() {
      return ended;
    },
    delivered: () => end(() => finish("delivered")),
    done: () => end(() => finish("done")),
    failed: (reason) => end(() => finish("failed", reason)),
    commit: async (record) => committed(await commits.commit({ ...record, ...lease }), "failed" in record.result),
    commitRetry: async (record) => committed(await commits.commitRetry({ ...record, ...lease }), "failed" in record.result),
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
