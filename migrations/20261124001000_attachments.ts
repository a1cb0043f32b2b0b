import { sql, type Kysely } from "kysely";

// Frozen in time: this file must never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  // What a user turn was: text, or a photo, voice note, audio, video note or document. content
  // holds its text: the caption, the transcript, or the document's text.
  await db.schema
    .alterTable("messages")
    .addColumn("kind", "text", (col) => col.notNull().defaultTo("text"))
    .execute();

  // The files of a stored turn, by Telegram's reference: the bytes stay with Telegram and are
  // downloaded again (getFile) when the model needs them. A turn's attachments live and die with it:
  // soft delete hides them with the message, erasure and retention delete them with it.
  await db.schema
    .createTable("attachments")
    .addColumn("id", "bigint", (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn("message_id", "bigint", (col) => col.notNull().references("messages.id").onDelete("cascade"))
    .addColumn("kind", "text", (col) => col.notNull())
    .addColumn("file_id", "text", (col) => col.notNull())
    .addColumn("file_unique_id", "text", (col) => col.notNull())
    .addColumn("mime_type", "text")
    .addColumn("file_size", "bigint")
    .addColumn("width", "integer")
    .addColumn("height", "integer")
    .addColumn("duration", "integer")
    .addColumn("file_name", "text")
    .addColumn("created_at", "timestamptz", (col) => col.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("attachments_kind", sql`kind in ('photo', 'voice', 'audio', 'video_note', 'document')`)
    .execute();
  await db.schema.createIndex("attachments_message_id_idx").on("attachments").column("message_id").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("attachments").execute();
  await db.schema.alterTable("messages").dropColumn("kind").execute();
}
