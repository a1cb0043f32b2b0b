import { PGlite } from "@electric-sql/pglite";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { PGLITE_TEMPLATE_INFO, pgliteVersion, unpackPgliteTemplate } from "../../src/db/store-template.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test("the prepared embedded store was made by the installed PGlite (after an upgrade: npm run store:template)", () => {
  expect(JSON.parse(readFileSync(PGLITE_TEMPLATE_INFO, "utf8"))).toEqual({ pglite: pgliteVersion() });
});

test("a new data directory is unpacked from it, whole, once; an existing store is never touched", async () => {
  const parent = mkdtempSync(path.join(tmpdir(), "parley-template-"));
  dirs.push(parent);
  const dataDir = path.join(parent, "pglite");
  expect(await unpackPgliteTemplate(dataDir)).toBe(true);
  expect(readFileSync(path.join(dataDir, "PG_VERSION"), "utf8").trim()).toMatch(/^\d+$/);
  expect(existsSync(path.join(dataDir, "base"))).toBe(true);
  expect(existsSync(`${dataDir}.partial`)).toBe(false);
  expect(await unpackPgliteTemplate(dataDir)).toBe(false);
});

test("it holds the one database the bot uses (no template0/template1: a third of the files to create at first start), and PGlite opens it", async () => {
  const parent = mkdtempSync(path.join(tmpdir(), "parley-template-"));
  dirs.push(parent);
  const dataDir = path.join(parent, "pglite");
  await unpackPgliteTemplate(dataDir);
  expect(readdirSync(path.join(dataDir, "base"))).toHaveLength(1);
  const pglite = new PGlite(dataDir);
  try {
    const { rows } = await pglite.query<{ datname: string }>("select datname from pg_database");
    expect(rows.map((row) => row.datname)).toEqual(["postgres"]);
    expect((await pglite.query<{ db: string }>("select current_database() as db")).rows[0]!.db).toBe("postgres");
  } finally {
    await pglite.close();
  }
});
