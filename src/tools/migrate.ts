/**
 * The migration tool behind `make db-migrate` and `make db-reset`: the same store as the bot
 * (PostgreSQL when DATABASE_URL is set, else the embedded one), named before it is touched, and
 * every failure said in one line. (`npx kysely …`, kysely-ctl, remains for making migrations and
 * for anything else by hand.)
 *
 *   node src/tools/migrate.ts latest            apply pending migrations
 *   node src/tools/migrate.ts reset [--force]   roll every migration back, then apply them again
 */
import { createInterface } from "node:readline/promises";
import { NO_MIGRATIONS, type MigrationResult } from "kysely/migration";
import { parseDatabaseConfig, readEnvironment } from "../config.ts";
import { createDatabase } from "../db/connection.ts";
import { createMigrator } from "../db/migrations.ts";
import { describeStore } from "../db/store-errors.ts";
import { describeError, ToolError } from "./errors.ts";

function report(results: readonly MigrationResult[] | undefined, verb: string): void {
  for (const r of results ?? []) {
    const what = r.status === "Success" ? verb : r.status === "Error" ? "FAILED" : "not run";
    console.log(`  ${what}: ${r.migrationName}`);
  }
}

async function confirmReset(store: string, force: boolean): Promise<void> {
  if (force) return;
  if (!process.stdin.isTTY) {
    throw new ToolError(`db-reset erases every table of ${store}. To go on without a terminal to confirm in, run: make db-reset FORCE=1`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`This erases every table of ${store}. Type "yes" to go on: `);
    if (answer.trim().toLowerCase() !== "yes") throw new ToolError("Nothing was changed.");
  } finally {
    rl.close();
  }
}

async function run(args: string[]): Promise<void> {
  const [command, ...flags] = args;
  if (command !== "latest" && command !== "reset") throw new ToolError("usage: node src/tools/migrate.ts latest | reset [--force]");
  const config = parseDatabaseConfig(readEnvironment());
  const store = describeStore(config);
  if (command === "reset") await confirmReset(store, flags.includes("--force"));
  const db = createDatabase(config);
  try {
    const migrator = createMigrator(db);
    if (command === "reset") {
      console.log(`Rolling back every migration of ${store}`);
      const down = await migrator.migrateTo(NO_MIGRATIONS).catch((error: unknown) => {
        throw new ToolError(describeError(error, store));
      });
      report(down.results, "rolled back");
      if (down.error) throw new ToolError(describeError(down.error, store));
    }
    console.log(`Migrating ${store}`);
    const up = await migrator.migrateToLatest().catch((error: unknown) => {
      throw new ToolError(describeError(error, store));
    });
    report(up.results, "applied");
    if (up.error) throw new ToolError(describeError(up.error, store));
    if ((up.results ?? []).length === 0) console.log("  already up to date");
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  let store = "the store";
  try {
    store = describeStore(parseDatabaseConfig(readEnvironment()));
  } catch {
    // the configuration itself is what failed: its message says so
  }
  process.stderr.write(`${describeError(error, store)}\n`);
  process.exitCode = 1;
}
