/**
 * How a turn's outcome is written. The dialogue decides what a turn wrote (the user's message, the
 * answer or the failure); the inbox, which holds the lease on the update being answered, decides
 * whether the write may happen and ends its row with it. The dialogue knows no rows and no leases:
 * it gets a TurnCommit and hears back Committed or LeaseLost.
 */
import type { ChatInfo } from "./chats.ts";
import type { Id } from "./ids.ts";
import type { AnsweredTurn, Attachment, MessageKind, TurnResult } from "./messages.ts";
import type { UserInfo } from "./people.ts";

/** A turn's generation step as it is stored: the user's message and its result, in one conversation. */
export interface TurnRecord {
  chat: ChatInfo;
  /** Which of the chat's histories the turn belongs to. */
  conversation: string;
  user: UserInfo;
  content: string;
  /** A turn with a file: what it was, and the file (its text is `content`). Default: text. */
  kind?: MessageKind;
  attachment?: Attachment | null;
  telegramMessageId: Id;
  /** The turn quotes another user's message (a reply): whose words the quote holds. */
  quotedUserId?: Id | null;
  result: TurnResult;
}

/** A /retry's outcome: a new answer to the same message (the old one set aside), or a failure. */
export interface RetryRecord {
  turn: AnsweredTurn;
  /** Who asked for the retry: the new answer's tokens are theirs. */
  userId: Id;
  result: TurnResult;
}

/** Written: the answer's id (null when there was none, or the message was already stored: a duplicate). */
export interface Committed {
  kind: "committed";
  answerId: bigint | null;
}
/** Nothing written: another instance holds the update now (this one's lease ran out). */
export interface LeaseLost {
  kind: "lease_lost";
}
export type CommitOutcome = Committed | LeaseLost;

/** Where one turn's outcome is written: the update being answered, as the inbox holds it. */
export interface TurnCommit {
  /** The same for every attempt at this update (an answer written but not stored waits under it). */
  readonly key: string;
  commit(record: TurnRecord): Promise<CommitOutcome>;
  commitRetry(record: RetryRecord): Promise<CommitOutcome>;
}
