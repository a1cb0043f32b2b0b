/**
 * LISTEN/NOTIFY between instances (PostgreSQL only: an embedded store has one process).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Kysely } from "kysely";
import { pino } from "pino";
import { createDatabase } from "../../src/db/connection.ts";
import type { Database } from "../../src/db/database.ts";
import { createInboxRepository, INBOX_CHANNEL, type InboxRepository } from "../../src/db/inbox.repository.ts";
import { listen, type Listener } from "../../src/db/notifications.ts";
import { migrate } from "../helpers/audit.ts";
import { createTempPostgres, TEST_DATABASE_URL, type TestStore } from "../helpers/stores.ts";

describe.skipIf(!TEST_DATABASE_URL)("inbox notifications on postgres", () => {
  let store: TestStore;
  let db: Kysely<Database>;
  let inbox: InboxRepository;
  let listener: Listener | undefined;
  const received: string[] = [];
  let onReceived: (() => void) | undefined;

  beforeAll(async () => {
    store = await createTempPostgres();
    await migrate(store.config);
    db = createDatabase(store.config);
    inbox = createInboxRepository(db);
  });
  afterAll(async () => {
    await listener?.close();
    await db?.destroy();
    await store?.drop();
  });

  const next = () =>
    new Promise<string>((resolve) => {
      if (received.length > 0) return resolve(received.shift()!);
      onReceived = () => {
        onReceived = undefined;
        resolve(received.shift()!);
      };
    });
  const update = (id: number) => ({ updateId: id, chatId: 7, threadId: null, messageId: id, payload: { update_id: id } });

  test("an ingest that stored something names its instance; one that stored nothing is silent", async () => {
    const url = (store.config as { url: string }).url;
    listener = listen(url, { [INBOX_CHANNEL]: (payload) => (received.push(payload), onReceived?.()) }, pino({ level: "silent" }));
    expect(await next()).toBe(""); // on connecting: look for what was sent before
    await inbox.ingest([update(1)], "instance-a");
    expect(await next()).toBe("instance-a");
    await inbox.ingest([update(1)], "instance-a"); // a duplicate: nothing new, no notification
    await inbox.ingest([update(2)], "instance-b");
    expect(await next()).toBe("instance-b"); // notifications arrive in commit order
    await inbox.ingest([update(3)]);
    expect(await next()).toBe("");
  });
});
