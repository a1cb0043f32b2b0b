import { sql, type Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "bigint", (c) => c.primaryKey()) // Telegram user id
    .addColumn("username", "text")
    .addColumn("first_name", "text")
    .addColumn("last_name", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("chats")
    .addColumn("id", "bigint", (c) => c.primaryKey()) // Telegram chat id
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("title", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("messages")
    .addColumn("id", "bigint", (c) => c.generatedAlwaysAsIdentity().primaryKey())
    .addColumn("chat_id", "bigint", (c) => c.notNull().references("chats.id"))
    .addColumn("user_id", "bigint", (c) => c.references("users.id"))
    .addColumn("role", "text", (c) => c.notNull().check(sql`role in ('system', 'user', 'assistant')`))
    .addColumn("content", "text", (c) => c.notNull())
    // Computed by PostgreSQL itself, so it always equals char_length(content) in code points.
    .addColumn("char_length", "integer", (c) => c.notNull().generatedAlwaysAs(sql`char_length(content)`).stored())
    .addColumn("telegram_message_id", "bigint")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("deleted_at", "timestamptz")
    .addCheckConstraint("messages_assistant_has_no_user", sql`role <> 'assistant' or user_id is null`)
    .execute();

  // The history query: one chat's live messages, newest first. A partial index holding only
  // live rows, in exactly that order; /clear's update walks the same index. It orders by time
  // (id breaks ties) rather than by id alone, so the primary key cannot offer the same order:
  // the planner otherwise walks messages_pkey backwards through every other chat's newer rows.
  await db.schema
    .createIndex("messages_live_history_idx")
    .on("messages")
    .columns(["chat_id", "created_at desc", "id desc"])
    .where(sql.ref("deleted_at"), "is", null)
    .execute();

  // The same Telegram message (a re-delivered update) is stored once.
  await db.schema
    .createIndex("messages_telegram_message_uq")
    .on("messages")
    .columns(["chat_id", "telegram_message_id"])
    .unique()
    .where(sql.ref("telegram_message_id"), "is not", null)
    .execute();

  await db.schema.createIndex("messages_user_id_idx").on("messages").column("user_id").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("messages").execute();
  await db.schema.dropTable("chats").execute();
  await db.schema.dropTable("users").execute();
}
