/**
 * A store that cannot be reached is said in one line naming it (never its password), the driver's
 * reason, and what to check for that reason: a server that answered is running.
 */
import { expect, test } from "vitest";
import { cannotConnect, describeStore, isConnectionFailure } from "../../src/db/store-errors.ts";

const store = describeStore({ kind: "postgres", url: "postgres://parley:secret@db.example:6543/parley" });
/** As pg rejects: an Error with PostgreSQL's SQLSTATE in `code`. */
const pgError = (message: string, code: string) => Object.assign(new Error(message), { code });

test("the store is named by database, host and port, never by its password", () => {
  expect(store).toBe('PostgreSQL database "parley" on db.example:6543');
});

test("a missing database: the server runs, so the line says to create the database, not to start a server", () => {
  const error = pgError('database "parley" does not exist', "3D000");
  expect(isConnectionFailure(error)).toBe(true);
  const line = cannotConnect(error, store);
  expect(line).toContain('database "parley" does not exist');
  expect(line).toMatch(/create the database/);
  expect(line).not.toMatch(/Is the server running|make db-up/);
});

test("a missing role or a wrong password: the server runs and refused the login", () => {
  for (const error of [pgError('role "parley" does not exist', "28000"), pgError('password authentication failed for user "parley"', "28P01")]) {
    expect(isConnectionFailure(error)).toBe(true);
    const line = cannotConnect(error, store);
    expect(line).toMatch(/refused the login: check the user and password in DATABASE_URL/);
    expect(line).not.toMatch(/Is the server running/);
  }
});

test("no answer (refused, unknown host, a connection cut): the line names DATABASE_URL's host and port to check", () => {
  for (const error of [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6543"), { code: "ECONNREFUSED" }), new Error("Connection terminated unexpectedly")]) {
    expect(isConnectionFailure(error)).toBe(true);
    expect(cannotConnect(error, store)).toMatch(/^Cannot connect to PostgreSQL database "parley" on db\.example:6543: .+ Is the server running, and are the host and port in DATABASE_URL right\?/);
  }
});
