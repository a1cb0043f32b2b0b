import { sql, type Kysely } from "kysely";
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

export interface RecordedUserMessage {
  /** False when this Telegram message was already stored (a re-delivered update). */
  inserted: boolean;
  id: bigint | null;
}

export interface MessageRepository {
  /** Stores a user's turn (and who sent it, in which chat). Idempotent per Telegram message. */
  recordUserMessage(input: {
    chat: ChatInfo;
    user: UserInfo;
    content: string;
    telegramMessageId: Id;
  }): Promise<RecordedUserMessage>;
  recordAssistantMessage(input: { chatId: Id; content: string }): Promise<bigint>;
  /**
   * The chat's newest live messages within the budget, returned oldest first. The newest one is
   * always included, however long; older ones are added while both limits hold, never in part.
   */
  recentHistory(chatId: Id, budget: HistoryBudget): Promise<HistoryMessage[]>;
  /** Soft-deletes the chat's live messages; returns how many. Nothing is removed. */
  clearHistory(chatId: Id): Promise<number>;
}

export function createMessageRepository(db: Kysely<Database>): MessageRepository {
  return {
    async recordUserMessage({ chat, user, content, telegramMessageId }) {
      return db.transaction().execute(async (trx) => {
        await trx
          .insertInto("chats")
          .values({ id: chat.id, type: chat.type, title: chat.title, updated_at: new Date() })
          .onConflict((oc) =>
            oc
              .column("id")
              .doUpdateSet((eb) => ({
                type: eb.ref("excluded.type"),
                title: eb.ref("excluded.title"),
                updated_at: eb.ref("excluded.updated_at"),
              }))
              // Rewrite the row only when something changed: no dead tuple per message.
              .where(sql<boolean>`(chats.type, chats.title) is distinct from (excluded.type, excluded.title)`),
          )
          .execute();
        await trx
          .insertInto("users")
          .values({
            id: user.id,
            username: user.username,
            first_name: user.firstName,
            last_name: user.lastName,
            updated_at: new Date(),
          })
          .onConflict((oc) =>
            oc
              .column("id")
              .doUpdateSet((eb) => ({
                username: eb.ref("excluded.username"),
                first_name: eb.ref("excluded.first_name"),
                last_name: eb.ref("excluded.last_name"),
                updated_at: eb.ref("excluded.updated_at"),
              }))
              .where(
                sql<boolean>`(users.username, users.first_name, users.last_name)
                  is distinct from (excluded.username, excluded.first_name, excluded.last_name)`,
              ),
          )
          .execute();
        const row = await trx
          .insertInto("messages")
          .values({
            chat_id: chat.id,
            user_id: user.id,
            role: "user",
            content,
            telegram_message_id: telegramMessageId,
          })
          .onConflict((oc) =>
            oc
              .columns(["chat_id", "telegram_message_id"])
              .where("telegram_message_id", "is not", null)
              .doNothing(),
          )
          .returning("id")
          .executeTakeFirst();
        return { inserted: row !== undefined, id: row?.id ?? null };
      });
    },

    async recordAssistantMessage({ chatId, content }) {
      const row = await db
        .insertInto("messages")
        .values({ chat_id: chatId, user_id: null, role: "assistant", content })
        .returning("id")
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async recentHistory(chatId, { maxMessages, maxChars }) {
      // Newest first (by time, then id) through messages_live_history_idx, at most maxMessages
      // rows; a running sum of char_length over that order keeps the longest prefix within maxChars.
      const newest = db
        .selectFrom("messages")
        .select(["id", "user_id", "role", "content", "char_length", "created_at"])
        .where("chat_id", "=", BigInt(chatId))
        .where("deleted_at", "is", null)
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(maxMessages);
      const withTotals = db
        .selectFrom(newest.as("newest"))
        .selectAll("newest")
        .select((eb) => [
          eb.fn
            .agg<number>("row_number")
            .over((ob) => ob.orderBy("created_at", "desc").orderBy("id", "desc"))
            .as("position"),
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
        .where((eb) => eb.or([eb("m.position", "=", 1), eb("m.running_chars", "<=", maxChars)]))
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
