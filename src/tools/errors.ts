/**
 * How the operator tools (src/tools/migrate.ts, src/tools/copy-store.ts) say what went wrong: every
 * failure in one line, the store named as db/store-errors.ts names it.
 */
import { ConfigError } from "../config.ts";
import { StoreInUseError } from "../db/store-lock.ts";
import { cannotConnect, isConnectionFailure } from "../db/store-errors.ts";

/** A failure the tool explains itself: its message is the whole story. */
export class ToolError extends Error {}

export function describeError(error: unknown, store: string): string {
  if (error instanceof ConfigError || error instanceof StoreInUseError || error instanceof ToolError) return error.message;
  if (isConnectionFailure(error)) return cannotConnect(error, store);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return `${store}: ${(error instanceof Error && error.message) || code || String(error)}`;
}
