/**
 * Which database errors another attempt may get past, and which it would meet again. PostgreSQL
 * (and PGlite, which is PostgreSQL) names each error with a five-character SQLSTATE; its first
 * two characters are the class.
 */

/** Classes that say the server, the connection or a lock is away for now, not that the statement is wrong. */
const PASSING = new Set(["08", "25", "40", "53", "55", "57", "58"]);

/**
 * The statement itself was refused (bad data, a broken constraint, a limit of the server): the
 * same statement would fail the same way. Connection errors and passing states are not.
 */
export function isStatementError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && !PASSING.has(code.slice(0, 2));
}
