/**
 * The contract of usage accounting, access rules, /forget and retention, on every store
 * (PGlite always, PostgreSQL when TEST_DATABASE_URL is set).
 */
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createAccessRepository } from "../../src/db/access.repository.ts";
import type { Database } from "../../src/db/database.ts";
import { createInboxRepository, type InboxRepository } from "../../src/db/inbox.repository.ts";
import { createMessageRepository, type MessageRepository } from "../../src/db/message.repository.ts";
import { createTurnCommitRepository, type TurnCommitRepository } from "../../src/db/turn-commit.repository.ts";
import { wholeChat, type ChatInfo } from "../../src/domain/chats.ts";
import type { TurnResult } from "../../src/domain/messages.ts";
import type { UserInfo } from "../../src/domain/people.ts";
import { createUsageRepository, type UsageRepository } from "../../src/db/usage.repository.ts";
import { createPrivacyRepository, type PrivacyRepository } from "../../src/db/privacy.repository.ts";
import { createSettingsRepository, type SettingsRepository } from "../../src/db/settings.repository.ts";
import { openMigrated, STORES } from "../helpers/stores.ts";

const OWNER = "test-owner";
let nextId = 1;
const newUser = (name: string): UserInfo => ({ id: 9_000_000_000 + nextId++, username: name.toLowerCase(), firstName: name, lastName: null });
const newChat = (type = "private"): ChatInfo => ({ id: -100_000_000_000 - nextId++, type, title: null });
const usageOf = (model: string, promptTokens: number, completionTokens: number, estimated = false) => ({ model, promptTokens, completionTokens, estimated });

for (const store of STORES) {
  describe.skipIf(!store.enabled)(`usage, access and erasure on ${store.name}`, () => {
    let db: Kysely<Database>;
    let messages: MessageRepository;
    let inbox: InboxRepository;
    let usage: UsageRepository;
    let privacy: PrivacyRepository;
    let settings: SettingsRepository;
    let commits: TurnCommitRepository;
    let close: () => Promise<void>;
    let updateId = 1;
    let telegramId = 1;

    beforeAll(async () => {
      ({ db, close } = await openMigrated(store));
      messages = createMessageRepository(db);
      commits = createTurnCommitRepository(db);
      inbox = createInboxRepository(db);
      usage = createUsageRepository(db);
      privacy = createPrivacyRepository(db);
      settings = createSettingsRepository(db);
    });
    afterAll(async () => close?.());

    const lease = async () => {
      const id = updateId++;
      await inbox.ingest([{ updateId: id, chatId: 1, threadId: null, messageId: null, payload: { update_id: id } }]);
      await db.updateTable("inbox").set({ state: "working", lease_owner: OWNER, lease_until: sql<Date>`now() + interval '1 minute'` }).where("update_id", "=", BigInt(id)).execute();
      return id;
    };
    const input = (id: number, chat: ChatInfo, user: UserInfo, content: string, result: TurnResult, messageId = telegramId++) => ({
      updateId: id, owner: OWNER, chat, conversation: "", user, content, telegramMessageId: messageId, result,
    });
    const turn = async (chat: ChatInfo, user: UserInfo, content: string, result: TurnResult = { answer: `re: ${content}` }) =>
      commits.commitTurn(input(await lease(), chat, user, content, result));

    test("an answer is stored with its model and tokens, and counted in the user's usage of today and this month", async () => {
      const ann = newUser("Ann");
      const chat = newChat();
      await turn(chat, ann, "one", { answer: "a", usage: usageOf("m1", 100, 20) });
      await turn(chat, ann, "two", { answer: "b", usage: usageOf("m1", 150, 30, true) });
      await turn(chat, ann, "three", { failed: "timeout" }); // failed turns cost no answer
      await turn(chat, ann, "four", { failed: "empty_answer", usage: usageOf("m1", 70, 0, true) }); // but the call they made counts
      const answer = await db.selectFrom("messages").select(["model", "prompt_tokens", "completion_tokens", "usage_estimated"]).where("chat_id", "=", BigInt(chat.id)).where("role", "=", "assistant").orderBy("id").execute();
      expect(answer).toEqual([
        { model: "m1", prompt_tokens: 100, completion_tokens: 20, usage_estimated: false },
        { model: "m1", prompt_tokens: 150, completion_tokens: 30, usage_estimated: true },
      ]);
      const totals = { messages: 2, promptTokens: 320, completionTokens: 50, audioSeconds: 0 };
      expect(await usage.ofUser(ann.id)).toEqual({ today: totals, month: totals });
    });

    test("turns of one user recorded together (two chats, two models) all count; a duplicate message does not", async () => {
      const ben = newUser("Ben");
      const [chatA, chatB, chatC] = [newChat(), newChat(), newChat()];
      const results = await commits.commitTurns([
        input(await lease(), chatA, ben, "x", { answer: "x!", usage: usageOf("m1", 10, 1) }),
        input(await lease(), chatB, ben, "y", { answer: "y!", usage: usageOf("m1", 20, 2) }),
        input(await lease(), chatC, ben, "z", { answer: "z!", usage: usageOf("m2", 40, 4) }),
      ]);
      expect(results.every((r) => r?.answerId)).toBe(true);
      // The same Telegram message again under another update: stored once, counted once.
      const again = await commits.commitTurn(input(await lease(), chatA, ben, "x", { answer: "x!", usage: usageOf("m1", 10, 1) }, telegramId - 3));
      expect(again).toEqual({ answerId: null });
      expect((await usage.ofUser(ben.id)).today).toEqual({ messages: 3, promptTokens: 70, completionTokens: 7, audioSeconds: 0 });
      const rows = await db.selectFrom("usage_daily").select(["model", "messages"]).where("user_id", "=", BigInt(ben.id)).orderBy("model").execute();
      expect(rows).toEqual([{ model: "m1", messages: 2 }, { model: "m2", messages: 1 }]);
    });

    test("daily limits: concurrent reservations of one user never pass a limit together; refused ones charge nothing and say what was charged", async () => {
      const eve = newUser("Eve");
      const limits = { messages: 3, tokens: 1_000, audioSeconds: null };
      // Twenty turns at once, over as many connections as the store has: three fit the message limit.
      const results = await Promise.all(Array.from({ length: 20 }, () => usage.reserve(eve.id, { messages: 1, tokens: 100, audioSeconds: 0 }, limits)));
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      expect(await usage.charged(eve.id)).toEqual({ messages: 3, tokens: 300, audioSeconds: 0, told: true });
      const refused = results.find((r) => !r.ok)!;
      expect(refused).toMatchObject({ ok: false, before: { messages: 3, tokens: 300 } });
      // Told once a day: the first refusal sees told = false, the later ones true.
      expect(results.filter((r) => !r.ok && !r.toldBefore)).toHaveLength(1);

      // Tokens: a turn that needs more than is left is refused whole; settling gives back what was not used.
      const fay = newUser("Fay");
      const first = await usage.reserve(fay.id, { messages: 1, tokens: 800, audioSeconds: 0 }, limits);
      expect(first).toMatchObject({ ok: true, tokens: 800 });
      expect(await usage.reserve(fay.id, { messages: 1, tokens: 300, audioSeconds: 0 }, limits)).toMatchObject({ ok: false, before: { tokens: 800 } });
      await usage.settle(fay.id, (first as { day: string }).day, { messages: -1, tokens: -500 });
      expect(await usage.reserve(fay.id, { messages: 1, tokens: 300, audioSeconds: 0 }, limits)).toMatchObject({ ok: true, tokens: 600 });
      // A first charge of the day larger than the limit is refused too (no row to lock yet).
      expect(await usage.reserve(newUser("Gus").id, { messages: 1, tokens: 5_000, audioSeconds: 0 }, limits)).toMatchObject({ ok: false, before: { messages: 0, tokens: 0 }, toldBefore: false });
    });

    test("speech transcribed is counted per transcription model and reported with the rest", async () => {
      const hal = newUser("Hal");
      await usage.recordAudio(hal.id, "whisper-1", 42);
      await usage.recordAudio(hal.id, "whisper-1", 8);
      expect((await usage.ofUser(hal.id)).today).toEqual({ messages: 0, promptTokens: 0, completionTokens: 0, audioSeconds: 50 });
      const limits = { messages: null, tokens: null, audioSeconds: 60 };
      expect(await usage.reserve(hal.id, { messages: 0, tokens: 0, audioSeconds: 50 }, limits)).toMatchObject({ ok: true });
      expect(await usage.reserve(hal.id, { messages: 0, tokens: 0, audioSeconds: 20 }, limits)).toMatchObject({ ok: false, before: { audioSeconds: 50 } });
    });

    test("usage of earlier days counts for the month, not for today; everyone's list is heaviest first", async () => {
      const cid = newUser("Cid");
      const dee = newUser("Dee");
      await turn(newChat(), cid, "now", { answer: "ok", usage: usageOf("m1", 5, 5) });
      await turn(newChat(), dee, "now", { answer: "ok", usage: usageOf("m1", 1, 1) });
      // Yesterday, unless today is the 1st (then yesterday is last month and counts for neither).
      const firstOfMonth = (await sql<{ first: boolean }>`select extract(day from now() at time zone 'UTC') = 1 as first`.execute(db)).rows[0]!.first;
      await db.insertInto("usage_daily").values({ user_id: cid.id, day: sql<string>`(now() at time zone 'UTC')::date - 1` as unknown as string, model: "m1", messages: 4, prompt_tokens: 400, completion_tokens: 40 }).execute();
      const mine = await usage.ofUser(cid.id);
      expect(mine.today).toEqual({ messages: 1, promptTokens: 5, completionTokens: 5, audioSeconds: 0 });
      expect(mine.month).toEqual(firstOfMonth ? mine.today : { messages: 5, promptTokens: 405, completionTokens: 45, audioSeconds: 0 });
      const everyone = await usage.everyone(1000);
      const ids = everyone.map((r) => r.userId);
      expect(ids.indexOf(BigInt(cid.id))).toBeLessThan(ids.indexOf(BigInt(dee.id)));
      expect(everyone.find((r) => r.userId === BigInt(dee.id))).toMatchObject({ username: "dee", firstName: "Dee", today: { messages: 1, promptTokens: 1, completionTokens: 1, audioSeconds: 0 } });
      expect(await usage.ofUser(newUser("Nobody").id)).toEqual({ today: { messages: 0, promptTokens: 0, completionTokens: 0, audioSeconds: 0 }, month: { messages: 0, promptTokens: 0, completionTokens: 0, audioSeconds: 0 } });
    });

    test("a stopped answer is stored marked interrupted, and is the chat's latest answer", async () => {
      const ivy = newUser("Ivy");
      const chat = newChat();
      expect(await messages.latestAnswer(chat.id)).toBeNull();
      await turn(chat, ivy, "first", { answer: "done" });
      expect(await messages.latestAnswer(chat.id)).toMatchObject({ interrupted: false });
      await turn(chat, ivy, "second", { answer: "half of", usage: usageOf("m", 5, 2, true), interrupted: true });
      const latest = await messages.latestAnswer(chat.id);
      expect(latest).toMatchObject({ interrupted: true });
      expect(latest!.createdAt).toBeInstanceOf(Date);
      const rows = await db.selectFrom("messages").select(["content", "interrupted"]).where("chat_id", "=", BigInt(chat.id)).where("role", "=", "assistant").orderBy("id").execute();
      expect(rows).toEqual([{ content: "done", interrupted: false }, { content: "half of", interrupted: true }]);
    });

    test("/retry: the latest answered turn; its new answer replaces the old (soft-deleted), counted for whoever asked", async () => {
      const jo = newUser("Jo");
      const al = newUser("Al");
      const chat = newChat();
      expect(await messages.latestAnswered(wholeChat(chat.id))).toBeNull();
      await turn(chat, jo, "first", { answer: "a1" });
      await turn(chat, jo, "second", { answer: "a2" });
      const latest = (await messages.latestAnswered(wholeChat(chat.id)))!;
      expect(latest).toMatchObject({ content: "second", userId: BigInt(jo.id), authorName: "Jo" });
      const id = await lease();
      const stored = await commits.commitRetry({ updateId: id, owner: OWNER, turn: latest, userId: al.id, result: { answer: "a2, better", usage: usageOf("m9", 30, 3) } });
      expect(stored?.answerId).toEqual(expect.any(BigInt));
      const rows = await db.selectFrom("messages").select(["content", "deleted_at", "reply_to_id"]).where("chat_id", "=", BigInt(chat.id)).where("role", "=", "assistant").orderBy("id").execute();
      expect(rows.map((r) => [r.content, r.deleted_at === null, r.reply_to_id])).toEqual([
        ["a1", true, expect.any(BigInt)],
        ["a2", false, latest.questionId],
        ["a2, better", true, latest.questionId],
      ]);
      expect((await messages.latestAnswered(wholeChat(chat.id)))!.answerId).toBe(stored!.answerId);
      expect((await usage.ofUser(al.id)).today).toEqual({ messages: 1, promptTokens: 30, completionTokens: 3, audioSeconds: 0 });
      const row = await db.selectFrom("inbox").select(["state", "user_message_id", "answer_id"]).where("update_id", "=", BigInt(id)).executeTakeFirstOrThrow();
      expect(row).toEqual({ state: "answered", user_message_id: latest.questionId, answer_id: stored!.answerId });
      // A failure changes no message and ends the row; a lost lease writes nothing.
      const failed = await lease();
      expect(await commits.commitRetry({ updateId: failed, owner: OWNER, turn: (await messages.latestAnswered(wholeChat(chat.id)))!, userId: al.id, result: { failed: "timeout" } })).toEqual({ answerId: null });
      expect((await db.selectFrom("inbox").select("state").where("update_id", "=", BigInt(failed)).executeTakeFirstOrThrow()).state).toBe("failed");
      expect(await commits.commitRetry({ updateId: failed, owner: OWNER, turn: latest, userId: al.id, result: { answer: "late" } })).toBeNull();
      expect((await messages.latestAnswered(wholeChat(chat.id)))!.answerId).toBe(stored!.answerId);
    });

    test("access rules: set, changed, listed in the order they were last changed", async () => {
      const access = createAccessRepository(db);
      await access.setRule("12345", true, 1);
      await access.setRule("@someone", false, 1);
      await access.setRule("12345", false, 2);
      const rules = await access.rules();
      expect(rules.map((r) => [r.subject, r.allowed, r.changedBy])).toEqual([
        ["@someone", false, 1n],
        ["12345", false, 2n],
      ]);
      expect(rules[0]!.changedAt).toBeInstanceOf(Date);
    });

    test("forgetUser erases the user's messages in every chat and the answers to them, and nothing of anyone else", async () => {
      const eve = newUser("Eve");
      const fay = newUser("Fay");
      const privateChat = { ...newChat(), id: eve.id };
      const group = newChat("supergroup");
      await turn(privateChat, eve, "my secret");
      await turn(group, eve, "group secret");
      await turn(group, fay, "fay's question");
      await turn(group, eve, "failed one", { failed: "timeout" });
      await messages.clearHistory(wholeChat(privateChat.id)); // soft-deleted rows go too
      const erased = await privacy.forgetUser(eve.id);
      expect(erased).toEqual({ messages: 5, quotes: 0, waiting: 0 }); // 3 questions, 2 answers
      const left = await db.selectFrom("messages").select("content").where("chat_id", "in", [BigInt(privateChat.id), BigInt(group.id)]).orderBy("id").execute();
      expect(left.map((m) => m.content)).toEqual(["fay's question", "re: fay's question"]);
      expect(await db.selectFrom("users").select("id").where("id", "=", BigInt(eve.id)).execute()).toEqual([]);
      expect(await db.selectFrom("chats").select("id").where("id", "=", BigInt(eve.id)).execute()).toEqual([]);
      expect(await db.selectFrom("users").select("id").where("id", "=", BigInt(fay.id)).execute()).toHaveLength(1);
      // The inbox rows that stored them forget the ids.
      const refs = await db.selectFrom("inbox").select(["user_message_id", "answer_id"]).where("user_message_id", "is", null).where("state", "in", ["answered", "failed"]).execute();
      expect(refs.length).toBeGreaterThanOrEqual(2);
      expect((await usage.ofUser(eve.id)).today.messages).toBe(0); // these turns carried no usage
      expect((await privacy.forgetUser(eve.id)).messages).toBe(0);
    });

    test("forgetUser erases their /system texts, their quotes in others' turns (and verbatim copies in the answers), and their waiting updates", async () => {
      const gus = newUser("Gus");
      const hal = newUser("Hal");
      const group = newChat("supergroup");
      await db.insertInto("chats").values({ id: group.id, type: "supergroup" }).onConflict((oc) => oc.doNothing()).execute();
      await settings.setSystemPrompt(group.id, "Gus's rule: answer like a pirate", gus.id);
      await settings.setModel(group.id, "other-model", gus.id);
      const other = newChat("supergroup");
      await db.insertInto("chats").values({ id: other.id, type: "supergroup" }).execute();
      await settings.setSystemPrompt(other.id, "Hal's rule", hal.id);
      await settings.setModel(other.id, "m", gus.id); // Gus changed only the model: Hal's text stays

      // Hal replies to Gus, quoting him; the answer repeats the quote word for word.
      const quote = "> Gus lives at 12 Harbour Road\n> \n> and has a dog\n\nwhere does he live?";
      await commits.commitTurn({ ...input(await lease(), group, hal, quote, { answer: "He said: Gus lives at 12 Harbour Road." }), quotedUserId: gus.id });
      // Gus's messages still waiting in the inbox, and another's waiting reply that quotes him.
      const waiting = updateId++;
      const reply = updateId++;
      await inbox.ingest([
        { updateId: waiting, chatId: group.id, threadId: null, messageId: 900, payload: { update_id: waiting, message: { message_id: 900, chat: { id: group.id }, from: { id: gus.id }, text: "Gus's pending words" } } },
        { updateId: reply, chatId: group.id, threadId: null, messageId: 901, payload: { update_id: reply, message: { message_id: 901, chat: { id: group.id }, from: { id: hal.id }, text: "@bot and?", reply_to_message: { message_id: 5, from: { id: gus.id }, text: "Gus's earlier words" } } } },
      ]);

      const erased = await privacy.forgetUser(gus.id);
      expect(erased).toMatchObject({ quotes: 1, waiting: 1 });
      const everything = async (needle: string) => {
        const { rows } = await sql<{ hits: number }>`
          select (select count(*) from messages m where m::text like ${`%${needle}%`}) + (select count(*) from chat_settings s where s::text like ${`%${needle}%`})
               + (select count(*) from inbox i where i::text like ${`%${needle}%`}) as hits`.execute(db);
        return Number(rows[0]!.hits);
      };
      for (const words of ["Harbour Road", "pirate", "pending words", "earlier words"]) expect(await everything(words), words).toBe(0);
      const question = await db.selectFrom("messages").select(["content", "quoted_user_id"]).where("chat_id", "=", BigInt(group.id)).where("role", "=", "user").executeTakeFirstOrThrow();
      expect(question).toEqual({ content: "> [erased]\n\nwhere does he live?", quoted_user_id: null });
      expect((await settings.ofChats([group.id, other.id])).map((s) => s.systemPrompt)).toEqual([null, "Hal's rule"]);
      const byGus = await db.selectFrom("chat_settings").select("chat_id").where((eb) => eb.or([eb("updated_by", "=", BigInt(gus.id)), eb("system_prompt_by", "=", BigInt(gus.id))])).execute();
      expect(byGus).toEqual([]);
      // The reply itself is answered, without the words it replied to.
      const [claimed] = (await inbox.claim(OWNER, 10, 60_000)).filter((r) => Number(r.updateId) === reply);
      expect(JSON.stringify(claimed?.payload)).toContain("@bot and?");
    });

    test("forgetUser moves their usage into the anonymous total and keeps today's charges (a /forget does not lift a limit)", async () => {
      const ida = newUser("Ida");
      await turn(newChat(), ida, "count me", { answer: "ok", usage: usageOf("m-forget", 10, 5) });
      await usage.reserve(ida.id, { messages: 1, tokens: 15, audioSeconds: 0 }, { messages: null, tokens: null, audioSeconds: null });
      const before = await db.selectFrom("usage_daily").select(["messages", "prompt_tokens"]).where("user_id", "=", 0n).where("model", "=", "m-forget").executeTakeFirst();
      await privacy.forgetUser(ida.id);
      expect(await db.selectFrom("usage_daily").select("user_id").where("user_id", "=", BigInt(ida.id)).execute()).toEqual([]);
      const after = await db.selectFrom("usage_daily").select(["messages", "prompt_tokens"]).where("user_id", "=", 0n).where("model", "=", "m-forget").executeTakeFirstOrThrow();
      expect(after.messages - (before?.messages ?? 0)).toBe(1);
      expect(Number(after.prompt_tokens) - Number(before?.prompt_tokens ?? 0)).toBe(10);
      expect((await usage.charged(ida.id)).messages).toBe(1);
    });

    test("purgeDeleted erases soft-deleted rows past the retention, oldest first and at most `limit`, and never live ones", async () => {
      const gus = newUser("Gus");
      const old = newChat();
      const recent = newChat();
      const live = newChat();
      for (const i of [1, 2, 3]) await turn(old, gus, `old ${i}`);
      await turn(recent, gus, "recent");
      await turn(live, gus, "live");
      await messages.clearHistory(wholeChat(old.id));
      await messages.clearHistory(wholeChat(recent.id));
      await db.updateTable("messages").set({ deleted_at: sql<Date>`now() - interval '40 days'` }).where("chat_id", "=", BigInt(old.id)).execute();
      await db.updateTable("messages").set({ deleted_at: sql<Date>`now() - interval '10 days'` }).where("chat_id", "=", BigInt(recent.id)).execute();
      const count = async (chat: ChatInfo) => Number((await db.selectFrom("messages").select((eb) => eb.fn.countAll().as("n")).where("chat_id", "=", BigInt(chat.id)).executeTakeFirstOrThrow()).n);
      expect(await messages.purgeDeleted(30, 4)).toBe(4);
      expect(await count(old)).toBe(2);
      let purged = await messages.purgeDeleted(30, 4);
      while (purged > 0) purged = await messages.purgeDeleted(30, 4); // other tests' rows may be old too
      expect(await count(old)).toBe(0);
      expect(await count(recent)).toBe(2);
      expect(await count(live)).toBe(2);
    });
  });
}
