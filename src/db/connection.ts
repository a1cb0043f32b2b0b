/** The database for either store: pg against a PostgreSQL server, or the embedded PGlite on disk. */
import { Kysely, PGliteDialect, PostgresDialect, type Dialect } from "kysely";
import { mkdirSync } from "node:fs";
import pg from "pg";
import type { DatabaseConfig } from "../config.ts";
import type { Database } from "./database.ts";
import { lockDataDir } from "./store-lock.ts";
import { unpackPgliteTemplate } from "./store-template.ts";

const INT8_OID = 20;
const PGLITE_SHARED_BUFFERS = "8MB";
/** int8 (bigint) as JS bigint: pg alone would return strings, PGlite returns bigint. */
const parseInt8 = (value: string) => BigInt(value);

export interface DialectOptions {
  /** Called when an idle pooled connection dies (the server restarted, the network dropped). */
  onIdleError?: (error: Error) => void;
  /** PostgreSQL store: the pool, for its figures (connections in use, queries waiting). */
  onPool?: (pool: pg.Pool) => void;
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
    // A client in use whose server goes away gets its query rejected, then a second error
    // ("Connection terminated unexpectedly") when the socket closes, with no listener of the
    // pool's attached while it is checked out: without this one, that crashes the process.
    pool.on("connect", (client) => client.on("error", () => undefined));
    options.onPool?.(pool);
    return new PostgresDialect({ pool });
  }
  return new PGliteDialect({
    // Loaded only for the embedded store: PGlite's JavaScript costs the PostgreSQL store ~4 MB.
    pglite: async () => {
      const [{ PGlite }, { withPreparedStatements }] = await Promise.all([import("@electric-sql/pglite"), import("./pglite-prepared.ts")]);
      mkdirSync(config.dataDir, { recursive: true });
      const release = lockDataDir(config.dataDir);
      try {
        await unpackPgliteTemplate(config.dataDir);
      } catch (error) {
        release();
        throw error;
      }
      const pglite = withPreparedStatements(
        new PGlite(config.dataDir, {
          parsers: { [INT8_OID]: parseInt8 },
          // PostgreSQL's server default (128MB) is sized for a shared server; inside the bot's own
          // process it costs ~140 MB of resident memory for no measurable gain (doc/benchmarks.md).
          postgresqlconf: [`shared_buffers = ${PGLITE_SHARED_BUFFERS}`],
        }),
      );
      const close = pglite.close.bind(pglite);
      pglite.close = async () => {
        await close();
        release();
      };
      return pglite;
    },
  });
}

export function createDatabase(config: DatabaseConfig, options: DialectOptions = {}): Kysely<Database> {
  return new Kysely<Database>({ dialect: createDialect(config, options) });
}
