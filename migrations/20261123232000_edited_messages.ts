import type { Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // A user message the user edited in Telegram: its content is the edited text, from this time.
  await db.schema.alterTable("messages").addColumn("edited_at", "timestamptz").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("messages").dropColumn("edited_at").execute();
}
