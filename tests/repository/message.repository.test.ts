/**
 * The repository contract, run against every store: PGlite always, PostgreSQL when
 * TEST_DATABASE_URL is set. Both must give the same answers, down to the JS types.
 */
import { sql, type CompiledQuery, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Database } from "../../src/db/database.ts";
import { createInboxRepository, type InboxRepository } from "../../src/db/inbox.repository.ts";
import { createMessageRepository, type MessageRepository } from "../../src/db/message.repository.ts";
import { createTurnCommitRepository, type LeasedTurn, type TurnCommitRepository } from "../../src/db/turn-commit.repository.ts";
import { wholeChat, type ChatInfo } from "../../src/domain/chats.ts";
import type { Attachment, TurnResult } from "../../src/domain/messages.ts";
import type { UserInfo } from "../../src/domain/people.ts";
import { openMigrated, STORES } from "../helpers/stores.ts";

let nextChatId = 1000;
const newChat = (type = "private") => ({ id: nextChatId++, type, title: null });
const alice: UserInfo = { id: 501, username: "alice", firstName: "Alice", lastName: null };
const bob: UserInfo = { id: 502, username: null, firstName: "Bob", lastName: "B." };
const OWNER = "test-owner";

for (const store of STORES) {
  describe.skipIf(!store.enabled)(`message repository on ${store.name}`, () => {
    let db: Kysely<Database>;
    let repo: MessageRepository;
    let inbox: InboxRepository;
    let commits: TurnCommitRepository;
    let queries: CompiledQuery[];
    let close: () => Promise<void>;
    let telegramId = 1;
    let updateId = 1;

    beforeAll(async () => {
      ({ db, queries, close } = await openMigrated(store));
      repo = createMessageRepository(db);
      commits = createTurnCommitRepository(db);
      inbox = createInboxRepository(db);
    });
    afterAll(async () => close?.());

    /** A turn as the worker runs it: the update in the inbox, leased, then recorded with its result. */
    const turn = async (
      chat: ChatInfo,
      content: string,
      result: TurnResult = { answer: `re: ${content}` },
      options: { user?: UserInfo; messageId?: number | bigint; conversation?: string; kind?: LeasedTurn["kind"]; attachment?: Attachment } = {},
    ) => {
      const id = updateId++;
      await inbox.ingest([{ updateId: id, chatId: chat.id, threadId: null, messageId: null, payload: { update_id: id } }]);
      await db.updateTable("inbox").set({ state: "working", lease_owner: OWNER, lease_until: sql<Date>`now() + interval '1 minute'` }).where("update_id", "=", BigInt(id)).execute();
      const recorded = await commits.commitTurn({
        updateId: id,
        owner: OWNER,
        chat,
        conversation: options.conversation ?? "",
        ...(options.kind ? { kind: options.kind } : {}),
        ...(options.attachment ? { attachment: options.attachment } : {}),
        user: options.user ?? alice,
        content,
        telegramMessageId: options.messageId ?? telegramId++,
        result,
      });
      return { updateId: id, recorded };
    };

    /** History rows written directly (no answers in between), for the trimming rules alone. */
    const seed = async (chat: ChatInfo, content: string, user: UserInfo | null = alice) => {
      await db.insertInto("chats").values({ id: chat.id, type: chat.type, title: chat.title, updated_at: new Date() }).onConflict((oc) => oc.doNothing()).execute();
      if (user) await db.insertInto("users").values({ id: user.id, username: user.username, first_name: user.firstName, last_name: user.lastName, updated_at: new Date() }).onConflict((oc) => oc.doNothing()).execute();
      await db.insertInto("messages").values({ chat_id: chat.id, user_id: user?.id ?? null, role: user ? "user" : "assistant", content }).execute();
    };
    const history = (chatId: number | bigint, maxMessages = 100, maxChars = 1_000_000) =>
      repo.recentHistory(wholeChat(chatId), { maxMessages, maxChars });

    test("a turn with a file: its attachment is stored by reference, comes with the history, /retry and /export, and goes with the message", async () => {
      const chat = newChat();
      const photo: Attachment = { kind: "photo", fileId: "AgAC-long-file-id", fileUniqueId: "AQAD-unique", mimeType: "image/jpeg", fileSize: 2_500_000_000, width: 1280, height: 960, duration: null, fileName: null };
      await turn(chat, "What is this? 👀", { answer: "A cat." }, { kind: "photo", attachment: photo });
      expect(await repo.latestAnswered(wholeChat(chat.id))).toMatchObject({ kind: "photo", attachment: photo, content: "What is this? 👀" });
      const voice: Attachment = { ...photo, kind: "voice", fileId: "AwAC", fileUniqueId: "AgAD", mimeType: "audio/ogg", fileSize: 4_000, width: null, height: null, duration: 3 };
      await turn(chat, "never heard", { failed: "transcription_failed" }, { kind: "voice", attachment: voice });
      await turn(chat, "plain text", { answer: "ok" });
      const read = await history(chat.id);
      expect(read.map((m) => [m.kind, m.content, m.attachment])).toEqual([
        ["photo", "What is this? 👀", photo], // 64-bit sizes and all
        ["text", "A cat.", null],
        ["text", "plain text", null],
        ["text", "ok", null],
      ]);
      expect(read[0]!.charLength).toBe(15); // the caption's length (code points) only
      expect((await repo.liveMessages(wholeChat(chat.id))).map((m) => m.attachment?.kind ?? null)).toEqual(["photo", null, "voice", null, null]);
      const rows = await db.selectFrom("attachments").innerJoin("messages", "messages.id", "attachments.message_id").select(["attachments.kind", "messages.in_context"]).where("messages.chat_id", "=", BigInt(chat.id)).orderBy("attachments.id").execute();
      expect(rows).toEqual([{ kind: "photo", in_context: true }, { kind: "voice", in_context: false }]); // a failed turn keeps its file
      // Soft delete hides them with their messages; erasing the messages erases them.
      await repo.clearHistory(wholeChat(chat.id));
      expect(await history(chat.id)).toEqual([]);
      expect(await repo.purgeDeleted(-1, 1_000)).toBeGreaterThanOrEqual(5);
      expect(await db.selectFrom("attachments").select("id").where("file_unique_id", "in", ["AQAD-unique", "AgAD"]).execute()).toEqual([]);
    });

    test("records a turn: the chat, the user, their message and the answer after it, 64-bit ids as bigint", async () => {
      const chat = newChat();
      const { updateId: id, recorded } = await turn(chat, "hello", { answer: "hi there" });
      expect(typeof recorded?.answerId).toBe("bigint");
      const rows = await db.selectFrom("messages").selectAll().where("chat_id", "=", BigInt(chat.id)).orderBy("id").execute();
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({ user_id: 501n, role: "user", content: "hello", deleted_at: null, in_context: true, reply_to_id: null });
      expect(rows[1]).toMatchObject({ id: recorded!.answerId, user_id: null, role: "assistant", content: "hi there", reply_to_id: rows[0]!.id });
      expect(rows[0]!.created_at).toBeInstanceOf(Date);
      const users = await db.selectFrom("users").selectAll().where("id", "=", 501n).execute();
      expect(users[0]).toMatchObject({ username: "alice", first_name: "Alice" });
      const row = await db.selectFrom("inbox").selectAll().where("update_id", "=", BigInt(id)).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ state: "answered", user_message_id: rows[0]!.id, answer_id: rows[1]!.id, lease_owner: OWNER });
    });

    test("writes nothing for an owner that lost the lease", async () => {
      const chat = newChat();
      const id = updateId++;
      await inbox.ingest([{ updateId: id, chatId: chat.id, threadId: null, messageId: null, payload: {} }]);
      await db.updateTable("inbox").set({ state: "working", lease_owner: "someone-else", lease_until: sql<Date>`now() + interval '1 minute'` }).where("update_id", "=", BigInt(id)).execute();
      const recorded = await commits.commitTurn({ updateId: id, owner: OWNER, chat, conversation: "", user: alice, content: "late", telegramMessageId: telegramId++, result: { answer: "late answer" } });
      expect(recorded).toBeNull();
      expect(await db.selectFrom("messages").select("id").where("chat_id", "=", BigInt(chat.id)).execute()).toEqual([]);
      expect(await db.selectFrom("chats").select("id").where("id", "=", BigInt(chat.id)).execute()).toEqual([]);
      const row = await db.selectFrom("inbox").select(["state", "lease_owner"]).where("update_id", "=", BigInt(id)).executeTakeFirstOrThrow();
      expect(row).toEqual({ state: "working", lease_owner: "someone-else" });
    });

    test("a failed turn keeps the user's message, out of the model's context, and ends the inbox row", async () => {
      const chat = newChat();
      await turn(chat, "first");
      const { updateId: id, recorded } = await turn(chat, "this one fails", { failed: "llm_unavailable" });
      expect(recorded).toEqual({ answerId: null });
      await turn(chat, "third");
      expect((await history(chat.id)).map((m) => m.content)).toEqual(["first", "re: first", "third", "re: third"]);
      const stored = await db.selectFrom("messages").select(["content", "in_context"]).where("chat_id", "=", BigInt(chat.id)).where("role", "=", "user").orderBy("id").execute();
      expect(stored).toEqual([
        { content: "first", in_context: true },
        { content: "this one fails", in_context: false },
        { content: "third", in_context: true },
      ]);
      const row = await db.selectFrom("inbox").selectAll().where("update_id", "=", BigInt(id)).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ state: "failed", error: "llm_unavailable", lease_owner: null, payload: null, answer_id: null });
      expect(row.finished_at).toBeInstanceOf(Date);
    });

    test("keeps the user's and chat's names current", async () => {
      const chat = newChat("group");
      await turn(chat, "one", undefined, { user: { ...bob, id: 777, firstName: "Robert" } });
      await turn({ ...chat, title: "Renamed" }, "two", undefined, { user: { ...bob, id: 777, firstName: "Rob" } });
      const user = await db.selectFrom("users").select("first_name").where("id", "=", 777n).executeTakeFirst();
      const chatRow = await db.selectFrom("chats").select("title").where("id", "=", BigInt(chat.id)).executeTakeFirst();
      expect(user?.first_name).toBe("Rob");
      expect(chatRow?.title).toBe("Renamed");
      expect((await history(chat.id)).filter((m) => m.role === "user").map((m) => m.authorName)).toEqual(["Rob", "Rob"]);
    });

    test("keeps Telegram ids beyond 2^53 exact", async () => {
      const chat = { id: -1009007199254740993n, type: "supergroup", title: "Big" };
      await turn(chat, "big", undefined, { messageId: 9007199254740995n });
      const rows = await db.selectFrom("messages").select(["chat_id", "telegram_message_id"]).where("chat_id", "=", chat.id).where("role", "=", "user").execute();
      expect(rows).toEqual([{ chat_id: -1009007199254740993n, telegram_message_id: 9007199254740995n }]);
    });

    test("stores a re-delivered Telegram message (and its answer) only once", async () => {
      const chat = newChat();
      const first = await turn(chat, "once", undefined, { messageId: 77 });
      const again = await turn(chat, "once", undefined, { messageId: 77 });
      expect(typeof first.recorded?.answerId).toBe("bigint");
      expect(again.recorded).toEqual({ answerId: null });
      // Telegram message ids are per chat: the same id elsewhere is another message.
      const other = await turn(newChat(), "other", undefined, { messageId: 77 });
      expect(typeof other.recorded?.answerId).toBe("bigint");
      expect((await history(chat.id)).map((m) => m.content)).toEqual(["once", "re: once"]);
    });

    test("commitTurns stores the turns of many chats in one statement, each as if recorded alone", async () => {
      const [answered, failed, duplicate, lost] = [newChat(), newChat("group"), newChat(), newChat()];
      await turn(duplicate, "seen before", undefined, { messageId: 5 });
      const leased = async (chat: ChatInfo, owner = OWNER) => {
        const id = updateId++;
        await inbox.ingest([{ updateId: id, chatId: chat.id, threadId: null, messageId: null, payload: { update_id: id } }]);
        await db.updateTable("inbox").set({ state: "working", lease_owner: owner, lease_until: sql<Date>`now() + interval '1 minute'` }).where("update_id", "=", BigInt(id)).execute();
        return id;
      };
      const ids = [await leased(answered), await leased(failed), await leased(duplicate), await leased(lost, "someone-else")];
      const renamed = { ...alice, firstName: "Alicia" }; // the same user in two turns: the later one's name is kept
      const results = await commits.commitTurns([
        { updateId: ids[0]!, owner: OWNER, chat: answered, conversation: "", user: alice, content: "q1", telegramMessageId: 1, result: { answer: "a1" } },
        { updateId: ids[1]!, owner: OWNER, chat: failed, conversation: "", user: renamed, content: "q2", telegramMessageId: 1, result: { failed: "timeout" } },
        { updateId: ids[2]!, owner: OWNER, chat: duplicate, conversation: "", user: bob, content: "seen before", telegramMessageId: 5, result: { answer: "again" } },
        { updateId: ids[3]!, owner: OWNER, chat: lost, conversation: "", user: bob, content: "q4", telegramMessageId: 1, result: { answer: "a4" } },
      ]);
      expect(results[0]?.answerId).toBeTypeOf("bigint");
      expect(results.slice(1)).toEqual([{ answerId: null }, { answerId: null }, null]);
      expect((await history(answered.id)).map((m) => m.content)).toEqual(["q1", "a1"]);
      expect(await history(failed.id)).toEqual([]);
      expect((await history(duplicate.id)).map((m) => m.content)).toEqual(["seen before", "re: seen before"]);
      expect(await db.selectFrom("messages").select("id").where("chat_id", "=", BigInt(lost.id)).execute()).toEqual([]);
      const user = await db.selectFrom("users").select("first_name").where("id", "=", BigInt(alice.id)).executeTakeFirstOrThrow();
      expect(user.first_name).toBe("Alicia");
      const rows = await db.selectFrom("inbox").select(["update_id", "state", "lease_owner", "error"]).where("update_id", "in", ids.map(BigInt)).orderBy("update_id").execute();
      expect(rows.map((r) => [r.state, r.lease_owner, r.error])).toEqual([
        ["answered", OWNER, null],
        ["failed", null, "timeout"],
        ["answered", OWNER, null],
        ["working", "someone-else", null],
      ]);
      expect(await commits.commitTurns([])).toEqual([]);
    });

    test("recentHistories reads many chats at once, each within its own budget, as recentHistory does", async () => {
      const chats = [newChat(), newChat(), newChat(), newChat()];
      for (const [i, chat] of chats.entries()) for (let k = 0; k < 4; k++) await seed(chat, `chat ${i} message ${k} ${"x".repeat(k * 10)}`);
      const requests = [
        { where: wholeChat(chats[2]!.id), budget: { maxMessages: 2, maxChars: 1_000 } },
        { where: wholeChat(chats[0]!.id), budget: { maxMessages: 10, maxChars: 60 } },
        { where: wholeChat(chats[3]!.id), budget: { maxMessages: 0, maxChars: 1_000 } },
        { where: wholeChat(newChat().id), budget: { maxMessages: 10, maxChars: 1_000 } },
        { where: wholeChat(chats[1]!.id), budget: { maxMessages: 10, maxChars: 10_000 } },
      ];
      const together = await repo.recentHistories(requests);
      const alone = await Promise.all(requests.map((r) => repo.recentHistory(r.where, r.budget)));
      expect(together).toEqual(alone);
      expect(together.map((h) => h.length)).toEqual([2, 1, 0, 0, 4]);
      expect(together[0]!.map((m) => m.content)).toEqual([`chat 2 message 2 ${"x".repeat(20)}`, `chat 2 message 3 ${"x".repeat(30)}`]);
    });

    test("a second live answer to one message is refused by the database", async () => {
      const chat = newChat();
      const { recorded } = await turn(chat, "question");
      const question = await db.selectFrom("messages").select("id").where("chat_id", "=", BigInt(chat.id)).where("role", "=", "user").executeTakeFirstOrThrow();
      await expect(
        db.insertInto("messages").values({ chat_id: chat.id, role: "assistant", content: "again", reply_to_id: question.id }).execute(),
      ).rejects.toThrow(/messages_one_answer_uq/);
      expect(recorded?.answerId).toBeTypeOf("bigint");
    });

    test("char_length counts code points, as PostgreSQL does", async () => {
      const chat = newChat();
      const samples = ["Привет, мир", "👋", "Hi 👋🏽!", "👨‍👩‍👧", "e\u0301", ""];
      for (const text of samples) await seed(chat, text);
      const rows = await history(chat.id);
      expect(rows.map((r) => r.charLength)).toEqual(samples.map((s) => [...s].length));
      expect(rows.map((r) => r.charLength)).toEqual([11, 1, 6, 5, 2, 0]);
      const check = await sql<{ same: boolean }>`select bool_and(char_length = char_length(content)) as same from messages`.execute(db);
      expect(check.rows[0]?.same).toBe(true);
    });

    test("returns history oldest first, the newest maxMessages of them", async () => {
      const chat = newChat();
      for (let i = 1; i <= 6; i++) await seed(chat, `m${i}`);
      await seed(chat, "a7", null);
      expect((await history(chat.id)).map((m) => m.content)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6", "a7"]);
      expect((await history(chat.id, 3)).map((m) => m.content)).toEqual(["m5", "m6", "a7"]);
      const [last] = await history(chat.id, 1);
      expect(last).toMatchObject({ role: "assistant", content: "a7", userId: null, authorName: null });
      expect(await history(chat.id, 0)).toEqual([]);
    });

    test("trims by characters without cutting a message", async () => {
      const chat = newChat();
      await seed(chat, "a".repeat(50));
      await seed(chat, "b".repeat(30));
      await seed(chat, "c".repeat(20));
      // 20 + 30 = 50 fits exactly; adding the 50 would make 100.
      expect((await history(chat.id, 100, 50)).map((m) => m.content[0])).toEqual(["b", "c"]);
      expect((await history(chat.id, 100, 49)).map((m) => m.content[0])).toEqual(["c"]);
      expect((await history(chat.id, 100, 100)).map((m) => m.content[0])).toEqual(["a", "b", "c"]);
      // The budget is what is left beside the new message: a newest message over it is left out.
      await seed(chat, "d".repeat(500));
      expect(await history(chat.id, 100, 200)).toEqual([]);
      // Both limits at once: the count wins here.
      expect((await history(chat.id, 2, 10_000)).map((m) => m.content[0])).toEqual(["c", "d"]);
    });

    test("trimming matches a plain model of the rule on random chats and budgets", async () => {
      // Model: walk newest to oldest, keep while both limits hold.
      const expected = (lengths: number[], maxMessages: number, maxChars: number) => {
        const kept: number[] = [];
        let total = 0;
        for (let i = lengths.length - 1; i >= 0 && kept.length < maxMessages; i--) {
          total += lengths[i]!;
          if (total > maxChars) break;
          kept.unshift(i);
        }
        return kept;
      };
      let seedValue = 42;
      const random = (n: number) => {
        seedValue = (seedValue * 1103515245 + 12345) % 2 ** 31;
        return seedValue % n;
      };
      for (let round = 0; round < 8; round++) {
        const chat = newChat();
        const lengths = Array.from({ length: 1 + random(30) }, () => random(400));
        for (const [i, length] of lengths.entries()) await seed(chat, `${i}:`.padEnd(Math.max(length, `${i}:`.length), "я"));
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
      await seed(chat, "👋".repeat(10)); // 10 characters, 20 UTF-16 units
      await seed(chat, "я".repeat(10));
      expect((await history(chat.id, 100, 20)).map((m) => m.charLength)).toEqual([10, 10]);
    });

    test("/clear soft-deletes the live history and keeps the rows", async () => {
      const chat = newChat();
      await turn(chat, "one", { answer: "two" });
      expect((await repo.clearHistory(wholeChat(chat.id))).count).toBe(2);
      expect(await history(chat.id)).toEqual([]);
      const rows = await db.selectFrom("messages").select(["content", "deleted_at"]).where("chat_id", "=", BigInt(chat.id)).execute();
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row.deleted_at).toBeInstanceOf(Date);
      expect((await repo.clearHistory(wholeChat(chat.id))).count).toBe(0);
      await turn(chat, "three", { answer: "four" });
      expect((await history(chat.id)).map((m) => m.content)).toEqual(["three", "four"]);
    });

    test("undoing a /clear brings back exactly the rows it cleared, in their place", async () => {
      const chat = newChat();
      const other = newChat();
      await turn(chat, "old", { answer: "old answer" });
      const earlier = await repo.clearHistory(wholeChat(chat.id)); // an earlier /clear: stays cleared
      await turn(chat, "one", { answer: "two" });
      await turn(other, "elsewhere", { answer: "x" });
      const cleared = await repo.clearHistory(wholeChat(chat.id));
      await repo.clearHistory(wholeChat(other.id));
      expect(cleared.mark).toMatch(/^\d{16}$/);
      expect(cleared.mark).not.toBe(earlier.mark);
      await turn(chat, "after", { answer: "after answer" }); // written after the /clear
      expect(await repo.restoreCleared(chat.id, cleared.mark)).toBe(2);
      expect((await history(chat.id)).map((m) => m.content)).toEqual(["one", "two", "after", "after answer"]);
      expect(await history(other.id)).toEqual([]); // another chat's /clear at the same moment is its own
      expect(await repo.restoreCleared(chat.id, cleared.mark)).toBe(0);
    });

    test("one chat, several conversations (forum topics, members): each reads, clears, retries and exports its own", async () => {
      const group = newChat("supergroup");
      const topic = { chatId: group.id, conversation: "t7" };
      const shared = wholeChat(group.id);
      await turn(group, "in the general topic", { answer: "general answer" });
      await turn(group, "in topic 7", { answer: "topic answer" }, { conversation: "t7" });
      await turn(group, "Bob in topic 7, his own", { answer: "bob's answer" }, { conversation: "t7/u502", user: bob });
      expect((await repo.recentHistory(topic, { maxMessages: 10, maxChars: 10_000 })).map((m) => m.content)).toEqual(["in topic 7", "topic answer"]);
      expect((await repo.recentHistory(shared, { maxMessages: 10, maxChars: 10_000 })).map((m) => m.content)).toEqual(["in the general topic", "general answer"]);
      expect((await repo.latestAnswered(topic))!.content).toBe("in topic 7");
      expect((await repo.liveMessages({ chatId: group.id, conversation: "t7/u502" })).map((m) => m.content)).toEqual(["Bob in topic 7, his own", "bob's answer"]);
      // A retry's new answer stays in its question's conversation.
      const { updateId: retryId } = await turn(group, "unused", { failed: "x" });
      await db.updateTable("inbox").set({ state: "working", lease_owner: OWNER, lease_until: sql<Date>`now() + interval '1 minute'` }).where("update_id", "=", BigInt(retryId)).execute();
      await commits.commitRetry({ updateId: retryId, owner: OWNER, turn: (await repo.latestAnswered(topic))!, userId: alice.id, result: { answer: "topic answer, again" } });
      expect((await repo.recentHistory(topic, { maxMessages: 10, maxChars: 10_000 })).map((m) => m.content)).toEqual(["in topic 7", "topic answer, again"]);
      expect((await repo.clearHistory(topic)).count).toBe(2);
      expect(await repo.liveMessages(topic)).toEqual([]);
      expect((await repo.liveMessages(shared)).map((m) => m.content)).toEqual(["in the general topic", "general answer", "unused"]); // untouched
      expect(await repo.liveMessages({ chatId: group.id, conversation: "t7/u502" })).toHaveLength(2);
      // An edit says which conversation the message is in.
      expect(await repo.editUserMessage(group.id, (await db.selectFrom("messages").select("telegram_message_id").where("content", "=", "Bob in topic 7, his own").executeTakeFirstOrThrow()).telegram_message_id!, "edited")).toMatchObject({ conversation: "t7/u502" });
    });

    test("a group upgraded to a supergroup: its history moves to the new id, once", async () => {
      const group = newChat("group");
      const supergroup = { id: -1_000_000_000_000 - nextChatId++, type: "supergroup", title: null };
      await turn(group, "before the upgrade", { answer: "noted" }, { messageId: 5 });
      expect(await repo.moveChat(group.id, supergroup.id)).toBe(2);
      expect((await history(supergroup.id)).map((m) => m.content)).toEqual(["before the upgrade", "noted"]);
      expect(await history(group.id)).toEqual([]);
      expect(await repo.moveChat(group.id, supergroup.id)).toBe(0);
      // Message ids start over in the new chat: its message 5 is a new message, not a duplicate.
      await turn(supergroup, "after", { answer: "ok" }, { messageId: 5 });
      expect((await history(supergroup.id)).map((m) => m.content)).toEqual(["before the upgrade", "noted", "after", "ok"]);
      const chat = await db.selectFrom("chats").select("type").where("id", "=", BigInt(supergroup.id)).executeTakeFirstOrThrow();
      expect(chat.type).toBe("supergroup");
    });

    test("an edited message: content, char_length and edited_at change; unknown or deleted messages are left alone", async () => {
      const chat = newChat();
      await turn(chat, "short", { answer: "ok" }, { messageId: 77 });
      const edited = await repo.editUserMessage(chat.id, 77, "a longer text 👋");
      expect(edited).toEqual({ id: expect.any(BigInt), conversation: "" });
      const id = edited?.id;
      const row = await db.selectFrom("messages").select(["content", "char_length", "edited_at"]).where("id", "=", id!).executeTakeFirstOrThrow();
      expect(row.content).toBe("a longer text 👋");
      expect(row.char_length).toBe(15);
      expect(row.edited_at).toBeInstanceOf(Date);
      expect(await repo.editUserMessage(chat.id, 78, "never stored")).toBeNull();
      await repo.clearHistory(wholeChat(chat.id));
      expect(await repo.editUserMessage(chat.id, 77, "after clear")).toBeNull();
    });

    test("keeps chats apart", async () => {
      const first = newChat();
      const second = newChat();
      await seed(first, "first-1");
      await seed(second, "second-1", bob);
      await seed(first, "first-2");
      await repo.clearHistory(wholeChat(second.id));
      expect((await history(first.id)).map((m) => m.content)).toEqual(["first-1", "first-2"]);
      expect(await history(second.id)).toEqual([]);
    });

    test("names the author of each user turn", async () => {
      const chat = newChat("group");
      await seed(chat, "hi", alice);
      await seed(chat, "hello", bob);
      expect((await history(chat.id)).map((m) => [m.authorName, m.userId])).toEqual([
        ["Alice", 501n],
        ["Bob", 502n],
      ]);
    });

    test("the history query is served by the conversation history index, even when other chats are newer", async () => {
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
      const query = queries.find((q) => q.sql.includes("running_chars"));
      expect(query).toBeDefined();
      const plan = await db.executeQuery<{ "QUERY PLAN": string }>({
        ...query!,
        sql: `explain ${query!.sql}`,
      });
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text).toContain("messages_conversation_history_idx");
      expect(text).not.toMatch(/Seq Scan on messages|messages_pkey/);
    });
  });
}
