/**
 * The repository contract, run against every store: PGlite always, PostgreSQL when
 * TEST_DATABASE_URL is set. Both must give the same answers, down to the JS types.
 */
import { sql, type CompiledQuery, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Database } from "../../src/db/database.ts";
import { createMessageRepository, type MessageRepository, type UserInfo } from "../../src/db/message.repository.ts";
import { openMigrated, STORES } from "../helpers/stores.ts";

let nextChatId = 1000;
const newChat = (type = "private") => ({ id: nextChatId++, type, title: null });
const alice: UserInfo = { id: 501, username: "alice", firstName: "Alice", lastName: null };
const bob: UserInfo = { id: 502, username: null, firstName: "Bob", lastName: "B." };

for (const store of STORES) {
  describe.skipIf(!store.enabled)(`message repository on ${store.name}`, () => {
    let db: Kysely<Database>;
    let repo: MessageRepository;
    let queries: CompiledQuery[];
    let close: () => Promise<void>;
    let telegramId = 1;

    beforeAll(async () => {
      ({ db, queries, close } = await openMigrated(store));
      repo = createMessageRepository(db);
    });
    afterAll(async () => close?.());

    const say = (chat: ReturnType<typeof newChat>, content: string, user = alice) =>
      repo.recordUserMessage({ chat, user, content, telegramMessageId: telegramId++ });
    const history = (chatId: number, maxMessages = 100, maxChars = 1_000_000) =>
      repo.recentHistory(chatId, { maxMessages, maxChars });

    test("records a user's turn with its chat and user, and returns 64-bit ids as bigint", async () => {
      const chat = newChat();
      const recorded = await say(chat, "hello");
      expect(recorded.inserted).toBe(true);
      expect(typeof recorded.id).toBe("bigint");
      const [row] = await db.selectFrom("messages").selectAll().where("id", "=", recorded.id!).execute();
      expect(row).toMatchObject({ chat_id: BigInt(chat.id), user_id: 501n, role: "user", content: "hello", deleted_at: null });
      expect(row!.created_at).toBeInstanceOf(Date);
      const users = await db.selectFrom("users").selectAll().where("id", "=", 501n).execute();
      expect(users[0]).toMatchObject({ username: "alice", first_name: "Alice" });
    });

    test("keeps the user's and chat's names current", async () => {
      const chat = newChat("group");
      await say(chat, "one", { ...bob, id: 777, firstName: "Robert" });
      await repo.recordUserMessage({
        chat: { ...chat, title: "Renamed" },
        user: { ...bob, id: 777, firstName: "Rob" },
        content: "two",
        telegramMessageId: telegramId++,
      });
      const user = await db.selectFrom("users").select("first_name").where("id", "=", 777n).executeTakeFirst();
      const chatRow = await db.selectFrom("chats").select("title").where("id", "=", BigInt(chat.id)).executeTakeFirst();
      expect(user?.first_name).toBe("Rob");
      expect(chatRow?.title).toBe("Renamed");
      expect((await history(chat.id)).map((m) => m.authorName)).toEqual(["Rob", "Rob"]);
    });

    test("keeps Telegram ids beyond 2^53 exact", async () => {
      const chat = { id: -1009007199254740993n, type: "supergroup", title: "Big" };
      const recorded = await repo.recordUserMessage({ chat, user: alice, content: "big", telegramMessageId: 9007199254740995n });
      expect(recorded.inserted).toBe(true);
      const [row] = await db.selectFrom("messages").select(["chat_id", "telegram_message_id"]).where("id", "=", recorded.id!).execute();
      expect(row).toEqual({ chat_id: -1009007199254740993n, telegram_message_id: 9007199254740995n });
    });

    test("stores a re-delivered Telegram message only once", async () => {
      const chat = newChat();
      const first = await repo.recordUserMessage({ chat, user: alice, content: "once", telegramMessageId: 77 });
      const again = await repo.recordUserMessage({ chat, user: alice, content: "once", telegramMessageId: 77 });
      expect(first.inserted).toBe(true);
      expect(again).toEqual({ inserted: false, id: null });
      // Telegram message ids are per chat: the same id elsewhere is another message.
      const other = await repo.recordUserMessage({ chat: newChat(), user: alice, content: "other", telegramMessageId: 77 });
      expect(other.inserted).toBe(true);
      expect(await history(chat.id)).toHaveLength(1);
    });

    test("char_length counts code points, as PostgreSQL does", async () => {
      const chat = newChat();
      const samples = ["Привет, мир", "👋", "Hi 👋🏽!", "👨‍👩‍👧", "e\u0301", ""];
      for (const text of samples) await say(chat, text);
      const rows = await history(chat.id);
      expect(rows.map((r) => r.charLength)).toEqual(samples.map((s) => [...s].length));
      expect(rows.map((r) => r.charLength)).toEqual([11, 1, 6, 5, 2, 0]);
      const check = await sql<{ same: boolean }>`select bool_and(char_length = char_length(content)) as same from messages`.execute(db);
      expect(check.rows[0]?.same).toBe(true);
    });

    test("returns history oldest first, the newest maxMessages of them", async () => {
      const chat = newChat();
      for (let i = 1; i <= 6; i++) await say(chat, `m${i}`);
      await repo.recordAssistantMessage({ chatId: chat.id, content: "a7" });
      expect((await history(chat.id)).map((m) => m.content)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6", "a7"]);
      expect((await history(chat.id, 3)).map((m) => m.content)).toEqual(["m5", "m6", "a7"]);
      const [last] = (await history(chat.id, 1));
      expect(last).toMatchObject({ role: "assistant", content: "a7", userId: null, authorName: null });
    });

    test("trims by characters without cutting a message, newest always included", async () => {
      const chat = newChat();
      await say(chat, "a".repeat(50));
      await say(chat, "b".repeat(30));
      await say(chat, "c".repeat(20));
      // 20 + 30 = 50 fits exactly; adding the 50 would make 100.
      expect((await history(chat.id, 100, 50)).map((m) => m.content[0])).toEqual(["b", "c"]);
      expect((await history(chat.id, 100, 49)).map((m) => m.content[0])).toEqual(["c"]);
      expect((await history(chat.id, 100, 100)).map((m) => m.content[0])).toEqual(["a", "b", "c"]);
      // Alone over the budget, the current message still goes in, whole.
      await say(chat, "d".repeat(500));
      const onlyNewest = await history(chat.id, 100, 200);
      expect(onlyNewest.map((m) => m.content)).toEqual(["d".repeat(500)]);
      // Both limits at once: the count wins here.
      expect((await history(chat.id, 2, 10_000)).map((m) => m.content[0])).toEqual(["c", "d"]);
    });

    test("trimming matches a plain model of the rule on random chats and budgets", async () => {
      // Model: walk newest to oldest, keep while both limits hold; the newest always stays.
      const expected = (lengths: number[], maxMessages: number, maxChars: number) => {
        const kept: number[] = [];
        let total = 0;
        for (let i = lengths.length - 1; i >= 0 && kept.length < maxMessages; i--) {
          total += lengths[i]!;
          if (kept.length > 0 && total > maxChars) break;
          kept.unshift(i);
        }
        return kept;
      };
      let seed = 42;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (let round = 0; round < 8; round++) {
        const chat = newChat();
        const lengths = Array.from({ length: 1 + random(30) }, () => random(400));
        for (const [i, length] of lengths.entries()) await say(chat, `${i}:`.padEnd(Math.max(length, `${i}:`.length), "я"));
        const actualLengths = lengths.map((length, i) => Math.max(length, `${i}:`.length));
        for (let probe = 0; probe < 5; probe++) {
          const maxMessages = 1 + random(35);
          const maxChars = random(3000);
          const got = (await history(chat.id, maxMessages, maxChars)).map((m) => Number(m.content.split(":")[0]));
          expect(got, `lengths ${actualLengths} budget ${maxMessages}/${maxChars}`).toEqual(
            expected(actualLengths, maxMessages, maxChars),
          );
        }
      }
    });

    test("trims by code points, not UTF-16 units", async () => {
      const chat = newChat();
      await say(chat, "👋".repeat(10)); // 10 characters, 20 UTF-16 units
      await say(chat, "я".repeat(10));
      expect((await history(chat.id, 100, 20)).map((m) => m.charLength)).toEqual([10, 10]);
    });

    test("/clear soft-deletes the live history and keeps the rows", async () => {
      const chat = newChat();
      await say(chat, "one");
      await repo.recordAssistantMessage({ chatId: chat.id, content: "two" });
      expect(await repo.clearHistory(chat.id)).toBe(2);
      expect(await history(chat.id)).toEqual([]);
      const rows = await db.selectFrom("messages").select(["content", "deleted_at"]).where("chat_id", "=", BigInt(chat.id)).execute();
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row.deleted_at).toBeInstanceOf(Date);
      expect(await repo.clearHistory(chat.id)).toBe(0);
      await say(chat, "three");
      expect((await history(chat.id)).map((m) => m.content)).toEqual(["three"]);
    });

    test("keeps chats apart", async () => {
      const first = newChat();
      const second = newChat();
      await say(first, "first-1");
      await say(second, "second-1", bob);
      await say(first, "first-2");
      await repo.clearHistory(second.id);
      expect((await history(first.id)).map((m) => m.content)).toEqual(["first-1", "first-2"]);
      expect(await history(second.id)).toEqual([]);
    });

    test("names the author of each user turn", async () => {
      const chat = newChat("group");
      await say(chat, "hi", alice);
      await say(chat, "hello", bob);
      expect((await history(chat.id)).map((m) => [m.authorName, m.userId])).toEqual([
        ["Alice", 501n],
        ["Bob", 502n],
      ]);
    });

    test("the history query is served by the live-history index, even when other chats are newer", async () => {
      // The trap: this chat's rows are old, another chat's are newer. Walking the primary key
      // backwards would read all of those first; the history index goes straight to this chat.
      const chat = newChat();
      await db.insertInto("chats").values([{ id: chat.id, type: "private", title: null, updated_at: new Date() }, { id: 4242, type: "private", title: null, updated_at: new Date() }]).onConflict((oc) => oc.doNothing()).execute();
      await sql`insert into messages (chat_id, role, content)
                select ${chat.id}, 'assistant', 'old ' || g from generate_series(1, 20000) g`.execute(db);
      await sql`insert into messages (chat_id, role, content)
                select 4242, 'assistant', 'filler ' || g from generate_series(1, 20000) g`.execute(db);
      await sql`analyze messages`.execute(db);
      queries.length = 0;
      await history(chat.id, 40, 16_000);
      const query = queries.find((q) => q.sql.includes("row_number"));
      expect(query).toBeDefined();
      const plan = await db.executeQuery<{ "QUERY PLAN": string }>({
        ...query!,
        sql: `explain ${query!.sql}`,
      });
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text).toContain("messages_live_history_idx");
      expect(text).not.toMatch(/Seq Scan on messages|messages_pkey/);
    });
  });
}
