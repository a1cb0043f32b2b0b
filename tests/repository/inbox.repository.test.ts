/**
 * The inbox contract, on both stores: what goes in once, what comes out in chat order, and
 * what a lease guarantees between instances (two owners here stand for two processes).
 */
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { Database } from "../../src/db/database.ts";
import { createInboxRepository, type IncomingUpdate, type InboxRepository } from "../../src/db/inbox.repository.ts";
import { openMigrated, STORES } from "../helpers/stores.ts";

const LEASE_MS = 60_000;
const update = (updateId: number, chatId: number, messageId: number | null = updateId): IncomingUpdate => ({
  updateId,
  chatId,
  threadId: null,
  messageId,
  payload: { update_id: updateId, message: { message_id: messageId, chat: { id: chatId } } },
});

for (const store of STORES) {
  describe.skipIf(!store.enabled)(`inbox repository on ${store.name}`, () => {
    let db: Kysely<Database>;
    let inbox: InboxRepository;
    let close: () => Promise<void>;

    beforeAll(async () => {
      ({ db, close } = await openMigrated(store));
      inbox = createInboxRepository(db);
    });
    afterAll(async () => close?.());
    // Each test starts from an empty inbox: claims see every row.
    beforeEach(async () => {
      await db.deleteFrom("inbox").execute();
    });

    const ids = (claimed: { updateId: bigint }[]) => claimed.map((c) => Number(c.updateId));
    const finishAll = async (owner: string, claimed: { updateId: bigint }[]) => {
      for (const c of claimed) expect((await inbox.finish(c.updateId, owner, "done")).held).toBe(true);
    };

    test("ingests an update once, however often it arrives, and keeps its payload", async () => {
      expect(await inbox.ingest([update(1, 10), update(2, 10)])).toBe(2);
      expect(await inbox.ingest([update(1, 10), update(2, 10), update(3, 10)])).toBe(1);
      // The same message under a new update id (Telegram re-sent it) is not a new turn.
      expect(await inbox.ingest([update(4, 10, 3)])).toBe(0);
      expect(await inbox.ingest([])).toBe(0);
      const rows = await db.selectFrom("inbox").select(["update_id", "state", "payload"]).orderBy("update_id").execute();
      expect(rows.map((r) => [Number(r.update_id), r.state])).toEqual([[1, "received"], [2, "received"], [3, "received"]]);
      expect(rows[0]!.payload).toEqual(update(1, 10).payload);
    });

    test("takes an update whose text jsonb cannot hold (NUL, a lone surrogate): it must not block the inbox", async () => {
      const odd = { ...update(1, 10), payload: { update_id: 1, message: { text: "a\u0000b \ud800 \\u0000 ok" } } };
      expect(await inbox.ingest([odd])).toBe(1);
      const row = await db.selectFrom("inbox").select("payload").where("update_id", "=", BigInt(1)).executeTakeFirstOrThrow();
      expect(row.payload).toEqual({ update_id: 1, message: { text: "ab \ufffd \\u0000 ok" } });
    });

    test("hands out one update per chat at a time, oldest first, across owners", async () => {
      await inbox.ingest([update(1, 10), update(2, 20), update(3, 10), update(4, 30), update(5, 20)]);
      const a = await inbox.claim("a", 100, LEASE_MS);
      expect(ids(a)).toEqual([1, 2, 4]);
      expect(a.every((c) => c.state === "working" && c.attempts === 1)).toBe(true);
      // Another instance gets nothing: every chat's head is leased.
      expect(await inbox.claim("b", 100, LEASE_MS)).toEqual([]);
      // Ending a turn says whether its chat has a next update waiting.
      expect(await inbox.finish(2, "a", "done")).toEqual({ held: true, chatHasMore: true });
      expect(await inbox.finish(4, "a", "done")).toEqual({ held: true, chatHasMore: false });
      await finishAll("a", a.filter((c) => c.chatId === 10n));
      const b = await inbox.claim("b", 100, LEASE_MS);
      expect(ids(b)).toEqual([3, 5]);
      expect(b[0]!.payload).toEqual(update(3, 10).payload);
      expect(await inbox.claim("c", 100, LEASE_MS)).toEqual([]);
    });

    test("respects the claim limit, oldest chats' heads first", async () => {
      await inbox.ingest([update(1, 10), update(2, 20), update(3, 30)]);
      expect(ids(await inbox.claim("a", 2, LEASE_MS))).toEqual([1, 2]);
      expect(ids(await inbox.claim("b", 2, LEASE_MS))).toEqual([3]);
    });

    test("one chat's long backlog does not hide the others: each chat's head, and the oldest of the chatless updates; each says whether its chat has more", async () => {
      await sql`insert into inbox (update_id, chat_id, payload) select g, 7, '{}'::jsonb from generate_series(1000, 2999) g`.execute(db);
      await inbox.ingest([update(3000, 8), update(3001, 9), { ...update(5, 0), chatId: null }, { ...update(6, 0), chatId: null }]);
      const claimed = await inbox.claim("a", 100, LEASE_MS);
      expect(ids(claimed)).toEqual([5, 1000, 3000, 3001]);
      expect(claimed.map((c) => c.chatHasMore)).toEqual([false, true, false, false]);
    });

    test("concurrent claimers never take the same row, and never two rows of one chat", async () => {
      const updates = Array.from({ length: 60 }, (_, i) => update(i + 1, 100 + (i % 12)));
      await inbox.ingest(updates);
      const owners = ["a", "b", "c", "d"];
      const claimed = (await Promise.all(owners.map((o) => inbox.claim(o, 100, LEASE_MS)))).flat();
      const chats = claimed.map((c) => c.chatId);
      expect(new Set(chats).size).toBe(chats.length);
      expect(new Set(ids(claimed)).size).toBe(claimed.length);
      expect(ids(claimed).every((id) => id <= 12)).toBe(true);
    });

    test("a dead owner's lease runs out and another owner takes the turn over", async () => {
      await inbox.ingest([update(1, 10), update(2, 10)]);
      const [first] = await inbox.claim("dead", 10, LEASE_MS);
      expect(await inbox.claim("alive", 10, LEASE_MS)).toEqual([]);
      await db.updateTable("inbox").set({ lease_until: sql<Date>`now() - interval '1 second'` }).where("update_id", "=", BigInt(first!.updateId)).execute();
      const taken = await inbox.claim("alive", 10, LEASE_MS);
      expect(ids(taken)).toEqual([1]);
      expect(taken[0]).toMatchObject({ state: "working", attempts: 2 });
      // The dead owner, should it wake up, can no longer end or give back the row.
      expect(await inbox.finish(1, "dead", "done")).toEqual({ held: false, chatHasMore: false });
      expect(await inbox.release(1, "dead")).toBe(false);
      expect(await inbox.renewLeases("dead", LEASE_MS)).toBe(0);
      expect(await inbox.renewLeases("alive", LEASE_MS)).toBe(1);
    });

    test("a released turn waits out its delay, and a stored answer stays stored", async () => {
      await inbox.ingest([update(1, 10), update(2, 20)]);
      await inbox.claim("a", 10, LEASE_MS);
      expect(await inbox.release(1, "a", { delayMs: 60_000 })).toBe(true);
      await db.updateTable("inbox").set({ state: "answered" }).where("update_id", "=", BigInt(2)).execute();
      expect(await inbox.release(2, "a", { delivery: { parts: 1, previewMessageId: 7 } })).toBe(true);
      const now = await inbox.claim("b", 10, LEASE_MS);
      expect(ids(now)).toEqual([2]);
      expect(now[0]).toMatchObject({ state: "answered", delivery: { parts: 1, previewMessageId: 7 } });
      // Chat 10 waits (a flood wait, say) — and so does everything after it in that chat.
      await inbox.ingest([update(3, 10)]);
      expect(await inbox.claim("b", 10, LEASE_MS)).toEqual([]);
      await db.updateTable("inbox").set({ not_before: sql<Date>`now() - interval '1 second'` }).where("update_id", "=", BigInt(1)).execute();
      const later = await inbox.claim("b", 10, LEASE_MS);
      expect(later.map((c) => [Number(c.updateId), c.state])).toEqual([[1, "working"]]);
    });

    test("claiming a stored answer returns its text, for delivery without the model", async () => {
      await inbox.ingest([update(1, 10)]);
      await inbox.claim("a", 10, LEASE_MS);
      await db.insertInto("chats").values({ id: 10, type: "private", title: null, updated_at: new Date() }).onConflict((oc) => oc.doNothing()).execute();
      const answer = await db.insertInto("messages").values({ chat_id: 10, role: "assistant", content: "the answer" }).returning("id").executeTakeFirstOrThrow();
      await db.updateTable("inbox").set({ state: "answered", answer_id: answer.id, lease_owner: null, lease_until: null }).where("update_id", "=", BigInt(1)).execute();
      const [claimed] = await inbox.claim("b", 10, LEASE_MS);
      expect(claimed).toMatchObject({ state: "answered", answer: { id: answer.id, content: "the answer" } });
    });

    test("finish ends a row for good and drops its payload; finished rows are pruned by age", async () => {
      await inbox.ingest([update(1, 10), update(2, 20)]);
      await inbox.claim("a", 10, LEASE_MS);
      expect(await inbox.finish(1, "a", "delivered")).toEqual({ held: true, chatHasMore: false });
      expect(await inbox.finish(2, "a", "failed", "bad request")).toEqual({ held: true, chatHasMore: false });
      const rows = await db.selectFrom("inbox").selectAll().orderBy("update_id").execute();
      expect(rows.map((r) => [r.state, r.payload, r.lease_owner, r.error])).toEqual([
        ["delivered", null, null, null],
        ["failed", null, null, "bad request"],
      ]);
      expect(await inbox.claim("a", 10, LEASE_MS)).toEqual([]);
      expect(await inbox.backlog()).toEqual({ unfinished: 0, oldestMs: null });
      expect(await inbox.pruneFinished(60_000, 100)).toBe(0);
      await db.updateTable("inbox").set({ finished_at: sql<Date>`now() - interval '2 minutes'` }).where("update_id", "=", BigInt(1)).execute();
      expect(await inbox.pruneFinished(60_000, 100)).toBe(1);
      expect(ids(await db.selectFrom("inbox").select("update_id as updateId").execute())).toEqual([2]);
    });

    test("finishMany ends many rows in one statement, each as asked; a row not held is reported, untouched", async () => {
      await inbox.ingest([update(1, 10), update(2, 20), update(3, 30), update(4, 30)]);
      await inbox.claim("a", 10, LEASE_MS); // 1, 2 and 3: the heads of their chats
      await db.updateTable("inbox").set({ lease_owner: "b" }).where("update_id", "=", BigInt(2)).execute();
      const results = await inbox.finishMany([
        { updateId: 3, owner: "a", state: "delivered" },
        { updateId: 2, owner: "a", state: "done" },
        { updateId: 1, owner: "a", state: "failed", error: "too many attempts" },
        { updateId: 99, owner: "a", state: "done" },
      ]);
      expect(results).toEqual([
        { held: true, chatHasMore: true }, // chat 30 still has update 4
        { held: false, chatHasMore: false },
        { held: true, chatHasMore: false },
        { held: false, chatHasMore: false },
      ]);
      const rows = await db.selectFrom("inbox").select(["update_id", "state", "lease_owner", "error", "payload"]).orderBy("update_id").execute();
      expect(rows.map((r) => [Number(r.update_id), r.state, r.lease_owner, r.error, r.payload === null])).toEqual([
        [1, "failed", null, "too many attempts", true],
        [2, "working", "b", null, false],
        [3, "delivered", null, null, true],
        [4, "received", null, null, false],
      ]);
      expect(await inbox.finishMany([])).toEqual([]);
    });

    test("a paste's pieces: pending lists the chat's waiting updates; absorb merges them into the held one, or does nothing without the lease", async () => {
      await inbox.ingest([update(1, 10), update(2, 10), update(3, 20), update(4, 10)]);
      const [head] = await inbox.claim("me", 1, LEASE_MS);
      expect((await inbox.pending(10, 1, 10)).map((p) => Number(p.updateId))).toEqual([1, 2, 4]);
      expect((await inbox.pending(10, 2, 1)).map((p) => Number(p.updateId))).toEqual([2]);
      expect((await inbox.pending(10, 1, 10))[1]!.receivedAt).toBeInstanceOf(Date);
      expect(await inbox.absorb(head!.updateId, "someone else", { merged: true }, [2])).toBe(false);
      expect(await db.selectFrom("inbox").select("state").where("update_id", "=", BigInt(2)).executeTakeFirstOrThrow()).toEqual({ state: "received" });
      expect(await inbox.absorb(head!.updateId, "me", { update_id: 1, merged: true }, [2, 4])).toBe(true);
      const rows = await db.selectFrom("inbox").select(["update_id", "state", "payload", "error"]).orderBy("update_id").execute();
      expect(rows.map((r) => [Number(r.update_id), r.state, r.error])).toEqual([[1, "working", null], [2, "done", "merged"], [3, "received", null], [4, "done", "merged"]]);
      expect(rows[0]!.payload).toEqual({ update_id: 1, merged: true });
      // The merged row runs on; nothing of its chat is waiting behind it.
      await inbox.finish(head!.updateId, "me", "done");
      expect(ids(await inbox.claim("me", 10, LEASE_MS))).toEqual([3]);
    });

    test("releaseAllLeases (one-process store, at start) makes every turn claimable again", async () => {
      await inbox.ingest([update(1, 10), update(2, 20)]);
      await inbox.claim("crashed", 10, LEASE_MS);
      await db.updateTable("inbox").set({ state: "answered" }).where("update_id", "=", BigInt(2)).execute();
      expect(await inbox.releaseAllLeases()).toBe(2);
      const claimed = await inbox.claim("restarted", 10, LEASE_MS);
      expect(claimed.map((c) => [Number(c.updateId), c.state])).toEqual([[1, "working"], [2, "answered"]]);
      const backlog = await inbox.backlog();
      expect(backlog.unfinished).toBe(2);
      expect(backlog.oldestMs).toBeGreaterThanOrEqual(0);
    });
  });
}
