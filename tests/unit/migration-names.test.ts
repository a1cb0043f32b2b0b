import { readdirSync } from "node:fs";
import { expect, test } from "vitest";
import { MIGRATION_NAME, MIGRATIONS_FOLDER, migrationPrefix } from "../../src/db/migrations.ts";

const names = readdirSync(MIGRATIONS_FOLDER).sort();

test("every migration is named YYYYMMDDHHMMSS_<name>.ts, so that names sort in the order they were written", () => {
  expect(names.length).toBeGreaterThan(0);
  for (const name of names) expect(name).toMatch(MIGRATION_NAME);
  // No two share a timestamp: their order would then depend on the rest of the name.
  expect(new Set(names.map((n) => n.slice(0, 14))).size).toBe(names.length);
});

test("a migration made now (npx kysely migrate:make) sorts after every existing one", () => {
  const made = `${migrationPrefix(new Date())}add_something.ts`;
  expect(made).toMatch(MIGRATION_NAME);
  expect([...names, made].sort().at(-1)).toBe(made);
  expect(migrationPrefix(new Date("2027-03-04T05:06:07.890Z"))).toBe("20270304050607_");
});
