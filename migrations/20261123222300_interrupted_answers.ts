import type { Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // An answer the user stopped (the stop button, /cancel): kept as it was when stopped.
  await db.schema
    .alterTable("messages")
    .addColumn("interrupted", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("messages").dropColumn("interrupted").execute();
}
