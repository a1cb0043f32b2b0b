import { sql, type Kysely, type Transaction } from "kysely";
import type { Database, MessageRole } from "./database.ts";

type Id = number | bigint;

export interface ChatInfo {
  id: Id;
  type: string;
  title: string | null;
}

export interface UserInfo {
  id: Id;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
}

export interface HistoryMessage {
  id: bigint;
  role: MessageRole;
  content: string;
  charLength: number;
  userId: bigint | null;
  /** The author's first name (user turns only), so the model can tell group members apart. */
  authorName: string | null;
  createdAt: Date;
}

export interface HistoryBudget {
  maxMessages: number;
  maxChars: number;
}

/** How a turn ended: with an answer to store, or failed (the user's message is kept out of context). */
export type TurnResult = { answer: string } | { failed: string };

export interface MessageRepository {
  /**
   * Ends the generation step of a turn in one statement: upserts the chat and the user, stores
   * the user's message and (on success) the answer, and moves the inbox row on (answered, or
   * failed). Nothing is written unless `owner` still holds the row's lease: returns null then.
   * A failed turn's message is stored with in_context = false, so the model never sees it again.
   */
  recordTurn(input: {
    updateId: Id;
    owner: string;
    chat: ChatInfo;
    user: UserInfo;
    content: string;
    telegramMessageId: Id;
    result: TurnResult;
  }): Promise<{ answerId: bigint | null } | null>;
  /**
   * The chat's newest live, in-context messages within the budget, returned oldest first:
   * the longest run of newest messages that fits both limits; a message is never cut.
   */
  recentHistory(chatId: Id, budget: HistoryBudget): Promise<HistoryMessage[]>;
  /** Soft-deletes the chat's live messages; returns how many. Nothing is removed. */
  clearHistory(chatId: Id): Promise<number>;
}

type Executor = Kysely<Database> | Transaction<Database>;

export function createMessageRepository(db: Executor): MessageRepository {
  return {
    async recordTurn({ updateId, owner, chat, user, content, telegramMessageId, result }) {
      const answer = "answer" in result ? result.answer : null;
      // Data-modifying CTEs run as one statement, atomically; `owned` locks the inbox row and
      // proves the lease, and every insert selects from it, so a lost lease writes nothing. The
      // answer is inserted from the user message's RETURNING, so its id (and order) comes after.
      const { rows } = await sql<{ answer_id: bigint | null }>`
        with owned as (
          select update_id from inbox
          where update_id = ${BigInt(updateId)} and lease_owner = ${owner} and state = 'working'
          for update
        ), chat_upsert as (
          insert into chats (id, type, title, updated_at)
          select ${BigInt(chat.id)}, ${chat.type}, ${chat.title}, now() from owned
          on conflict (id) do update set type = excluded.type, title = excluded.title, updated_at = excluded.updated_at
          -- rewrite the row only when something changed: no dead tuple per message
          where (chats.type, chats.title) is distinct from (excluded.type, excluded.title)
        ), user_upsert as (
          insert into users (id, username, first_name, last_name, updated_at)
          select ${BigInt(user.id)}, ${user.username}, ${user.firstName}, ${user.lastName}, now() from owned
          on conflict (id) do update set username = excluded.username, first_name = excluded.first_name,
            last_name = excluded.last_name, updated_at = excluded.updated_at
          where (users.username, users.first_name, users.last_name)
            is distinct from (excluded.username, excluded.first_name, excluded.last_name)
        ), question as (
          insert into messages (chat_id, user_id, role, content, telegram_message_id, in_context)
          select ${BigInt(chat.id)}, ${BigInt(user.id)}, 'user', ${content}, ${BigInt(telegramMessageId)}, ${answer !== null}
          from owned
          on conflict (chat_id, telegram_message_id) where telegram_message_id is not null do nothing
          returning id
        ), answer as (
          insert into messages (chat_id, user_id, role, content, reply_to_id)
          select ${BigInt(chat.id)}, null, 'assistant', ${answer}, question.id from question
          where ${answer}::text is not null
          returning id
        )
        update inbox set
          state = ${answer === null ? "failed" : "answered"},
          user_message_id = (select id from question),
          answer_id = (select id from answer),
          error = ${"failed" in result ? result.failed : null},
          -- a failed turn is over here: its notice is best-effort
          ${answer === null ? sql`lease_owner = null, lease_until = null, payload = null, finished_at = now()` : sql`finished_at = null`}
        where update_id = ${BigInt(updateId)} and exists (select 1 from owned)
        returning answer_id
      `.execute(db);
      const row = rows[0];
      return row ? { answerId: row.answer_id } : null;
    },

    async recentHistory(chatId, { maxMessages, maxChars }) {
      if (maxMessages <= 0 || maxChars < 0) return [];
      // Newest first (by time, then id) through messages_live_history_idx, at most maxMessages
      // rows; a running sum of char_length over that order keeps the longest prefix within maxChars.
      const newest = db
        .selectFrom("messages")
        .select(["id", "user_id", "role", "content", "char_length", "created_at"])
        .where("chat_id", "=", BigInt(chatId))
        .where("deleted_at", "is", null)
        .where("in_context", "=", true)
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(maxMessages);
      const withTotals = db
        .selectFrom(newest.as("newest"))
        .selectAll("newest")
        .select((eb) => [
          eb.fn
            .sum<number>("char_length")
            .over((ob) => ob.orderBy("created_at", "desc").orderBy("id", "desc"))
            .as("running_chars"),
        ]);
      const rows = await db
        .selectFrom(withTotals.as("m"))
        .leftJoin("users", "users.id", "m.user_id")
        .select([
          "m.id",
          "m.role",
          "m.content",
          "m.char_length",
          "m.user_id",
          "m.created_at",
          "users.first_name",
        ])
        .where("m.running_chars", "<=", maxChars)
        .orderBy("m.created_at", "asc")
        .orderBy("m.id", "asc")
        .execute();
      return rows.map((r) => ({
        id: r.id,
        role: r.role,
        content: r.content,
        charLength: r.char_length,
        userId: r.user_id,
        authorName: r.role === "user" ? r.first_name : null,
        createdAt: r.created_at,
      }));
    },

    async clearHistory(chatId) {
      const result = await db
        .updateTable("messages")
        .set({ deleted_at: sql<Date>`now()` })
        .where("chat_id", "=", BigInt(chatId))
        .where("deleted_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}
