import { sql, type Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // A user turn that quotes another user's message (a reply in a group): whose words the quote
  // holds, so that their /forget can erase it from this turn and its answer.
  await db.schema.alterTable("messages").addColumn("quoted_user_id", "bigint").execute();
  await db.schema
    .createIndex("messages_quoted_user_idx")
    .on("messages")
    .column("quoted_user_id")
    .where(sql.ref("quoted_user_id"), "is not", null)
    .execute();

  // Who wrote a chat's /system text (updated_by is whoever changed any setting last): their
  // /forget erases it. Until now the last one to change a setting is the best guess.
  await db.schema.alterTable("chat_settings").addColumn("system_prompt_by", "bigint").execute();
  await sql`update chat_settings set system_prompt_by = updated_by where system_prompt is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("chat_settings").dropColumn("system_prompt_by").execute();
  await db.schema.dropIndex("messages_quoted_user_idx").execute();
  await db.schema.alterTable("messages").dropColumn("quoted_user_id").execute();
}
