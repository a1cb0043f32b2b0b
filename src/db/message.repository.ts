import { sql, type Kysely, type Transaction } from "kysely";
import type { ChatInfo, ConversationRef } from "../domain/chats.ts";
import type { Id } from "../domain/ids.ts";
import type { AnsweredTurn, Attachment, ExportedMessage, HistoryBudget, HistoryMessage, MessageKind, MessageRole, TurnResult } from "../domain/messages.ts";
import type { UserInfo } from "../domain/people.ts";
import type { Database } from "./database.ts";
import type { Executor } from "./executor.ts";

export interface RetryInput {
  updateId: Id;
  owner: string;
  turn: AnsweredTurn;
  /** Who asked for the retry: the new answer's tokens are theirs. */
  userId: Id;
  result: TurnResult;
}

export interface TurnInput {
  updateId: Id;
  owner: string;
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

export interface MessageRepository {
  /**
   * Ends the generation step of a turn in one statement: upserts the chat and the user, stores
   * the user's message and (on success) the answer, and moves the inbox row on (answered, or
   * failed). Nothing is written unless `owner` still holds the row's lease: returns null then.
   * A failed turn's message is stored with in_context = false, so the model never sees it again.
   */
  recordTurn(input: TurnInput): Promise<{ answerId: bigint | null } | null>;
  /** recordTurn for many turns (of different chats) in one statement; results in the order given. */
  recordTurns(inputs: readonly TurnInput[]): Promise<Array<{ answerId: bigint | null } | null>>;
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
  /**
   * Ends a /retry turn, in one transaction, if `owner` still holds its inbox row (else null):
   * with an answer, the old one is soft-deleted and the new one stored for the same message (and
   * counted for `userId`); a failure changes no message and ends the row as failed.
   */
  recordRetry(input: RetryInput): Promise<{ answerId: bigint | null } | null>;
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
    async recordTurn(input) {
      return (await repository.recordTurns([input]))[0]!;
    },

    async recordTurns(turns) {
      if (turns.length === 0) return [];
      const column = <T>(pick: (turn: TurnInput) => T) => turns.map(pick);
      const answerOf = (t: TurnInput) => ("answer" in t.result ? t.result.answer : null);
      const usageOf = (t: TurnInput) => t.result.usage;
      // Data-modifying CTEs run as one statement, atomically. `owned` keeps the turns whose
      // inbox row this owner still holds, locked, and every insert selects from it, so a turn
      // whose lease was lost writes nothing. The answers are inserted from the user messages'
      // RETURNING, so their ids (and order) come after. Turns recorded together are of
      // different chats (one turn per chat runs at a time); a user may be in several of them.
      const { rows } = await sql<{ ord: number; answer_id: bigint | null }>`
        with input as (
          select * from unnest(
            ${column((t) => String(t.updateId))}::bigint[], ${column((t) => t.owner)}::text[],
            ${column((t) => String(t.chat.id))}::bigint[], ${column((t) => t.chat.type)}::text[], ${column((t) => t.chat.title)}::text[],
            ${column((t) => t.conversation)}::text[],
            ${column((t) => String(t.user.id))}::bigint[], ${column((t) => t.user.username)}::text[],
            ${column((t) => t.user.firstName)}::text[], ${column((t) => t.user.lastName)}::text[],
            ${column((t) => t.content)}::text[], ${column((t) => String(t.telegramMessageId))}::bigint[],
            ${column(answerOf)}::text[], ${column((t) => ("failed" in t.result ? t.result.failed : null))}::text[],
            ${column((t) => usageOf(t)?.model ?? null)}::text[], ${column((t) => usageOf(t)?.promptTokens ?? null)}::int[],
            ${column((t) => usageOf(t)?.completionTokens ?? null)}::int[], ${column((t) => usageOf(t)?.estimated ?? null)}::bool[],
            ${column((t) => "answer" in t.result && t.result.interrupted === true)}::bool[],
            ${column((t) => t.kind ?? "text")}::text[], ${column((t) => (t.attachment ? JSON.stringify(t.attachment) : null))}::jsonb[],
            ${column((t) => (t.quotedUserId == null ? null : String(t.quotedUserId)))}::bigint[]
          ) with ordinality as i(update_id, owner, chat_id, chat_type, chat_title, conversation, user_id, username, first_name,
                                 last_name, content, telegram_message_id, answer, error, model, prompt_tokens,
                                 completion_tokens, usage_estimated, interrupted, kind, attachment, quoted_user_id, ord)
        ), owned as (
          select i.* from input i
          join inbox on inbox.update_id = i.update_id and inbox.lease_owner = i.owner and inbox.state = 'working'
          for update of inbox
        ), chat_upsert as (
          insert into chats (id, type, title, updated_at)
          select distinct on (chat_id) chat_id, chat_type, chat_title, now() from owned order by chat_id, ord desc
          on conflict (id) do update set type = excluded.type, title = excluded.title, updated_at = excluded.updated_at
          -- rewrite the row only when something changed: no dead tuple per message
          where (chats.type, chats.title) is distinct from (excluded.type, excluded.title)
        ), user_upsert as (
          insert into users (id, username, first_name, last_name, updated_at)
          select distinct on (user_id) user_id, username, first_name, last_name, now() from owned order by user_id, ord desc
          on conflict (id) do update set username = excluded.username, first_name = excluded.first_name,
            last_name = excluded.last_name, updated_at = excluded.updated_at
          where (users.username, users.first_name, users.last_name)
            is distinct from (excluded.username, excluded.first_name, excluded.last_name)
        ), question as (
          insert into messages (chat_id, conversation, user_id, role, kind, content, telegram_message_id, in_context, quoted_user_id)
          select chat_id, conversation, user_id, 'user', kind, content, telegram_message_id, answer is not null, quoted_user_id from owned order by ord
          on conflict (chat_id, telegram_message_id) where telegram_message_id is not null do nothing
          returning id, chat_id, telegram_message_id
        ), answer as (
          insert into messages (chat_id, conversation, user_id, role, content, reply_to_id, model, prompt_tokens, completion_tokens, usage_estimated, interrupted)
          select o.chat_id, o.conversation, null, 'assistant', o.answer, q.id, o.model, o.prompt_tokens, o.completion_tokens, o.usage_estimated, o.interrupted
          from owned o join question q on q.chat_id = o.chat_id and q.telegram_message_id = o.telegram_message_id
          where o.answer is not null
          order by o.ord
          returning id, reply_to_id
        ), attachment as (
          -- the turn's file (a failed turn's too: it is kept, out of context, like its text)
          insert into attachments (message_id, kind, file_id, file_unique_id, mime_type, file_size, width, height, duration, file_name)
          select q.id, f.kind, f."fileId", f."fileUniqueId", f."mimeType", f."fileSize", f.width, f.height, f.duration, f."fileName"
          from owned o
          join question q on q.chat_id = o.chat_id and q.telegram_message_id = o.telegram_message_id
          cross join lateral jsonb_to_record(o.attachment) as f(kind text, "fileId" text, "fileUniqueId" text, "mimeType" text,
            "fileSize" bigint, width int, height int, duration int, "fileName" text)
          where o.attachment is not null
        ), usage as (
          -- one row per user, UTC day and model; a user answered in two chats at once adds both.
          -- Only turns whose message was stored now count (a duplicate inserts no question). Every
          -- model call counts its tokens; only answers count as messages.
          insert into usage_daily as d (user_id, day, model, messages, prompt_tokens, completion_tokens)
          select o.user_id, (now() at time zone 'UTC')::date, o.model, count(*) filter (where o.answer is not null),
                 sum(o.prompt_tokens), sum(o.completion_tokens)
          from owned o
          join question q on q.chat_id = o.chat_id and q.telegram_message_id = o.telegram_message_id
          where o.model is not null
          group by o.user_id, o.model
          on conflict (user_id, day, model) do update set
            messages = d.messages + excluded.messages,
            prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
            completion_tokens = d.completion_tokens + excluded.completion_tokens
        )
        update inbox set
          state = case when o.answer is null then 'failed' else 'answered' end,
          user_message_id = q.id,
          answer_id = a.id,
          error = o.error,
          -- a failed turn is over here: its notice is best-effort
          lease_owner = case when o.answer is null then null else inbox.lease_owner end,
          lease_until = case when o.answer is null then null else inbox.lease_until end,
          payload = case when o.answer is null then null else inbox.payload end,
          finished_at = case when o.answer is null then now() end
        from owned o
        left join question q on q.chat_id = o.chat_id and q.telegram_message_id = o.telegram_message_id
        left join answer a on a.reply_to_id = q.id
        where inbox.update_id = o.update_id
        returning o.ord::int as ord, a.id as answer_id
      `.execute(db);
      const results: Array<{ answerId: bigint | null } | null> = turns.map(() => null);
      for (const row of rows) results[row.ord - 1] = { answerId: row.answer_id };
      return results;
    },

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

    async recordRetry({ updateId, owner, turn, userId, result }) {
      const body = async (tx: Transaction<Database>) => {
        const held = await tx
          .selectFrom("inbox")
          .select("update_id")
          .where("update_id", "=", BigInt(updateId))
          .where("lease_owner", "=", owner)
          .where("state", "=", "working")
          .forUpdate()
          .executeTakeFirst();
        if (!held) return null;
        // The model call counts, answered or not (only an answer counts as a message).
        if (result.usage) {
          await sql`
            insert into usage_daily as d (user_id, day, model, messages, prompt_tokens, completion_tokens)
            values (${BigInt(userId)}, (now() at time zone 'UTC')::date, ${result.usage.model}, ${"answer" in result ? 1 : 0}, ${result.usage.promptTokens}, ${result.usage.completionTokens})
            on conflict (user_id, day, model) do update set messages = d.messages + excluded.messages,
              prompt_tokens = d.prompt_tokens + excluded.prompt_tokens, completion_tokens = d.completion_tokens + excluded.completion_tokens
          `.execute(tx);
        }
        if ("failed" in result) {
          await tx
            .updateTable("inbox")
            .set({ state: "failed", error: result.failed, lease_owner: null, lease_until: null, payload: null, finished_at: sql<Date>`now()` })
            .where("update_id", "=", BigInt(updateId))
            .execute();
          return { answerId: null };
        }
        await tx.updateTable("messages").set({ deleted_at: sql<Date>`now()` }).where("id", "=", turn.answerId).where("deleted_at", "is", null).execute();
        const { id } = await tx
          .insertInto("messages")
          .columns(["chat_id", "conversation", "user_id", "role", "content", "reply_to_id", "model", "prompt_tokens", "completion_tokens", "usage_estimated", "interrupted"])
          .expression((eb) =>
            eb
              .selectFrom("messages")
              .select((s) => [
                "chat_id",
                "conversation",
                sql<null>`null`.as("user_id"),
                sql<"assistant">`'assistant'`.as("role"),
                s.val(result.answer).as("content"),
                "id",
                s.val(result.usage?.model ?? null).as("model"),
                s.val(result.usage?.promptTokens ?? null).as("prompt_tokens"),
                s.val(result.usage?.completionTokens ?? null).as("completion_tokens"),
                s.val(result.usage?.estimated ?? null).as("usage_estimated"),
                s.val(result.interrupted === true).as("interrupted"),
              ])
              .where("id", "=", turn.questionId),
          )
          .returning("id")
          .executeTakeFirstOrThrow();
        await tx.updateTable("inbox").set({ state: "answered", user_message_id: turn.questionId, answer_id: id }).where("update_id", "=", BigInt(updateId)).execute();
        return { answerId: id };
      };
      return db.isTransaction ? body(db as Transaction<Database>) : (db as Kysely<Database>).transaction().execute(body);
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
