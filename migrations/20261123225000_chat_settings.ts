import { sql, type Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // A chat's own settings, which /clear leaves alone: its instructions to the model (/system).
  await db.schema
    .createTable("chat_settings")
    .addColumn("chat_id", "bigint", (c) => c.primaryKey())
    .addColumn("system_prompt", "text")
    .addColumn("updated_by", "bigint")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("chat_settings").execute();
}
