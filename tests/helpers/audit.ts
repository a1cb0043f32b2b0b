/**
 * What crash and scale-out tests check in the end: the database holds each user message once,
 * with exactly one answer, and the inbox has nothing left; Telegram shows every answer, in order.
 */
import { expect } from "vitest";
import type { DatabaseConfig } from "../../src/config.ts";
import { createDatabase } from "../../src/db/connection.ts";
import { createMigrator, migrateToLatest } from "../../src/db/migrations.ts";
import type { FakeTelegram, TgChat } from "../fakes/telegram-server.ts";

/** A fresh store, migrated the way `make db-migrate` would (the bot migrates PGlite itself). */
export async function migrate(config: DatabaseConfig): Promise<void> {
  const db = createDatabase(config);
  try {
    await migrateToLatest(createMigrator(db));
  } finally {
    await db.destroy();
  }
}

export interface Sent {
  chat: TgChat;
  messageId: number;
  text: string;
}

/** Every sent message has an answer ("Re: <text>") in its chat. */
export const allAnswered = (tg: FakeTelegram, sent: Sent[]) =>
  sent.every((s) => tg.messagesIn(s.chat.id).some((m) => m.text === `Re: ${s.text}`));

/**
 * Checks Telegram's side: every message answered, the answers of a chat in the order of its
 * messages. Returns how many answers were shown more than once.
 */
export function auditTelegram(tg: FakeTelegram, sent: Sent[]): { duplicates: number } {
  let duplicates = 0;
  for (const chatId of new Set(sent.map((s) => s.chat.id))) {
    const expected = sent.filter((s) => s.chat.id === chatId).map((s) => `Re: ${s.text}`);
    const shown = tg.messagesIn(chatId).map((m) => m.text);
    const firsts = shown.filter((text, i) => shown.indexOf(text) === i);
    expect(firsts, `answers in chat ${chatId}, in order`).toEqual(expected);
    duplicates += shown.length - firsts.length;
  }
  return { duplicates };
}

/** Checks the database: each message stored once, in context, with exactly one answer; inbox drained. */
export async function auditStore(config: DatabaseConfig, sent: Sent[]): Promise<void> {
  const db = createDatabase(config);
  try {
    const users = await db
      .selectFrom("messages as q")
      .leftJoin("messages as a", (join) => join.onRef("a.reply_to_id", "=", "q.id").on("a.deleted_at", "is", null))
      .select(["q.chat_id", "q.telegram_message_id", "q.content", "q.in_context", "a.content as answer"])
      .where("q.role", "=", "user")
      .execute();
    const answers = await db.selectFrom("messages").select((eb) => eb.fn.countAll<string>().as("n")).where("role", "=", "assistant").executeTakeFirstOrThrow();
    const stored = users.map((u) => `${u.chat_id}/${u.telegram_message_id}: ${u.content} -> ${u.answer} (${u.in_context})`).sort();
    const expected = sent.map((s) => `${s.chat.id}/${s.messageId}: ${s.text} -> Re: ${s.text} (true)`).sort();
    expect(stored).toEqual(expected);
    expect(Number(answers.n)).toBe(sent.length);
    const inbox = await db.selectFrom("inbox").select(["state"]).select((eb) => eb.fn.countAll<string>().as("n")).groupBy("state").execute();
    expect(inbox.map((r) => [r.state, Number(r.n)])).toEqual([["delivered", sent.length]]);
  } finally {
    await db.destroy();
  }
}
