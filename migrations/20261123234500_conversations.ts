import { sql, type Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Which history of its chat a message belongs to: "" the chat's own; a forum topic's
  // ("t<topic id>"); a member's own in a group that keeps one per member ("u<user id>", or
  // "t<topic id>/u<user id>" in a topic). Existing rows are the chats' shared histories.
  await db.schema
    .alterTable("messages")
    .addColumn("conversation", "text", (col) => col.notNull().defaultTo(""))
    .execute();

  // The history query now reads one conversation of a chat; the index leads with both.
  await db.schema
    .createIndex("messages_conversation_history_idx")
    .on("messages")
    .columns(["chat_id", "conversation", "created_at desc", "id desc"])
    .where(sql.ref("deleted_at"), "is", null)
    .execute();
  await db.schema.dropIndex("messages_live_history_idx").execute();

  // A group's choice: one shared history (null, the default) or one per member ("member").
  await db.schema.alterTable("chat_settings").addColumn("history_mode", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("chat_settings").dropColumn("history_mode").execute();
  await db.schema
    .createIndex("messages_live_history_idx")
    .on("messages")
    .columns(["chat_id", "created_at desc", "id desc"])
    .where(sql.ref("deleted_at"), "is", null)
    .execute();
  await db.schema.dropIndex("messages_conversation_history_idx").execute();
  await db.schema.alterTable("messages").dropColumn("conversation").execute();
}
