import { sql } from "kysely";
import type { ConversationRef } from "../domain/chats.ts";
import type { Id } from "../domain/ids.ts";
import type { AnsweredTurn, Attachment, ExportedMessage, HistoryBudget, HistoryMessage, MessageKind, MessageRole } from "../domain/messages.ts";
import type { Executor } from "./executor.ts";

export interface MessageRepository {
  /**
   * The chat's newest live, in-context messages within the budget, returned oldest first:
   * the longest run of newest messages that fits both limits; a message is never cut.
   */
  recentHistory(where: ConversationRef, budget: HistoryBudget): Promise<HistoryMessage[]>;
  /** recentHistory for many conversations in one statement, in the order asked. */
  recentHistories(requests: ReadonlyArray<{ where: ConversationRef; budget: HistoryBudget }>): Promise<HistoryMessage[][]>;
  /**
   * Soft-deletes the conversation's live messages; returns how many, and the mark that names exactly
   * these rows (their common deleted_at, in microseconds since 1970) for restoreCleared. Nothing is removed.
   */
  clearHistory(where: ConversationRef): Promise<{ count: number; mark: string }>;
  /** Undoes one clearHistory: the chat's rows it soft-deleted are live again. Returns how many. */
  restoreCleared(chatId: Id, mark: string): Promise<number>;
  /** The histories (conversation keys) of the chat that one clearHistory set aside, live or not. */
  clearedConversations(chatId: Id, mark: string): Promise<string[]>;
  /**
   * A group became a supergroup (a new chat id): its history moves to the new id, in one
   * statement. Telegram message ids start over in the new chat, so the moved rows forget theirs.
   * Returns how many messages moved (0 when already moved).
   */
  moveChat(fromChatId: Id, toChatId: Id): Promise<number>;
  /**
   * The user edited a message in Telegram: its stored turn takes the new text (content,
   * char_length, edited_at). Returns the stored message's id and conversation, or null if it was
   * never stored (chatter, a command) or is deleted.
   */
  editUserMessage(chatId: Id, telegramMessageId: Id, content: string): Promise<{ id: bigint; conversation: string } | null>;
  /** The conversation's latest live answer and the user message it answers: what /retry regenerates. */
  latestAnswered(where: ConversationRef): Promise<AnsweredTurn | null>;
  /** Every live message of the conversation, oldest first, with authors: what /export sends. */
  liveMessages(where: ConversationRef): Promise<ExportedMessage[]>;
  /** The chat's latest answer: whether the user stopped it, and when it was stored. */
  latestAnswer(chatId: Id): Promise<{ interrupted: boolean; createdAt: Date } | null>;
  /** Deletes up to `limit` messages soft-deleted more than `days` days ago; returns how many. */
  purgeDeleted(days: number, limit: number): Promise<number>;
}

/**
 * The attachment of the message `alias` (as an Attachment), or null. Text turns (nearly all) have
 * none and are not looked up: CASE evaluates the subquery only for the others.
 */
const attachmentColumn = (alias: string) => sql<Attachment | null>`case when ${sql.ref(`${alias}.kind`)} <> 'text' then (
    select jsonb_build_object('kind', a.kind, 'fileId', a.file_id, 'fileUniqueId', a.file_unique_id, 'mimeType', a.mime_type,
      'fileSize', a.file_size, 'width', a.width, 'height', a.height, 'duration', a.duration, 'fileName', a.file_name)
    from attachments a where a.message_id = ${sql.ref(`${alias}.id`)} order by a.id limit 1
  ) end`;

export function createMessageRepository(db: Executor): MessageRepository {
  const repository: MessageRepository = {
    async recentHistory(where, budget) {
      return (await repository.recentHistories([{ where, budget }]))[0]!;
    },

    async recentHistories(requests) {
      const histories: HistoryMessage[][] = requests.map(() => []);
      const asked = requests.map((r, index) => ({ ...r, index })).filter(({ budget }) => budget.maxMessages > 0 && budget.maxChars >= 0);
      if (asked.length === 0) return histories;
      // Per conversation, newest first (by time, then id) through messages_conversation_history_idx, at most
      // maxMessages rows; a running sum of char_length over that order keeps the longest prefix
      // within maxChars. One statement for all the chats asked (a lateral join per chat).
      const { rows } = await sql<{
        ord: number;
        id: bigint;
        role: MessageRole;
        kind: MessageKind;
        attachment: Attachment | null;
        content: string;
        char_length: number;
        user_id: bigint | null;
        created_at: Date;
        first_name: string | null;
      }>`
        select r.ord::int as ord, m.id, m.role, m.kind, ${attachmentColumn("m")} as attachment, m.content, m.char_length, m.user_id, m.created_at, u.first_name
        from unnest(${asked.map((a) => String(a.where.chatId))}::bigint[], ${asked.map((a) => a.where.conversation)}::text[],
                    ${asked.map((a) => a.budget.maxMessages)}::int[], ${asked.map((a) => a.budget.maxChars)}::int[])
             with ordinality as r(chat_id, conversation, max_messages, max_chars, ord)
        cross join lateral (
          select newest.*, sum(newest.char_length) over (order by newest.created_at desc, newest.id desc) as running_chars
          from (
            select id, user_id, role, kind, content, char_length, created_at from messages
            where chat_id = r.chat_id and conversation = r.conversation and deleted_at is null and in_context
            order by created_at desc, id desc
            limit r.max_messages
          ) newest
        ) m
        left join users u on u.id = m.user_id
        where m.running_chars <= r.max_chars
        order by r.ord, m.created_at, m.id
      `.execute(db);
      for (const r of rows) {
        histories[asked[r.ord - 1]!.index]!.push({
          id: r.id,
          role: r.role,
          kind: r.kind,
          attachment: r.attachment,
          content: r.content,
          charLength: r.char_length,
          userId: r.user_id,
          authorName: r.role === "user" ? r.first_name : null,
          createdAt: r.created_at,
        });
      }
      return histories;
    },

    async clearHistory({ chatId, conversation }) {
      // now() is the statement's (transaction's) time: every row of this /clear gets the same value,
      // which then names them for an undo.
      const { rows } = await sql<{ count: number; mark: string }>`
        with cleared as (
          update messages set deleted_at = now()
          where chat_id = ${BigInt(chatId)} and conversation = ${conversation} and deleted_at is null
          returning id
        )
        select (select count(*) from cleared)::int as count,
               (extract(epoch from now()) * 1000000)::bigint::text as mark
      `.execute(db);
      return rows[0]!;
    },

    async clearedConversations(chatId, mark) {
      const rows = await db
        .selectFrom("messages")
        .select("conversation")
        .distinct()
        .where("deleted_at", "=", sql<Date>`to_timestamp(0) + ${mark}::bigint * interval '1 microsecond'`)
        .where("chat_id", "=", BigInt(chatId))
        .execute();
      return rows.map((r) => r.conversation);
    },

    async restoreCleared(chatId, mark) {
      const result = await db
        .updateTable("messages")
        .set({ deleted_at: null })
        .where("deleted_at", "=", sql<Date>`to_timestamp(0) + ${mark}::bigint * interval '1 microsecond'`)
        .where("chat_id", "=", BigInt(chatId))
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async moveChat(fromChatId, toChatId) {
      const { rows } = await sql<{ moved: number }>`
        with new_chat as (
          insert into chats (id, type, title, updated_at)
          select ${BigInt(toChatId)}, 'supergroup', title, now() from chats where id = ${BigInt(fromChatId)}
          on conflict (id) do nothing
        ), moved as (
          update messages set chat_id = ${BigInt(toChatId)}, telegram_message_id = null
          where chat_id = ${BigInt(fromChatId)}
          returning id
        )
        select count(*)::int as moved from moved
      `.execute(db);
      return rows[0]?.moved ?? 0;
    },

    async editUserMessage(chatId, telegramMessageId, content) {
      const row = await db
        .updateTable("messages")
        .set({ content, edited_at: sql<Date>`now()` })
        .where("chat_id", "=", BigInt(chatId))
        .where("telegram_message_id", "=", BigInt(telegramMessageId))
        .where("role", "=", "user")
        .where("deleted_at", "is", null)
        .returning(["id", "conversation"])
        .executeTakeFirst();
      return row ?? null;
    },

    async latestAnswered({ chatId, conversation }) {
      const row = await db
        .selectFrom("messages as a")
        .innerJoin("messages as q", "q.id", "a.reply_to_id")
        .leftJoin("users as u", "u.id", "q.user_id")
        .select(["q.id as question_id", "a.id as answer_id", "q.kind", attachmentColumn("q").as("attachment"), "q.content", "q.user_id", "u.first_name"])
        .where("a.chat_id", "=", BigInt(chatId))
        .where("a.conversation", "=", conversation)
        .where("a.role", "=", "assistant")
        .where("a.deleted_at", "is", null)
        .where("q.deleted_at", "is", null)
        .orderBy("a.created_at", "desc")
        .orderBy("a.id", "desc")
        .limit(1)
        .executeTakeFirst();
      return row ? { questionId: row.question_id, answerId: row.answer_id, kind: row.kind, attachment: row.attachment, content: row.content, userId: row.user_id, authorName: row.first_name } : null;
    },

    async liveMessages({ chatId, conversation }) {
      const rows = await db
        .selectFrom("messages as m")
        .leftJoin("users as u", "u.id", "m.user_id")
        .select(["m.role", "m.kind", attachmentColumn("m").as("attachment"), "u.first_name", "u.username", "m.content", "m.created_at", "m.in_context", "m.interrupted", "m.model"])
        .where("m.chat_id", "=", BigInt(chatId))
        .where("m.conversation", "=", conversation)
        .where("m.deleted_at", "is", null)
        .orderBy("m.created_at")
        .orderBy("m.id")
        .execute();
      return rows.map((r) => ({
        role: r.role,
        kind: r.kind,
        attachment: r.attachment,
        author: r.role === "user" ? (r.first_name ?? (r.username ? `@${r.username}` : null)) : null,
        content: r.content,
        createdAt: r.created_at,
        inContext: r.in_context,
        interrupted: r.interrupted,
        model: r.model,
      }));
    },

    async latestAnswer(chatId) {
      const row = await db
        .selectFrom("messages")
        .select(["interrupted", "created_at"])
        .where("chat_id", "=", BigInt(chatId))
        .where("role", "=", "assistant")
        .orderBy("id", "desc")
        .limit(1)
        .executeTakeFirst();
      return row ? { interrupted: row.interrupted, createdAt: row.created_at } : null;
    },

    async purgeDeleted(days, limit) {
      // Oldest first through messages_deleted_at_idx; rows another purge holds are skipped, so
      // instances purging at once never wait on each other, and each statement locks few rows.
      const { rows } = await sql<{ purged: number }>`
        with doomed as (
          select id from messages
          where deleted_at < now() - make_interval(days => ${days})
          order by deleted_at
          limit ${limit}
          for update skip locked
        ), purged as (
          delete from messages where id in (select id from doomed) returning id
        )
        select count(*)::int as purged from purged
      `.execute(db);
      return rows[0]?.purged ?? 0;
    },
  };
  return repository;
}
