import type { Kysely } from "kysely";
import { FileMigrationProvider, Migrator, type MigrationResultSet } from "kysely/migration";
import { promises as fs } from "node:fs";
import path from "node:path";

export const MIGRATIONS_FOLDER = path.resolve(import.meta.dirname, "../../migrations");

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator works on any schema
export function createMigrator(db: Kysely<any>, migrationFolder = MIGRATIONS_FOLDER): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder }),
  });
}

/**
 * The prefix of a new migration's name: its UTC time as YYYYMMDDHHMMSS_, the form of every
 * migration in the folder, so that names sort in the order they were written. (kysely-ctl's own
 * default, milliseconds since 1970, sorts before them all, and the Migrator then refuses a
 * database whose applied migrations are not a prefix of the list: "corrupted migrations".)
 */
export function migrationPrefix(now: Date): string {
  return `${now.toISOString().replace(/\D/g, "").slice(0, 14)}_`;
}

/** Names every migration must have: the prefix above, then lowercase words. */
export const MIGRATION_NAME = /^\d{14}_[a-z0-9_]+\.ts$/;

export class PendingMigrationsError extends Error {
  readonly pending: string[];
  constructor(pending: string[]) {
    super(
      `The database schema is not up to date: ${pending.length} migration(s) pending (${pending.join(", ")}). ` +
        "Run `make db-migrate` and start the bot again.",
    );
    this.name = "PendingMigrationsError";
    this.pending = pending;
  }
}

export async function pendingMigrations(migrator: Migrator): Promise<string[]> {
  const migrations = await migrator.getMigrations();
  return migrations.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/** Fails with PendingMigrationsError when the schema is behind the code. */
export async function assertMigrated(migrator: Migrator): Promise<void> {
  const pending = await pendingMigrations(migrator);
  if (pending.length > 0) throw new PendingMigrationsError(pending);
}

export async function migrateToLatest(migrator: Migrator): Promise<MigrationResultSet> {
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}
