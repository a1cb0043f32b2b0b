/**
 * A turn's outcome and the end of its inbox row, written together: the one place where a message
 * and the update it answers change in the same statement (or transaction). Nothing is written
 * unless the caller still holds the row's lease; the inbox (inbox/turn.ts) is the only caller.
 */
import { sql, type Kysely, type Transaction } from "kysely";
import type { Id } from "../domain/ids.ts";
import type { RetryRecord, TurnRecord } from "../domain/turns.ts";
import type { Database } from "./database.ts";
import type { Executor } from "./executor.ts";

/** The inbox row a turn answers, and the lease this instance holds on it. */
export interface InboxLease {
  updateId: Id;
  owner: string;
}

export type LeasedTurn = TurnRecord & InboxLease;
export type LeasedRetry = RetryRecord & InboxLease;

export interface TurnCommitRepository {
  /**
   * Ends the generation step of a turn in one statement: upserts the chat and the user, stores
   * the user's message and (on success) the answer, and moves the inbox row on (answered, or
   * failed: a failed turn's row ends here). Nothing is written unless `owner` still holds the
   * row's lease: returns null then. A failed turn's message is stored with in_context = false, so
   * the model never sees it again.
   */
  commitTurn(input: LeasedTurn): Promise<{ answerId: bigint | null } | null>;
  /** commitTurn for many turns (of different chats) in one statement; results in the order given. */
  commitTurns(inputs: readonly LeasedTurn[]): Promise<Array<{ answerId: bigint | null } | null>>;
  /**
   * Ends a /retry turn, in one transaction, if `owner` still holds its inbox row (else null):
   * with an answer, the old one is soft-deleted and the new one stored for the same message (and
   * counted for `userId`); a failure changes no message and ends the row as failed.
   */
  commitRetry(input: LeasedRetry): Promise<{ answerId: bigint | null } | null>;
}

export function createTurnCommitRepository(db: Executor): TurnCommitRepository {
  const repository: TurnCommitRepository = {
    async commitTurn(input) {
      return (await repository.commitTurns([input]))[0]!;
    },

    async commitTurns(turns) {
      if (turns.length === 0) return [];
      const column = <T>(pick: (turn: LeasedTurn) => T) => turns.map(pick);
      const answerOf = (t: LeasedTurn) => ("answer" in t.result ? t.result.answer : null);
      const usageOf = (t: LeasedTurn) => t.result.usage;
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


    async commitRetry({ updateId, owner, turn, userId, result }) {
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

  };
  return repository;
}
