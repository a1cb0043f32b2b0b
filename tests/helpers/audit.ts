/**
 * What crash and scale-out tests check in the end: the database holds each user message once,
 * with exactly one answer, and the inbox has nothing left; Telegram shows every answer, in order.
 */
import { sql } from "kysely";
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

/**
 * The tables with a row whose text (the whole row cast to text: every column, JSON payloads
 * included) contains `needle`, case-insensitively: how privacy tests find what was not erased.
 */
export async function tablesHolding(config: DatabaseConfig, needle: string): Promise<string[]> {
  const db = createDatabase(config);
  try {
    const { rows: tables } = await sql<{ name: string }>`
      select table_name as name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(db);
    const holding: string[] = [];
    for (const { name } of tables) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(name)} as t where t::text ilike ${`%${needle}%`}`.execute(db);
      if (rows[0]!.n > 0) holding.push(name);
    }
    return holding;
  } finally {
    await db.destroy();
  }
}

/**
 * Where a user's id is still stored: "table.column" for every id-like column (their user id, a
 * private chat's id, who changed or wrote a setting) holding it, and inbox payloads from them.
 */
export async function placesOfUser(config: DatabaseConfig, userId: number): Promise<string[]> {
  const db = createDatabase(config);
  try {
    const { rows: columns } = await sql<{ table_name: string; column_name: string }>`
      select table_name, column_name from information_schema.columns
      where table_schema = 'public' and data_type = 'bigint'
        and (column_name in ('user_id', 'chat_id', 'updated_by', 'system_prompt_by', 'quoted_user_id', 'changed_by')
             or (column_name = 'id' and table_name in ('users', 'chats')))
      order by table_name, column_name`.execute(db);
    const places: string[] = [];
    for (const { table_name, column_name } of columns) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table_name)} where ${sql.ref(column_name)} = ${userId}`.execute(db);
      if (rows[0]!.n > 0) places.push(`${table_name}.${column_name}`);
    }
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from inbox where payload is not null and jsonb_path_exists(payload, '$.** ? (@.id == $id)', jsonb_build_object('id', ${userId}::bigint))`.execute(db);
    if (rows[0]!.n > 0) places.push("inbox.payload");
    return places;
  } finally {
    await db.destroy();
  }
}
