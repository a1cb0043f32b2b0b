import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { withPreparedStatements } from "../../src/db/pglite-prepared.ts";

/** An in-memory PGlite with the wrapper (at most 5 prepared statements) and a table to write. */
let pglite: PGlite;
const preparedNames = async () =>
  (await pglite.query<{ name: string }>("select name from pg_prepared_statements where name like 'parley_%' order by name")).rows.map((row) => row.name);

beforeAll(async () => {
  pglite = withPreparedStatements(new PGlite({ parsers: { 20: (value: string) => BigInt(value) } }), { maxPrepared: 5 });
  await pglite.exec("create table things (id bigint primary key, tags text[], data jsonb, at timestamptz, ok bool)");
});
afterAll(() => pglite.close());

describe("PGlite with prepared statements", () => {
  test("a statement is prepared on its second run, and both runs give PGlite's own results, every type serialized as query() does", async () => {
    const sql = "select $1::bigint[] as ids, $2::text[] as tags, $3::jsonb as data, $4::timestamptz as at, $5::bool as ok, $6::text as nothing, $7::int as n";
    const at = new Date("2026-11-24T01:02:03.456Z");
    const params = [[1n, 9007199254740993n], ["a", 'b "quoted"', null], { nested: [1, "x"] }, at, true, null, 42];
    const first = await pglite.query(sql, params);
    expect(await preparedNames()).not.toContain("parley_1");
    const second = await pglite.query(sql, params);
    expect(await preparedNames()).toContain("parley_1");
    expect(second.rows).toEqual(first.rows);
    expect(second.rows[0]).toEqual({ ids: [1n, 9007199254740993n], tags: ["a", 'b "quoted"', null], data: { nested: [1, "x"] }, at, ok: true, nothing: null, n: 42 });
    expect(second.fields.map((field) => field.name)).toEqual(["ids", "tags", "data", "at", "ok", "nothing", "n"]);
  });

  test("writes report their affected rows, and a failing prepared statement throws PostgreSQL's error and leaves the store usable", async () => {
    const insert = "insert into things (id, tags) values ($1, $2)";
    await pglite.query(insert, [1, ["x"]]);
    const prepared = await pglite.query(insert, [2, ["y"]]);
    expect(prepared.affectedRows).toBe(1);
    await expect(pglite.query(insert, [2, ["again"]])).rejects.toMatchObject({ code: "23505" });
    expect((await pglite.query<{ n: number }>("select count(*)::int as n from things where id = any($1::bigint[])", [[1, 2]])).rows[0]!.n).toBe(2);
  });

  test("inside a transaction prepared statements are part of it: a rollback undoes them", async () => {
    const insert = "insert into things (id, ok) values ($1, $2)";
    await pglite.query(insert, [10, true]);
    await pglite.query(insert, [11, true]); // prepared from here on
    await pglite
      .transaction(async (tx) => {
        await tx.query(insert, [12, false]);
        expect((await tx.query<{ n: number }>("select count(*)::int as n from things where id = $1", [12])).rows[0]!.n).toBe(1);
        throw new Error("roll back");
      })
      .catch(() => undefined);
    expect((await pglite.query("select id from things where id = $1", [12])).rows).toEqual([]);
    await pglite.transaction(async (tx) => void (await tx.query(insert, [13, false])));
    expect((await pglite.query("select ok from things where id = $1", [13])).rows).toEqual([{ ok: false }]);
  });

  test("past its limit of prepared statements, a new statement still runs (through query())", async () => {
    for (let i = 0; i < 8; i++) {
      const sql = `select $1::int + ${i} as n`;
      await pglite.query(sql, [1]);
      expect((await pglite.query(sql, [1])).rows).toEqual([{ n: 1 + i }]);
    }
    expect((await preparedNames()).length).toBe(5);
  });

  test("a statement PostgreSQL cannot parse fails every time, as it would without the wrapper", async () => {
    await expect(pglite.query("selec $1", [1])).rejects.toMatchObject({ code: "42601" });
    await expect(pglite.query("selec $1", [1])).rejects.toMatchObject({ code: "42601" });
    expect((await pglite.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
  });
});
