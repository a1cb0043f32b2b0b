import { sql } from "kysely";
import type { Id } from "../domain/ids.ts";
import type { Charge, LedgerLimits, UsageRow, UsageTotals, UserUsage } from "../domain/usage.ts";
import type { Executor } from "./executor.ts";

/**
 * A charge taken (the day it was taken on, to settle it there), or refused: with what the user
 * had already been charged that day, and whether they were told of a limit before today.
 */
export type Reservation = { ok: true; day: string; tokens: number } | { ok: false; before: Charge; toldBefore: boolean };

export interface UsageRepository {
  /** One user's answers and tokens today and this month (UTC days, as counted by commitTurns). */
  ofUser(userId: Id): Promise<UserUsage>;
  /** Everyone with usage this month, the heaviest first. */
  everyone(limit: number): Promise<UsageRow[]>;
  /**
   * Charges the user's day with `charge` if that keeps every limit, in one statement on the
   * user's ledger row (so concurrent turns of one user, in any chat or instance, never pass a
   * limit together); else charges nothing, marks the user told, and says what was charged before.
   */
  reserve(userId: Id, charge: Charge, limits: LedgerLimits): Promise<Reservation>;
  /** What the user was charged today (reservations included), and whether they were told of a limit. */
  charged(userId: Id): Promise<Charge & { told: boolean }>;
  /** Marks the user told of a limit today; returns whether they had been told already. */
  markTold(userId: Id): Promise<boolean>;
  /** Corrects a reservation on its day (a turn's tokens as the server reported them; an answer that did not come). */
  settle(userId: Id, day: string, delta: Omit<Charge, "audioSeconds">): Promise<void>;
  /** Speech transcribed for the user, for /usage (per transcription model). */
  recordAudio(userId: Id, model: string, seconds: number): Promise<void>;
}

const today = sql<string>`(now() at time zone 'UTC')::date`;
const monthStart = sql<string>`date_trunc('month', now() at time zone 'UTC')::date`;

/** Sums of one period, as numbers (sums of bigint come back as bigint or strings). */
const totals = (when: ReturnType<typeof sql>) => sql<string>`
  json_build_object(
    'messages', coalesce(sum(messages) filter (where ${when}), 0),
    'promptTokens', coalesce(sum(prompt_tokens) filter (where ${when}), 0),
    'completionTokens', coalesce(sum(completion_tokens) filter (where ${when}), 0),
    'audioSeconds', coalesce(sum(audio_seconds) filter (where ${when}), 0)
  )::text`;

const parse = (json: string): UsageTotals => {
  const t = JSON.parse(json) as Record<keyof UsageTotals, number | string>;
  return { messages: Number(t.messages), promptTokens: Number(t.promptTokens), completionTokens: Number(t.completionTokens), audioSeconds: Number(t.audioSeconds) };
};

export function createUsageRepository(db: Executor): UsageRepository {
  const repository: UsageRepository = {
    async ofUser(userId) {
      const row = await db
        .selectFrom("usage_daily")
        .select([totals(sql`day = ${today}`).as("today"), totals(sql`true`).as("month")])
        .where("user_id", "=", BigInt(userId))
        .where(sql<boolean>`day >= ${monthStart}`)
        .executeTakeFirstOrThrow();
      return { today: parse(row.today), month: parse(row.month) };
    },

    async everyone(limit) {
      const rows = await db
        .selectFrom("usage_daily as d")
        .leftJoin("users as u", "u.id", "d.user_id")
        .select(["d.user_id", "u.username", "u.first_name", totals(sql`d.day = ${today}`).as("today"), totals(sql`true`).as("month")])
        .where(sql<boolean>`d.day >= ${monthStart}`)
        .groupBy(["d.user_id", "u.username", "u.first_name"])
        .orderBy(sql`sum(d.prompt_tokens + d.completion_tokens)`, "desc")
        .orderBy("d.user_id")
        .limit(limit)
        .execute();
      return rows.map((r) => ({ userId: r.user_id, username: r.username, firstName: r.first_name, today: parse(r.today), month: parse(r.month) }));
    },

    async reserve(userId, charge, limits) {
      const user = BigInt(userId);
      const within = (row: string) => sql<boolean>`
        (${limits.messages}::int is null or ${sql.raw(row)}messages + ${charge.messages}::int <= ${limits.messages}::int)
        and (${limits.tokens}::bigint is null or ${sql.raw(row)}tokens + ${charge.tokens}::bigint <= ${limits.tokens}::bigint)
        and (${limits.audioSeconds}::int is null or ${sql.raw(row)}audio_seconds + ${charge.audioSeconds}::int <= ${limits.audioSeconds}::int)`;
      // One statement: the first charge of the day inserts the row (if it fits alone), every later
      // one updates it under the row's lock, re-checked against the row as it is then.
      const taken = await sql<{ day: string; tokens: string }>`
        insert into usage_ledger as l (user_id, day, messages, tokens, audio_seconds)
        select ${user}, ${today}, ${charge.messages}::int, ${charge.tokens}::bigint, ${charge.audioSeconds}::int
        from (select 0 as messages, 0 as tokens, 0 as audio_seconds) zero
        where ${within("zero.")}
        on conflict (user_id, day) do update set
          messages = l.messages + excluded.messages,
          tokens = l.tokens + excluded.tokens,
          audio_seconds = l.audio_seconds + excluded.audio_seconds
        where ${within("l.")}
        returning day::text as day, tokens::text as tokens
      `.execute(db);
      if (taken.rows[0]) return { ok: true, day: taken.rows[0].day, tokens: Number(taken.rows[0].tokens) };
      const before = await repository.charged(userId);
      return { ok: false, before, toldBefore: await repository.markTold(userId) };
    },

    async charged(userId) {
      const row = await db
        .selectFrom("usage_ledger")
        .select(["messages", "tokens", "audio_seconds", "told"])
        .where("user_id", "=", BigInt(userId))
        .where("day", "=", today)
        .executeTakeFirst();
      return { messages: row?.messages ?? 0, tokens: Number(row?.tokens ?? 0), audioSeconds: row?.audio_seconds ?? 0, told: row?.told ?? false };
    },

    async markTold(userId) {
      // Returns a row only where this statement turned told on: concurrent refusals of one user
      // wait for each other on the row, and only the first tells.
      const { rows } = await sql`
        insert into usage_ledger as l (user_id, day, told) values (${BigInt(userId)}, ${today}, true)
        on conflict (user_id, day) do update set told = true where not l.told
        returning 1
      `.execute(db);
      return rows.length === 0;
    },

    async settle(userId, day, delta) {
      if (delta.messages === 0 && delta.tokens === 0) return;
      await sql`
        update usage_ledger set messages = greatest(0, messages + ${delta.messages}::int), tokens = greatest(0, tokens + ${delta.tokens}::bigint)
        where user_id = ${BigInt(userId)} and day = ${day}::date
      `.execute(db);
    },

    async recordAudio(userId, model, seconds) {
      await sql`
        insert into usage_daily as d (user_id, day, model, audio_seconds) values (${BigInt(userId)}, ${today}, ${model}, ${seconds})
        on conflict (user_id, day, model) do update set audio_seconds = d.audio_seconds + excluded.audio_seconds
      `.execute(db);
    },
  };
  return repository;
}
