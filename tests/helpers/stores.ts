/**
 * The two stores the repository must behave identically on: the embedded PGlite (always) and a
 * real PostgreSQL server (when TEST_DATABASE_URL is set; CI always sets it).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Kysely, type CompiledQuery } from "kysely";
import pg from "pg";
import type { DatabaseConfig } from "../../src/config.ts";
import { createDialect } from "../../src/db/connection.ts";
import type { Database } from "../../src/db/database.ts";
import { createMigrator, migrateToLatest } from "../../src/db/migrations.ts";

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

/** One statement on a PostgreSQL database, on a connection of its own (past the bot and any proxy in front of it). */
export async function queryPostgres(url: string, text: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface TestStore {
  config: DatabaseConfig;
  /** Removes the store (drops the database, deletes the PGlite directory). */
  drop(): Promise<void>;
}

/** A brand-new, empty database on the server behind TEST_DATABASE_URL. */
export async function createTempPostgres(): Promise<TestStore> {
  if (!TEST_DATABASE_URL) throw new Error("TEST_DATABASE_URL is not set");
  const name = `parley_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    config: { kind: "postgres", url: url.toString() },
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

export function createTempPglite(): TestStore {
  const dataDir = mkdtempSync(path.join(tmpdir(), "parley-pglite-"));
  return {
    config: { kind: "pglite", dataDir },
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface StoreKind {
  name: "pglite" | "postgres";
  enabled: boolean;
  create(): Promise<TestStore>;
}

export const STORES: StoreKind[] = [
  { name: "pglite", enabled: true, create: async () => createTempPglite() },
  { name: "postgres", enabled: Boolean(TEST_DATABASE_URL), create: createTempPostgres },
];

/** A migrated database in a fresh store, and how to get rid of both. */
export async function openMigrated(
  kind: StoreKind,
): Promise<{ db: Kysely<Database>; queries: CompiledQuery[]; close(): Promise<void> }> {
  const store = await kind.create();
  const queries: CompiledQuery[] = [];
  const db = new Kysely<Database>({
    dialect: createDialect(store.config),
    log: (event) => {
      if (event.level === "query") queries.push(event.query);
    },
  });
  await migrateToLatest(createMigrator(db));
  return {
    db,
    queries,
    async close() {
      await db.destroy();
      await store.drop();
    },
  };
}
