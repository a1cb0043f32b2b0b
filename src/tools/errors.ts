/**
 * How the operator tools (src/tools/migrate.ts, src/tools/copy-store.ts) name a store and say what went
 * wrong: the store named before it is touched (never its password), every failure in one line.
 */
import { ConfigError, type DatabaseConfig } from "../config.ts";
import { StoreInUseError } from "../db/connection.ts";

/** A failure the tool explains itself: its message is the whole story. */
export class ToolError extends Error {}

/** Which store, said so that an operator knows what is about to change (never the password). */
export function describeStore(config: DatabaseConfig): string {
  if (config.kind === "pglite") return `the embedded store ${config.dataDir}`;
  const url = new URL(config.url);
  return `PostgreSQL database "${decodeURIComponent(url.pathname.slice(1)) || url.username || "postgres"}" on ${url.hostname}:${url.port || 5432}`;
}

export function describeError(error: unknown, store: string): string {
  if (error instanceof ConfigError || error instanceof StoreInUseError || error instanceof ToolError) return error.message;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = (error instanceof Error && error.message) || code || String(error);
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || /timeout|password|does not exist|no pg_hba/i.test(message)) {
    return `Cannot connect to ${store}: ${message}. Is it running, and is DATABASE_URL right? (make db-up starts one in Docker)`;
  }
  return `${store}: ${message}`;
}
