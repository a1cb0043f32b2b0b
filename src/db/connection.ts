import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect, PostgresDialect, type Dialect } from "kysely";
import { mkdirSync } from "node:fs";
import pg from "pg";
import type { DatabaseConfig } from "../config.ts";
import type { Database } from "./database.ts";

const INT8_OID = 20;
const PGLITE_SHARED_BUFFERS = "32MB";
/** int8 (bigint) as JS bigint: pg alone would return strings, PGlite returns bigint. */
const parseInt8 = (value: string) => BigInt(value);

export interface DialectOptions {
  /** Called when an idle pooled connection dies (the server restarted, the network dropped). */
  onIdleError?: (error: Error) => void;
}

/** The dialect for either store: pg against a server, or the embedded PGlite on disk. */
export function createDialect(config: DatabaseConfig, options: DialectOptions = {}): Dialect {
  if (config.kind === "postgres") {
    const pool = new pg.Pool({
      connectionString: config.url,
      max: 10,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      query_timeout: 15_000,
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // Without a listener, an idle client's error would crash the process.
    pool.on("error", (error) => options.onIdleError?.(error));
    return new PostgresDialect({ pool });
  }
  return new PGliteDialect({
    pglite: () => {
      mkdirSync(config.dataDir, { recursive: true });
      return new PGlite(config.dataDir, {
        parsers: { [INT8_OID]: parseInt8 },
        // PostgreSQL's server default (128MB) is sized for a shared server; inside the bot's own
        // process it costs ~140 MB of resident memory for no measurable gain (doc/benchmarks.md).
        postgresqlconf: [`shared_buffers = ${PGLITE_SHARED_BUFFERS}`],
      });
    },
  });
}

export function createDatabase(config: DatabaseConfig, options: DialectOptions = {}): Kysely<Database> {
  return new Kysely<Database>({ dialect: createDialect(config, options) });
}
