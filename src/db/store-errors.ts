/**
 * How a store is named and how a failure to reach it is said, in one line and one wording for the
 * bot's start-up and the operator tools alike: the store named (never its password), the driver's
 * own reason, and what to check.
 */
import type { DatabaseConfig } from "../config.ts";

/** Which store, said so that an operator knows which one is meant (never the password). */
export function describeStore(config: DatabaseConfig): string {
  if (config.kind === "pglite") return `the embedded store ${config.dataDir}`;
  const url = new URL(config.url);
  return `PostgreSQL database "${decodeURIComponent(url.pathname.slice(1)) || url.username || "postgres"}" on ${url.hostname}:${url.port || 5432}`;
}

const messageOf = (error: unknown) => (error instanceof Error && error.message) || (error as NodeJS.ErrnoException | undefined)?.code || String(error);

/** The server could not be reached or would not let us in (refused, unknown host, timeout, password, no such database). */
export function isConnectionFailure(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || /ECONNREFUSED|ENOTFOUND|timeout|password|does not exist|no pg_hba/i.test(messageOf(error));
}

/** The line for a connection failure to `store`. */
export const cannotConnect = (error: unknown, store: string): string =>
  `Cannot connect to ${store}: ${messageOf(error)}. Is it running, and is DATABASE_URL right? (make db-up starts one in Docker)`;
