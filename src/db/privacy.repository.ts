import { sql, type Kysely, type Transaction } from "kysely";
import type { Id } from "../domain/ids.ts";
import type { Database } from "./database.ts";
import type { Executor } from "./executor.ts";

/** What one /forget erased. */
export interface Erasure {
  /** Messages deleted: the user's own, the answers to them, and everything in their private chat. */
  messages: number;
  /** Other people's turns whose quote of the user was erased (and their answers' verbatim copies). */
  quotes: number;
  /** Updates of the user not answered yet, dropped (their text was waiting in the inbox). */
  waiting: number;
}

export interface PrivacyRepository {
  /**
   * Erases a user (/forget), in one transaction; what it removes and keeps is the README's
   * "What /forget erases". `except`: the update doing the erasing (its own inbox row runs on).
   */
  forgetUser(userId: Id, options?: { except?: Id }): Promise<Erasure>;
}

/** The leading quote block of a turn that replies to someone (dialogue: "> line\n> line\n\ntext"). */
const QUOTE_BLOCK = /^((?:> [^\n]*\n)+)\n/;
export const ERASED = "[erased]";
/** Quoted lines shorter than this are not looked for in answers ("ok" would erase every "ok"). */
const MIN_LINE = 8;

/** A turn's text with its quote erased, and the quoted lines (to erase verbatim copies elsewhere). */
export function eraseQuote(content: string): { content: string; lines: string[] } {
  const block = QUOTE_BLOCK.exec(content);
  if (!block) return { content, lines: [] };
  const lines = block[1]!.split("\n").map((line) => line.slice(2).replace(/…$/, "").trim()).filter((line) => line.length >= MIN_LINE);
  return { content: `> ${ERASED}\n\n${content.slice(block[0].length)}`, lines };
}

/** An answer with every verbatim copy of the quoted lines erased, longest first. */
export function eraseCopies(answer: string, lines: readonly string[]): string {
  return [...lines].sort((a, b) => b.length - a.length).reduce((text, line) => text.replaceAll(line, ERASED), answer);
}

export function createPrivacyRepository(db: Executor): PrivacyRepository {
  return {
    async forgetUser(userId, { except } = {}) {
      const user = BigInt(userId);
      const keep = except === undefined ? -1n : BigInt(except);
      const body = async (tx: Transaction<Database>): Promise<Erasure> => {
        const fromUser = sql<boolean>`(inbox.chat_id = ${user}
          or (inbox.payload -> 'message' -> 'from' ->> 'id')::bigint = ${user}
          or (inbox.payload -> 'edited_message' -> 'from' ->> 'id')::bigint = ${user}
          or (inbox.payload -> 'callback_query' -> 'from' ->> 'id')::bigint = ${user})`;
        // Waiting updates of theirs: dropped, so nothing of theirs is stored after the erasure (a
        // turn being answered now loses its lease, and a turn without its lease writes nothing).
        const dropped = await tx
          .updateTable("inbox")
          .set({ state: "done", error: "forgotten", payload: null, delivery: null, lease_owner: null, lease_until: null, finished_at: sql<Date>`now()` })
          .where("state", "in", ["received", "working", "answered"])
          .where("update_id", "!=", keep)
          .where(fromUser)
          .executeTakeFirst();
        // Others' waiting updates that reply to them: the text replied to goes (the reply stays).
        for (const kind of ["message", "edited_message"] as const) {
          await sql`
            update inbox set payload = payload #- ${`{${kind},reply_to_message,text}`}::text[] #- ${`{${kind},reply_to_message,caption}`}::text[] #- ${`{${kind},quote}`}::text[]
            where state in ('received', 'working', 'answered')
              and (payload -> ${kind} -> 'reply_to_message' -> 'from' ->> 'id')::bigint = ${user}
          `.execute(tx);
        }
        // Finished updates of their private chat (ids only, no text) go too.
        await tx.deleteFrom("inbox").where("chat_id", "=", user).where("update_id", "!=", keep).where("state", "in", ["delivered", "failed", "done"]).execute();

        // Their words quoted in others' turns, and verbatim copies in the answers to those turns.
        const quoting = await tx
          .selectFrom("messages as q")
          .leftJoin("messages as a", "a.reply_to_id", "q.id")
          .select(["q.id", "q.content", "a.id as answerId", "a.content as answer"])
          .where("q.quoted_user_id", "=", user)
          .execute();
        const redacted = new Set<bigint>();
        for (const row of quoting) {
          const { content, lines } = eraseQuote(row.content);
          if (!redacted.has(row.id)) {
            redacted.add(row.id);
            await tx.updateTable("messages").set({ content, quoted_user_id: null }).where("id", "=", row.id).execute();
          }
          if (row.answerId !== null && row.answer !== null && lines.length > 0) {
            const answer = eraseCopies(row.answer, lines);
            if (answer !== row.answer) await tx.updateTable("messages").set({ content: answer }).where("id", "=", row.answerId).execute();
          }
        }

        // Their messages in every chat and the answers to them, and all of their private chat
        // (attachments go with their messages; inbox references become null).
        const { rows } = await sql<{ erased: number }>`
          with mine as (
            select id from messages where user_id = ${user} or chat_id = ${user}
          ), answers as (
            delete from messages where reply_to_id in (select id from mine) and id not in (select id from mine) returning id
          ), questions as (
            delete from messages where id in (select id from mine) returning id
          )
          select ((select count(*) from answers) + (select count(*) from questions))::int as erased
        `.execute(tx);

        // The settings they wrote: their private chat's, and their /system texts in groups.
        await tx.deleteFrom("chat_settings").where("chat_id", "=", user).execute();
        await tx.updateTable("chat_settings").set({ system_prompt: null, system_prompt_by: null }).where("system_prompt_by", "=", user).execute();
        await tx.updateTable("chat_settings").set({ updated_by: null }).where("updated_by", "=", user).execute();

        // Usage: their past counts join the anonymous total (user 0), so the operator's totals
        // still add up; today's charges stay on the ledger (a /forget does not reset a limit).
        await sql`
          with moved as (
            delete from usage_daily where user_id = ${user}
            returning day, model, messages, prompt_tokens, completion_tokens, audio_seconds
          )
          insert into usage_daily as d (user_id, day, model, messages, prompt_tokens, completion_tokens, audio_seconds)
          select 0, day, model, sum(messages), sum(prompt_tokens), sum(completion_tokens), sum(audio_seconds) from moved group by day, model
          on conflict (user_id, day, model) do update set
            messages = d.messages + excluded.messages,
            prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
            completion_tokens = d.completion_tokens + excluded.completion_tokens,
            audio_seconds = d.audio_seconds + excluded.audio_seconds
        `.execute(tx);
        await tx.deleteFrom("usage_ledger").where("user_id", "=", user).where("day", "<", sql<string>`(now() at time zone 'UTC')::date`).execute();

        // Their private chat and their profile, which nothing references any more.
        await tx.deleteFrom("chats").where("id", "=", user).where("type", "=", "private").execute();
        await tx.deleteFrom("users").where("id", "=", user).execute();
        return { messages: rows[0]?.erased ?? 0, quotes: redacted.size, waiting: Number(dropped.numUpdatedRows) };
      };
      return db.isTransaction ? body(db as Transaction<Database>) : (db as Kysely<Database>).transaction().execute(body);
    },
  };
}
