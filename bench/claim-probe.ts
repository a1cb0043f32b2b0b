import { sql } from "kysely";
import { createInboxRepository } from "../src/db/inbox.repository.ts";
import { openMigrated, STORES } from "../tests/helpers/stores.ts";
for (const store of STORES.filter((s) => s.enabled)) {
  const { db, close } = await openMigrated(store);
  const inbox = createInboxRepository(db);
  const time = async () => {
    const samples: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      const rows = await inbox.claim("probe", 100, 1);
      samples.push(performance.now() - t);
      if (rows.length) await db.updateTable("inbox").set({ lease_owner: null, lease_until: null, state: "received" }).where("lease_owner", "=", "probe").execute();
    }
    return samples.sort((a, b) => a - b)[15]!;
  };
  for (let i = 0; i < 5; i++) await time();
  const empty = await time();
  await sql`insert into inbox (update_id, chat_id, payload) select g, 1, '{}'::jsonb from generate_series(1, 100000) g`.execute(db);
  await sql`analyze inbox`.execute(db);
  const full = await time();
  console.log(store.name, "empty", empty.toFixed(2), "ms; 100k in one chat", full.toFixed(2), "ms; ratio", (full / empty).toFixed(2));
  await close();
}
