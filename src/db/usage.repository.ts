import { sql, type Kysely, type Transaction } from "kysely";
import type { Database } from "./database.ts";

type Id = number | bigint;

export interface UsageTotals {
  messages: number;
  promptTokens: number;
  completionTokens: number;
}

export interface UserUsage {
  today: UsageTotals;
  month: UsageTotals;
}

export interface UsageRow extends UserUsage {
  userId: bigint;
  username: string | null;
  firstName: string | null;
}

export interface UsageRepository {
  /** One user's answers and tokens today and this month (UTC days, as counted by recordTurns). */
  ofUser(userId: Id): Promise<UserUsage>;
  /** Everyone with usage this month, the heaviest first. */
  everyone(limit: number): Promise<UsageRow[]>;
}

type Executor = Kysely<Database> | Transaction<Database>;

const today = sql<string>`(now() at time zone 'UTC')::date`;
const monthStart = sql<string>`date_trunc('month', now() at time zone 'UTC')::date`;

/** Sums of one period, as numbers (sums of bigint come back as bigint or strings). */
const totals = (when: ReturnType<typeof sql>) => sql<string>`
  json_build_object(
    'messages', coalesce(sum(messages) filter (where ${when}), 0),
    'promptTokens', coalesce(sum(prompt_tokens) filter (where ${when}), 0),
    'completionTokens', coalesce(sum(completion_tokens) filter (where ${when}), 0)
  )::text`;

const parse = (json: string): UsageTotals => {
  const t = JSON.parse(json) as Record<keyof UsageTotals, number | string>;
  return { messages: Number(t.messages), promptTokens: Number(t.promptTokens), completionTokens: Number(t.completionTokens) };
};

export function createUsageRepository(db: Executor): UsageRepository {
  return {
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
  };
}
