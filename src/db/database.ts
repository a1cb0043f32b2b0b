import type { ColumnType, Generated, GeneratedAlways } from "kysely";

/**
 * Table types, as the database returns them. Telegram ids are 64-bit: `bigint` columns come
 * back as JS `bigint` from both pg and PGlite (see connection.ts) and accept numbers on write.
 */
type Int8 = ColumnType<bigint, bigint | number, bigint | number>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type MessageRole = "system" | "user" | "assistant";

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
}

export interface Database {
  users: UsersTable;
  chats: ChatsTable;
  messages: MessagesTable;
}
