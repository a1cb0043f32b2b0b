import { parse, protocol, type PGlite, type QueryOptions, type Results, type Transaction } from "@electric-sql/pglite";

/** By default at most this many statements are kept prepared (each holds a plan in PGlite's memory). */
const MAX_PREPARED = 200;

interface Statement {
  name: string;
  /** Its parameters' type oids, from PostgreSQL (they pick PGlite's serializers). */
  types: number[];
}

type Query = <T>(sql: string, params?: unknown[], options?: QueryOptions) => Promise<Results<T>>;

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

/**
 * PGlite runs PostgreSQL in this process, so the server's work is the bot's CPU: its `query()`
 * parses and plans every statement anew, in six calls into WebAssembly. A turn runs the same few
 * statements every time (their texts are constant: batches pass arrays), so a statement seen a
 * second time is prepared once under a name (Parse + Describe) and from then on runs as Bind,
 * Describe, Execute and Sync in one call, with PostgreSQL's plan cache. Measured: a turn's
 * statements cost 5.5 → 3.1 ms of CPU (doc/benchmarks.md).
 *
 * Everything else is PGlite's own: its locks (a query outside a transaction waits for one to end,
 * as `query()` does), its serializers and parsers, its errors. One-off statements (migrations,
 * rare ones) and statements past `maxPrepared` run through `query()` as before. Only the embedded
 * store does this: against a PostgreSQL server the plans would be the server's CPU, and a
 * statement prepared before another instance migrates could fail ("cached plan must not change
 * result type").
 */
export function withPreparedStatements(pglite: PGlite, { maxPrepared = MAX_PREPARED } = {}): PGlite {
  const prepared = new Map<string, Statement>();
  const seen = new Set<string>();

  const statementFor = async (sql: string): Promise<Statement | undefined> => {
    const known = prepared.get(sql);
    if (known) return known;
    if (!seen.has(sql)) {
      if (seen.size >= 4 * maxPrepared) seen.clear(); // bounded: texts built with varying lists
      seen.add(sql);
      return undefined;
    }
    if (prepared.size >= maxPrepared) return undefined;
    const name = `parley_${prepared.size + 1}`;
    const { messages } = await pglite.execProtocol(
      concat([protocol.serialize.parse({ name, text: sql }), protocol.serialize.describe({ type: "S", name }), protocol.serialize.sync()]),
      { syncToFs: false },
    );
    const statement = { name, types: parse.parseDescribeStatementResults(messages) };
    prepared.set(sql, statement);
    return statement;
  };

  /** Runs `sql` prepared, under the lock its caller holds; undefined when it is not (yet) prepared. */
  const runPrepared = async <T>(sql: string, params: unknown[], options: QueryOptions | undefined): Promise<Results<T> | undefined> => {
    const statement = await statementFor(sql);
    if (!statement) return undefined;
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = options?.serializers?.[statement.types[i]!] ?? pglite.serializers[statement.types[i]!];
      return serializer ? serializer(value) : String(value);
    });
    const { messages } = await pglite.execProtocol(
      concat([
        protocol.serialize.bind({ statement: statement.name, values }),
        protocol.serialize.describe({ type: "P" }),
        protocol.serialize.execute({}),
        protocol.serialize.sync(),
      ]),
    );
    return parse.parseResults(messages, pglite.parsers, options)[0] as Results<T>;
  };

  const query = pglite.query.bind(pglite) as Query;
  const transaction = pglite.transaction.bind(pglite);
  const wrapped: Query = async <T>(sql: string, params: unknown[] = [], options?: QueryOptions) => {
    await pglite._checkReady();
    const result = await pglite._runExclusiveTransaction(() => pglite.runExclusive(() => runPrepared<T>(sql, params, options)));
    return result ?? query<T>(sql, params, options);
  };
  pglite.query = wrapped;
  pglite.transaction = <T>(callback: (tx: Transaction) => Promise<T>) =>
    transaction((tx) => {
      const txQuery = tx.query.bind(tx) as Query;
      // Inside the transaction its lock is held already: only the query lock is taken.
      tx.query = async <R>(sql: string, params: unknown[] = [], options?: QueryOptions) =>
        (await pglite.runExclusive(() => runPrepared<R>(sql, params, options))) ?? txQuery<R>(sql, params, options);
      return callback(tx);
    });
  return pglite;
}
