import { Kysely, PGliteDialect, PostgresDialect, type Dialect } from "kysely";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { hostname } from "node:os";
import pg from "pg";
import type { DatabaseConfig } from "../config.ts";
import type { Database } from "./database.ts";
import { fileURLToPath } from "node:url";

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

/** A second process (bot or migration) tried to open an embedded store that is in use. */
export class StoreInUseError extends Error {}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * PGlite is one process's database: two processes on one data directory corrupt it silently.
 * A lock file beside the directory (`<dir>.lock`, holding the owner's pid) keeps a second one
 * out; a lock left by a process that died (kill -9, power loss) is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = `${dataDir.replace(/\/+$/, "")}.lock`;
  const me = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        process.off("exit", release);
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      };
      process.on("exit", release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let owner: { pid?: number; host?: string } = {};
    try {
      owner = JSON.parse(readFileSync(file, "utf8")) as typeof owner;
    } catch {
      // half-written or unreadable: treat as stale
    }
    // Our own pid (or our parent's) in the file means it was written by an earlier process that
    // had the same pid: in a container the bot is pid 1 on every start.
    const reused = owner.pid === process.pid || owner.pid === process.ppid;
    if (owner.host !== undefined && owner.host !== me.host) {
      throw new StoreInUseError(
        `The embedded store ${dataDir} is locked by pid ${owner.pid} on another host (${owner.host}). ` +
          `Only one process may open it. If Parley no longer runs there, delete ${file} and start again.`,
      );
    }
    if (owner.pid && !reused && isAlive(owner.pid)) {
      throw new StoreInUseError(
        `The embedded store ${dataDir} is in use by another process (pid ${owner.pid}). ` +
          "Only one process may open it: stop the other one, or set PGLITE_DATA_DIR to another directory.",
      );
    }
    try {
      unlinkSync(file); // stale: its process is gone
    } catch {
      // another process took it over first; try again
    }
  }
  throw new StoreInUseError(`Could not lock the embedded store ${dataDir}.`);
}

/** The prepared embedded store (`npm run store:template`), and the PGlite version that made it. */
export const PGLITE_TEMPLATE = fileURLToPath(new URL("./pglite-template.tar.gz", import.meta.url));
export const PGLITE_TEMPLATE_INFO = fileURLToPath(new URL("./pglite-template.json", import.meta.url));

/** The installed @electric-sql/pglite's version. */
export function pgliteVersion(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@electric-sql/pglite");
  let dir = path.dirname(main);
  const isPglite = (d: string) => existsSync(path.join(d, "package.json")) && (JSON.parse(readFileSync(path.join(d, "package.json"), "utf8")) as { name?: string }).name === "@electric-sql/pglite";
  while (!isPglite(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * A new data directory is unpacked from the prepared store (if it was made by this PGlite) with
 * node-tar, outside WebAssembly: PGlite then opens it as an existing store. initdb inside the bot's
 * process took seconds and left hundreds of MB of WASM memory behind. Returns whether it unpacked;
 * false leaves the directory to PGlite's initdb.
 */
export async function unpackPgliteTemplate(dataDir: string): Promise<boolean> {
  if (existsSync(path.join(dataDir, "PG_VERSION"))) return false; // an existing store
  let info: { pglite?: string };
  try {
    info = JSON.parse(readFileSync(PGLITE_TEMPLATE_INFO, "utf8")) as typeof info;
  } catch {
    return false;
  }
  if (info.pglite !== pgliteVersion()) return false;
  // Into a fresh directory beside it, then renamed: a crash halfway leaves no half store behind.
  const partial = `${dataDir.replace(/\/+$/, "")}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const tar = await import("tar"); // only ever needed here: not loaded on the PostgreSQL store
  // Read in small pieces: node-tar's default (the whole file, inflated in 16 MB chunks) left ~50 MB
  // resident for good in the bot's process; 64 KB reads leave ~16 MB and take as long.
  tar.x({ file: PGLITE_TEMPLATE, cwd: partial, sync: true, preservePaths: false, maxReadSize: 64 * 1024 });
  rmSync(dataDir, { recursive: true, force: true }); // empty (no PG_VERSION): nothing to lose
  renameSync(partial, dataDir);
  return true;
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
