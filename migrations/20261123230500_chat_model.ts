import type { Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // The model a chat chose with /model, from those the operator allows (OPENAI_MODELS).
  await db.schema.alterTable("chat_settings").addColumn("model", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("chat_settings").dropColumn("model").execute();
}
