import { sql, type Kysely } from "kysely";

// Frozen in time: this file must never import application code.

/** The foreign keys to messages.id that erasure must not be blocked by. */
const REFERENCES_TO_MESSAGES = [
  ["inbox", "user_message_id"],
  ["inbox", "answer_id"],
  ["messages", "reply_to_id"],
] as const;

export async function up(db: Kysely<any>): Promise<void> {
  // Who may talk to the bot, as set by admins from Telegram (/allow, /deny). A subject is a user id
  // ("123456") or a lower-cased "@username". These rows override ALLOWED_USERS from the settings.
  await db.schema
    .createTable("access_rules")
    .addColumn("subject", "text", (c) => c.primaryKey())
    .addColumn("allowed", "boolean", (c) => c.notNull())
    .addColumn("changed_by", "bigint", (c) => c.notNull())
    .addColumn("changed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // The token usage of each answer; estimated when the model server reported none.
  await db.schema.alterTable("messages").addColumn("model", "text").execute();
  await db.schema.alterTable("messages").addColumn("prompt_tokens", "integer").execute();
  await db.schema.alterTable("messages").addColumn("completion_tokens", "integer").execute();
  await db.schema.alterTable("messages").addColumn("usage_estimated", "boolean").execute();

  // Usage per user, day (UTC) and model: what /usage shows and daily limits count. Kept apart from
  // the messages so that /clear, /forget and retention do not give anyone their budget back.
  await db.schema
    .createTable("usage_daily")
    .addColumn("user_id", "bigint", (c) => c.notNull())
    .addColumn("day", "date", (c) => c.notNull())
    .addColumn("model", "text", (c) => c.notNull())
    .addColumn("messages", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("prompt_tokens", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("completion_tokens", "bigint", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("usage_daily_pk", ["user_id", "day", "model"])
    .execute();
  await db.schema.createIndex("usage_daily_day_idx").on("usage_daily").column("day").execute();

  // Retention purges soft-deleted rows by age: only those rows are in the index.
  await db.schema
    .createIndex("messages_deleted_at_idx")
    .on("messages")
    .column("deleted_at")
    .where(sql.ref("deleted_at"), "is not", null)
    .execute();
  await db.schema.createIndex("messages_reply_to_id_idx").on("messages").column("reply_to_id").execute();

  // Erasing messages (/forget, retention) must not be blocked by what points at them: an inbox row
  // forgets which messages it stored, an answer whose question is gone stays an answer.
  for (const [table, column] of REFERENCES_TO_MESSAGES) {
    await db.schema.alterTable(table).dropConstraint(`${table}_${column}_fkey`).execute();
    await db.schema
      .alterTable(table)
      .addForeignKeyConstraint(`${table}_${column}_fkey`, [column], "messages", ["id"], (c) => c.onDelete("set null"))
      .execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [table, column] of REFERENCES_TO_MESSAGES) {
    await db.schema.alterTable(table).dropConstraint(`${table}_${column}_fkey`).execute();
    await db.schema.alterTable(table).addForeignKeyConstraint(`${table}_${column}_fkey`, [column], "messages", ["id"]).execute();
  }
  await db.schema.dropIndex("messages_reply_to_id_idx").execute();
  await db.schema.dropIndex("messages_deleted_at_idx").execute();
  await db.schema.dropTable("usage_daily").execute();
  for (const column of ["usage_estimated", "completion_tokens", "prompt_tokens", "model"]) {
    await db.schema.alterTable("messages").dropColumn(column).execute();
  }
  await db.schema.dropTable("access_rules").execute();
}
