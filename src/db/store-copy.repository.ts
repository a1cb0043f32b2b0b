/**
 * The SQL of `make db-copy`: what tables a migrated database has, in an order that respects
 * their foreign keys, and their rows moved in batches as JSON (which both stores speak), so the
 * copy knows no table by name and stays right as migrations add tables and columns.
 */
import { sql } from "kysely";
import type { Executor } from "./executor.ts";

export interface TableShape {
  name: string;
  /** Columns a copy writes: every one but generated columns (PostgreSQL computes those). */
  columns: string[];
  /** The primary key, when it is one whole-number column: batches walk it (else one batch). */
  key: string | null;
  /** An identity column, whose sequence must move past the copied rows. */
  identity: string | null;
}

const MIGRATION_TABLES = ["kysely_migration", "kysely_migration_lock"];
const quote = (name: string) => sql.id(name);

/** The application's tables, each after the tables it references. */
export async function tablesOf(db: Executor): Promise<TableShape[]> {
  const { rows: columns } = await sql<{ table_name: string; column_name: string; is_generated: string; is_identity: string; data_type: string }>`
    select table_name, column_name, is_generated, is_identity, data_type from information_schema.columns
    where table_schema = 'public' order by table_name, ordinal_position
  `.execute(db);
  const { rows: keys } = await sql<{ table_name: string; column_name: string; columns: number }>`
    select c.relname as table_name, a.attname as column_name, array_length(i.indkey::int2[], 1) as columns
    from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
    where i.indisprimary and n.nspname = 'public'
  `.execute(db);
  const { rows: references } = await sql<{ from_table: string; to_table: string }>`
    select c.relname as from_table, r.relname as to_table
    from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_class r on r.oid = k.confrelid
    join pg_namespace n on n.oid = c.relnamespace
    where k.contype = 'f' and n.nspname = 'public'
  `.execute(db);

  const shapes = new Map<string, TableShape>();
  for (const c of columns) {
    if (MIGRATION_TABLES.includes(c.table_name)) continue;
    const shape = shapes.get(c.table_name) ?? { name: c.table_name, columns: [], key: null, identity: null };
    if (c.is_generated === "NEVER") shape.columns.push(c.column_name);
    if (c.is_identity === "YES") shape.identity = c.column_name;
    shapes.set(c.table_name, shape);
  }
  const wholeNumber = new Set(columns.filter((c) => ["bigint", "integer", "smallint"].includes(c.data_type)).map((c) => `${c.table_name}.${c.column_name}`));
  for (const k of keys) {
    const shape = shapes.get(k.table_name);
    if (shape && Number(k.columns) === 1 && wholeNumber.has(`${k.table_name}.${k.column_name}`)) shape.key = k.column_name;
  }
  // Depth-first: a table comes after everything it references (a self-reference is no edge).
  const ordered: TableShape[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    const shape = shapes.get(name);
    if (!shape || ordered.includes(shape) || visiting.has(name)) return;
    visiting.add(name);
    for (const r of references) if (r.from_table === name && r.to_table !== name) visit(r.to_table);
    ordered.push(shape);
  };
  for (const name of [...shapes.keys()].sort()) visit(name);
  return ordered;
}

export async function countRows(db: Executor, table: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from ${quote(table)}`.execute(db);
  return Number(rows[0]!.n);
}

/** Up to `limit` rows after `after` (in key order) as a JSON array, and the last key read. */
export async function readBatch(db: Executor, table: TableShape, after: string | null, limit: number): Promise<{ json: string; count: number; last: string | null }> {
  const columns = sql.join(table.columns.map(quote));
  // Without a whole-number key (a composite or text one, small tables here) the table is one batch.
  const { rows } = table.key
    ? await sql<{ json: string; count: number; last: string | null }>`
        select coalesce(json_agg(t), '[]')::text as json, count(*)::int as count, max(t.${quote(table.key)})::text as last
        from (
          select ${columns} from ${quote(table.name)}
          ${after === null ? sql`` : sql`where ${quote(table.key)} > ${after}::numeric`}
          order by ${quote(table.key)} limit ${limit}
        ) t
      `.execute(db)
    : await sql<{ json: string; count: number; last: string | null }>`
        select coalesce(json_agg(t), '[]')::text as json, count(*)::int as count, null::text as last
        from (select ${columns} from ${quote(table.name)}) t
      `.execute(db);
  return rows[0]!;
}

export async function writeBatch(db: Executor, table: TableShape, json: string): Promise<void> {
  const columns = sql.join(table.columns.map(quote));
  await sql`
    insert into ${quote(table.name)} (${columns}) ${table.identity ? sql`overriding system value` : sql``}
    select ${columns} from json_populate_recordset(null::${quote(table.name)}, ${json}::json)
  `.execute(db);
}

/** Moves an identity column's sequence past the copied rows, so new rows get new ids. */
export async function resetIdentity(db: Executor, table: TableShape): Promise<void> {
  if (!table.identity) return;
  await sql`
    select setval(pg_get_serial_sequence(${table.name}, ${table.identity}), coalesce(max(${quote(table.identity)}), 0) + 1, false)
    from ${quote(table.name)}
  `.execute(db);
}
