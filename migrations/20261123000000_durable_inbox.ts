import { sql, type Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Every update Telegram hands the bot, committed before Telegram is told it arrived. A row is
  // also the state of the turn it starts: received → working (leased) → answered → delivered,
  // or failed, or done (an update that needed no answer: a command, group chatter).
  await db.schema
    .createTable("inbox")
    .addColumn("update_id", "bigint", (c) => c.primaryKey())
    .addColumn("chat_id", "bigint") // null for updates without a chat
    .addColumn("thread_id", "bigint") // forum topic, when there is one
    .addColumn("message_id", "bigint") // a new message's Telegram id (not set for edits and others)
    .addColumn("payload", "jsonb") // the update as Telegram sent it; dropped once the turn is over
    .addColumn("state", "text", (c) =>
      c
        .notNull()
        .defaultTo("received")
        .check(sql`state in ('received', 'working', 'answered', 'delivered', 'failed', 'done')`),
    )
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("lease_owner", "text")
    .addColumn("lease_until", "timestamptz")
    .addColumn("not_before", "timestamptz") // a flood wait or a retry: not to be picked up before
    .addColumn("user_message_id", "bigint", (c) => c.references("messages.id"))
    .addColumn("answer_id", "bigint", (c) => c.references("messages.id"))
    .addColumn("delivery", "jsonb") // how far the delivery of a stored answer got
    .addColumn("error", "text")
    .addColumn("received_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .execute();

  // The scheduler's question: the oldest unfinished update of each chat. Only unfinished rows
  // are in the index, so it stays as small as the backlog however long the inbox grows.
  await db.schema
    .createIndex("inbox_unfinished_idx")
    .on("inbox")
    .columns(["chat_id", "update_id"])
    .where(sql.ref("state"), "in", sql`('received', 'working', 'answered')`)
    .execute();
  // The same message delivered again under another update id is stored once.
  await db.schema
    .createIndex("inbox_message_uq")
    .on("inbox")
    .columns(["chat_id", "message_id"])
    .unique()
    .where(sql.ref("message_id"), "is not", null)
    .execute();
  // Pruning of finished rows by age.
  await db.schema
    .createIndex("inbox_finished_at_idx")
    .on("inbox")
    .column("finished_at")
    .where(sql.ref("finished_at"), "is not", null)
    .execute();

  // A user turn whose answer failed stays stored but is left out of the model's context.
  await db.schema
    .alterTable("messages")
    .addColumn("in_context", "boolean", (c) => c.notNull().defaultTo(true))
    .execute();
  // Which user message an answer answers: at most one live answer per user message.
  await db.schema
    .alterTable("messages")
    .addColumn("reply_to_id", "bigint", (c) => c.references("messages.id"))
    .execute();
  await db.schema
    .createIndex("messages_one_answer_uq")
    .on("messages")
    .column("reply_to_id")
    .unique()
    .where(sql<boolean>`reply_to_id is not null and deleted_at is null`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("inbox").execute();
  await db.schema.dropIndex("messages_one_answer_uq").execute();
  await db.schema.alterTable("messages").dropColumn("reply_to_id").execute();
  await db.schema.alterTable("messages").dropColumn("in_context").execute();
}
