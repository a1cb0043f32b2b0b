/**
 * `make db-copy`: moves the embedded store (PGLITE_DATA_DIR) into a PostgreSQL server
 * (DATABASE_URL), for an operator who outgrew the default setup. The target must be migrated and
 * empty; every table is copied in one transaction, its row counts checked against the source
 * before it commits, so a copy is whole or not at all. The embedded store is left as it was
 * (brought up to the current schema first, as the bot itself would on start).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { parseCopyConfig, readEnvironment } from "../config.ts";
import { createDatabase } from "../db/connection.ts";
import { createMigrator, migrateToLatest, pendingMigrations } from "../db/migrations.ts";
import { countRows, readBatch, resetIdentity, tablesOf, writeBatch } from "../db/store-copy.repository.ts";
import { describeStore } from "../db/store-errors.ts";
import { describeError, ToolError } from "./errors.ts";

/** Rows per batch (`--batch-size=N` to change it). */
const DEFAULT_BATCH = 5_000;

async function run(args: string[]): Promise<void> {
  const sizeArg = args.find((a) => a.startsWith("--batch-size="));
  const BATCH = sizeArg ? Number(sizeArg.split("=")[1]) : DEFAULT_BATCH;
  if (!Number.isInteger(BATCH) || BATCH < 1) throw new ToolError("usage: node src/tools/copy-store.ts [--batch-size=N]");
  const { from, to } = parseCopyConfig(readEnvironment());
  const source = describeStore(from);
  const target = describeStore(to);
  if (!existsSync(path.join(from.dataDir, "PG_VERSION"))) {
    throw new ToolError(`There is no embedded store at ${from.dataDir} (PGLITE_DATA_DIR): nothing to copy.`);
  }
  const src = createDatabase(from);
  const dst = createDatabase(to);
  try {
    const applied = await migrateToLatest(createMigrator(src)).catch((error: unknown) => {
      throw new ToolError(describeError(error, source));
    });
    for (const r of applied.results ?? []) console.log(`  brought ${source} up to date: ${r.migrationName}`);

    const pending = await pendingMigrations(createMigrator(dst)).catch((error: unknown) => {
      throw new ToolError(describeError(error, target));
    });
    if (pending.length > 0) {
      throw new ToolError(`${target} is not migrated (${pending.length} pending). Run make db-migrate with this DATABASE_URL first.`);
    }
    const tables = await tablesOf(dst);
    for (const table of tables) {
      const rows = await countRows(dst, table.name);
      if (rows > 0) throw new ToolError(`${target} is not empty (${table.name} has ${rows} rows): db-copy only fills an empty database.`);
    }

    console.log(`Copying ${source} into ${target}`);
    await dst.transaction().execute(async (tx) => {
      for (const table of tables) {
        let after: string | null = null;
        for (;;) {
          const batch = await readBatch(src, table, after, BATCH);
          if (batch.count > 0) await writeBatch(tx, table, batch.json);
          if (!table.key || batch.count < BATCH) break;
          after = batch.last;
        }
        await resetIdentity(tx, table);
        const [expected, copied] = [await countRows(src, table.name), await countRows(tx, table.name)];
        console.log(`  ${table.name}: ${copied} of ${expected} rows`);
        if (copied !== expected) throw new ToolError(`${table.name}: copied ${copied} rows of ${expected}; nothing was written.`);
      }
    });
    console.log(`Done: every row is in ${target}. Set DATABASE_URL to it in .env and start the bot; keep ${from.dataDir} as a backup until you are happy.`);
  } finally {
    await Promise.all([src.destroy().catch(() => undefined), dst.destroy().catch(() => undefined)]);
  }
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  let store = "the store";
  try {
    store = describeStore(parseCopyConfig(readEnvironment()).to);
  } catch {
    // the configuration itself is what failed: its message says so
  }
  process.stderr.write(`${describeError(error, store)}\n`);
  process.exitCode = 1;
}
