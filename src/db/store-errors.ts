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

/** PostgreSQL's codes for a server that answered and refused: no such database, no such role, wrong password. */
const NO_DATABASE = "3D000";
const REFUSED_LOGIN = new Set(["28000", "28P01"]);
const codeOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/** The server could not be reached or would not let us in (refused, unknown host, timeout, password, no such database). */
export function isConnectionFailure(error: unknown): boolean {
  const code = codeOf(error);
  if (code === NO_DATABASE || (code !== undefined && REFUSED_LOGIN.has(code))) return true;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || /ECONNREFUSED|ENOTFOUND|timeout|password|does not exist|no pg_hba|Connection terminated unexpectedly/i.test(messageOf(error));
}

/**
 * The line for a connection failure to `store`, with what to check for that failure: a server
 * that answered and refused is running (its database or role is missing, or the password wrong);
 * one that did not answer may not be, or DATABASE_URL names the wrong host or port.
 */
export function cannotConnect(error: unknown, store: string): string {
  const code = codeOf(error);
  const reason = messageOf(error);
  if (code === NO_DATABASE || /database .* does not exist/i.test(reason)) {
    return `Cannot connect to ${store}: ${reason}. The server is running; create the database (createdb, or CREATE DATABASE as its owner), then run make db-migrate.`;
  }
  if ((code !== undefined && REFUSED_LOGIN.has(code)) || /role .* does not exist|password authentication failed|no pg_hba/i.test(reason)) {
    return `Cannot connect to ${store}: ${reason}. The server is running and refused the login: check the user and password in DATABASE_URL (or create the role).`;
  }
  return `Cannot connect to ${store}: ${reason}. Is the server running, and are the host and port in DATABASE_URL right? (make db-up starts one in Docker)`;
}
