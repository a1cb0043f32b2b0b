import { sql, type Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // What each user was charged on a UTC day, reservations of turns still running included: the
  // one row a daily limit is checked and charged on, in one statement, so that no interleaving of
  // turns, chats or instances passes a limit. `told`: the user was told they reached a limit.
  await db.schema
    .createTable("usage_ledger")
    .addColumn("user_id", "bigint", (c) => c.notNull())
    .addColumn("day", "date", (c) => c.notNull())
    .addColumn("messages", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("tokens", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("audio_seconds", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("told", "boolean", (c) => c.notNull().defaultTo(false))
    .addPrimaryKeyConstraint("usage_ledger_pk", ["user_id", "day"])
    .execute();
  await db.schema.createIndex("usage_ledger_day_idx").on("usage_ledger").column("day").execute();

  // Speech transcribed for a user (by the transcription model), counted like tokens.
  await db.schema
    .alterTable("usage_daily")
    .addColumn("audio_seconds", "integer", (c) => c.notNull().defaultTo(0))
    .execute();

  // The instances working this database, each seen within the last few seconds: they share the
  // bot's budget of sends to Telegram.
  await db.schema
    .createTable("instances")
    .addColumn("owner", "text", (c) => c.primaryKey())
    .addColumn("seen_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("instances").execute();
  await db.schema.alterTable("usage_daily").dropColumn("audio_seconds").execute();
  await db.schema.dropTable("usage_ledger").execute();
}
