import type { ColumnType, Generated, GeneratedAlways } from "kysely";
import type { DeliveryProgress } from "../domain/delivery.ts";
import type { AttachmentKind, MessageKind, MessageRole } from "../domain/messages.ts";

/**
 * Table types, as the database returns them. Telegram ids are 64-bit: `bigint` columns come
 * back as JS `bigint` from both pg and PGlite (see connection.ts) and accept numbers on write.
 */
type Int8 = ColumnType<bigint, bigint | number, bigint | number>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface UsersTable {
  id: ColumnType<bigint, bigint | number, never>;
  username: string | null;
  first_name: string | null;
  last_name: string | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface ChatsTable {
  id: ColumnType<bigint, bigint | number, never>;
  type: string;
  title: string | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface MessagesTable {
  id: GeneratedAlways<bigint>;
  chat_id: Int8;
  user_id: ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
  role: MessageRole;
  content: string;
  /** Always PostgreSQL's char_length(content): a generated column, never written by the app. */
  char_length: GeneratedAlways<number>;
  telegram_message_id: ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
  created_at: Generated<Date>;
  deleted_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** False for a user turn whose answer failed: kept, but never sent to the model again. */
  in_context: Generated<boolean>;
  /** For an answer: the user message it answers (at most one live answer each). */
  reply_to_id: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
  /** Answers only: the model that wrote it and the tokens it cost (estimated if the server gave none). */
  model: Nullable<string>;
  prompt_tokens: Nullable<number>;
  completion_tokens: Nullable<number>;
  usage_estimated: Nullable<boolean>;
  /** An answer the user stopped: the text as it was then. */
  interrupted: Generated<boolean>;
  /** A user message edited in Telegram: when (its content is the edited text). */
  edited_at: Nullable<Date | string>;
  /** Which history of the chat: "" its own, "t<topic>" a forum topic's, "u<user>" a member's (see dialogue/conversation.ts). */
  conversation: ColumnType<string, string | undefined, string>;
  /** What a user turn was: text, or a file whose text (caption, transcript, contents) is `content`. */
  kind: ColumnType<MessageKind, MessageKind | undefined, MessageKind>;
  /** A user turn that quotes another user's message: whose words the quote holds (their /forget erases it). */
  quoted_user_id: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
}

/** A file of a stored turn, by Telegram's reference (the bytes are not kept). */
export interface AttachmentsTable {
  id: GeneratedAlways<bigint>;
  message_id: Int8;
  kind: AttachmentKind;
  file_id: string;
  file_unique_id: string;
  mime_type: Nullable<string>;
  file_size: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
  width: Nullable<number>;
  height: Nullable<number>;
  duration: Nullable<number>;
  file_name: Nullable<string>;
  created_at: Generated<Date>;
}

/** A chat's own settings, kept through /clear. */
export interface ChatSettingsTable {
  chat_id: ColumnType<bigint, bigint | number, bigint | number>;
  system_prompt: Nullable<string>;
  model: Nullable<string>;
  /** Groups: null, one shared history; "member", one per member. */
  history_mode: Nullable<string>;
  updated_by: Nullable<bigint | number>;
  /** Who wrote system_prompt (their /forget erases it). */
  system_prompt_by: Nullable<bigint | number>;
  updated_at: Generated<Date>;
}

/** An admin's decision about a user id ("123") or a lower-cased "@username"; overrides ALLOWED_USERS. */
export interface AccessRulesTable {
  subject: string;
  allowed: boolean;
  changed_by: Int8;
  changed_at: Generated<Date>;
}

/** Answers and tokens per user, UTC day and model: kept when messages are cleared or erased. */
export interface UsageDailyTable {
  user_id: Int8;
  day: ColumnType<string, string, never>;
  model: string;
  messages: Generated<number>;
  prompt_tokens: ColumnType<bigint, bigint | number | undefined, bigint | number>;
  completion_tokens: ColumnType<bigint, bigint | number | undefined, bigint | number>;
  audio_seconds: Generated<number>;
}

/** A user's charges on a UTC day, reservations included: where daily limits are checked and charged. */
export interface UsageLedgerTable {
  user_id: Int8;
  day: ColumnType<string, string, never>;
  messages: Generated<number>;
  tokens: ColumnType<bigint, bigint | number | undefined, bigint | number>;
  audio_seconds: Generated<number>;
  told: Generated<boolean>;
}

/** The instances working this database, and when each was last seen. */
export interface InstancesTable {
  owner: string;
  seen_at: Generated<Date>;
}

/** received → working (leased) → answered → delivered; or failed; or done (nothing to answer). */
export type InboxState = "received" | "working" | "answered" | "delivered" | "failed" | "done";
export const UNFINISHED_STATES = ["received", "working", "answered"] as const satisfies InboxState[];

type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

export interface InboxTable {
  update_id: ColumnType<bigint, bigint | number, never>;
  chat_id: ColumnType<bigint | null, bigint | number | null, never>;
  thread_id: ColumnType<bigint | null, bigint | number | null, never>;
  message_id: ColumnType<bigint | null, bigint | number | null, never>;
  payload: ColumnType<unknown, string, string | null>;
  state: ColumnType<InboxState, InboxState | undefined, InboxState>;
  attempts: ColumnType<number, never, number>;
  lease_owner: Nullable<string>;
  lease_until: Nullable<Date | string>;
  not_before: Nullable<Date | string>;
  user_message_id: Nullable<bigint | number>;
  answer_id: Nullable<bigint | number>;
  delivery: ColumnType<DeliveryProgress | null, never, string | null>;
  error: Nullable<string>;
  received_at: Generated<Date>;
  finished_at: Nullable<Date | string>;
}

export interface Database {
  users: UsersTable;
  chats: ChatsTable;
  messages: MessagesTable;
  inbox: InboxTable;
  access_rules: AccessRulesTable;
  usage_daily: UsageDailyTable;
  chat_settings: ChatSettingsTable;
  attachments: AttachmentsTable;
  usage_ledger: UsageLedgerTable;
  instances: InstancesTable;
}
