import { expect, test } from "vitest";
import { parseReport, renderTable } from "../../bench/report.ts";

const committed = `# Benchmarks

| what | result | target | | last |
| --- | --- | --- | --- | --- |
| pglite: history, p50 | 1.10 ms | ≤ 5 ms | ok | 1.14 ms |
| postgres: history, p50 | 0.49 ms | ≤ 5 ms | ok | 0.69 ms |
| postgres: 1 000 chats at once | 1.35 × | ≤ 1.5 × | ok | 1.88 × |
`;

test("each figure is shown beside the committed one; rows not measured this run are kept, marked, with their last value", () => {
  const previous = parseReport(committed);
  expect(previous.get("postgres: 1 000 chats at once")).toEqual({ result: "1.35 ×", target: "≤ 1.5 ×" });
  const table = renderTable(
    [
      { what: "pglite: history, p50", result: "0.90 ms", target: "≤ 5 ms", ok: true },
      { what: "pglite: something new", result: "7", target: "≤ 4", ok: false },
    ],
    previous,
  );
  expect(table.split("\n").slice(2)).toEqual([
    "| pglite: history, p50 | 0.90 ms | ≤ 5 ms | ok | 1.10 ms |",
    "| pglite: something new | 7 | ≤ 4 | **missed** | — |",
    "| postgres: history, p50 | — | ≤ 5 ms | not run | 0.49 ms |",
    "| postgres: 1 000 chats at once | — | ≤ 1.5 × | not run | 1.35 × |",
  ]);
  // The table reads back as it was written: the next run compares with these figures.
  expect(parseReport(table).get("pglite: history, p50")).toEqual({ result: "0.90 ms", target: "≤ 5 ms" });
  expect(parseReport(table).get("postgres: history, p50")).toEqual({ result: "0.49 ms", target: "≤ 5 ms" });
});

test("only the figures table is read back: the report's other tables are prose, not figures", () => {
  const previous = parseReport(`${committed}\nSome text.\n\n| direction | measured | kept? |\n| --- | --- | --- |\n| a build | 117 → 101 MB | yes |\n`);
  expect([...previous.keys()]).toEqual(["pglite: history, p50", "postgres: history, p50", "postgres: 1 000 chats at once"]);
});
