/**
 * `make db-copy` (npm run db:copy), as an operator moving from the embedded store to PostgreSQL:
 * every table copied, counts checked, new rows get new ids; a target that is not migrated or not
 * empty is refused in one line, and nothing is written.
 */
import { sql } from "kysely";
import { afterEach, describe, expect, test } from "vitest";
import { createDatabase } from "../../src/db/connection.ts";
import { createAccessRepository } from "../../src/db/access.repository.ts";
import { createInboxRepository } from "../../src/db/inbox.repository.ts";
import { createMessageRepository } from "../../src/db/message.repository.ts";
import { createTurnCommitRepository } from "../../src/db/turn-commit.repository.ts";
import { wholeChat } from "../../src/domain/chats.ts";
import { migrate } from "../helpers/audit.ts";
import { npmRun } from "../helpers/bot-process.ts";
import { createTempPglite, createTempPostgres, TEST_DATABASE_URL, type TestStore } from "../helpers/stores.ts";

const stores: TestStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.drop();
});

/** An embedded store with a bit of everything: answers with usage, a /clear, an unfinished update, a rule. */
async function filledPglite(): Promise<TestStore> {
  const store = createTempPglite();
  stores.push(store);
  await migrate(store.config);
  const db = createDatabase(store.config);
  try {
    const inbox = createInboxRepository(db);
    const messages = createMessageRepository(db);
    const commits = createTurnCommitRepository(db);
    const chats = [{ id: 42, type: "private", title: null }, { id: -1001234567890, type: "supergroup", title: "Grüße 👋" }];
    const user = { id: 42, username: "ann", firstName: "Ann", lastName: null };
    for (let i = 1; i <= 6; i++) {
      await inbox.ingest([{ updateId: i, chatId: chats[i % 2]!.id, threadId: null, messageId: i, payload: { update_id: i } }]);
      await db.updateTable("inbox").set({ state: "working", lease_owner: "o", lease_until: sql<Date>`now() + interval '1 minute'` }).where("update_id", "=", BigInt(i)).execute();
      await commits.commitTurn({
        updateId: i, owner: "o", chat: chats[i % 2]!, conversation: "", user, content: `question ${i} — “quoted” \\ 🎉`, telegramMessageId: i,
        result: { answer: `answer ${i}`, usage: { model: "m", promptTokens: 10 * i, completionTokens: i, estimated: i % 2 === 0 } },
      });
    }
    await messages.clearHistory(wholeChat(42));
    await inbox.ingest([{ updateId: 7, chatId: 42, threadId: null, messageId: 7, payload: { update_id: 7, message: { text: "waiting ✉️" } } }]);
    await createAccessRepository(db).setRule("@ann", true, 1);
  } finally {
    await db.destroy();
  }
  return store;
}

describe.skipIf(!TEST_DATABASE_URL)("db-copy: from the embedded store to PostgreSQL", () => {
  test("copies every table, checks the counts, and the copy works as a store", { timeout: 60_000 }, async () => {
    const source = await filledPglite();
    const target = await createTempPostgres();
    stores.push(target);
    await migrate(target.config);
    const env = { PGLITE_DATA_DIR: (source.config as { dataDir: string }).dataDir, DATABASE_URL: (target.config as { url: string }).url };

    // Small batches, so the big tables take several.
    const { code, output } = await npmRun("db:copy", env, ["--batch-size=5"]);
    expect(output, output).toMatch(/Copying the embedded store .* into PostgreSQL database "parley_t_/);
    expect(code, output).toBe(0);
    for (const line of ["users: 1 of 1 rows", "chats: 2 of 2 rows", "messages: 12 of 12 rows", "inbox: 7 of 7 rows", "access_rules: 1 of 1 rows", "usage_daily: 1 of 1 rows"]) {
      expect(output).toContain(line);
    }

    const [src, dst] = [createDatabase(source.config), createDatabase(target.config)];
    try {
      const read = (db: typeof src) =>
        db.selectFrom("messages").select(["id", "chat_id", "content", "char_length", "deleted_at", "reply_to_id", "prompt_tokens", "usage_estimated"]).orderBy("id").execute();
      expect(await read(dst)).toEqual(await read(src));
      const payload = await dst.selectFrom("inbox").select(["payload", "state"]).where("update_id", "=", 7n).executeTakeFirstOrThrow();
      expect(payload).toEqual({ payload: { update_id: 7, message: { text: "waiting ✉️" } }, state: "received" });
      expect(await dst.selectFrom("usage_daily").select(["messages", "prompt_tokens"]).execute()).toEqual([{ messages: 6, prompt_tokens: 210n }]);
      // New rows get ids after the copied ones.
      const { id } = await dst.insertInto("messages").values({ chat_id: 42, user_id: 42, role: "user", content: "after the move" }).returning("id").executeTakeFirstOrThrow();
      expect(id).toBe(13n);
    } finally {
      await Promise.all([src.destroy(), dst.destroy()]);
    }

    // Again: the target is not empty now, and is left as it is.
    const again = await npmRun("db:copy", env);
    expect(again.code).toBe(1);
    expect(again.output.trim()).toMatch(/^PostgreSQL database "parley_t_\w+" on 127\.0\.0\.1:5432 is not empty \(\w+ has \d+ rows\): db-copy only fills an empty database\.$/m);
    expect(again.output).not.toMatch(/\n\s+at /); // no stack trace
  });

  test("a target that is not migrated, or no DATABASE_URL, or no embedded store: one clear line each", { timeout: 60_000 }, async () => {
    const source = await filledPglite();
    const target = await createTempPostgres();
    stores.push(target);
    const dataDir = (source.config as { dataDir: string }).dataDir;
    const url = (target.config as { url: string }).url;

    const unmigrated = await npmRun("db:copy", { PGLITE_DATA_DIR: dataDir, DATABASE_URL: url });
    expect(unmigrated.code).toBe(1);
    expect(unmigrated.output).toMatch(/is not migrated \(\d+ pending\)\. Run make db-migrate with this DATABASE_URL first\./);

    const noUrl = await npmRun("db:copy", { PGLITE_DATA_DIR: dataDir, DATABASE_URL: "" });
    expect(noUrl.code).toBe(1);
    expect(noUrl.output).toContain("DATABASE_URL is required");

    const noStore = await npmRun("db:copy", { PGLITE_DATA_DIR: `${dataDir}-missing`, DATABASE_URL: url });
    expect(noStore.code).toBe(1);
    expect(noStore.output.trim()).toBe(`There is no embedded store at ${dataDir}-missing (PGLITE_DATA_DIR): nothing to copy.`);
  });
});
