/**
 * The benchmark report's table: each figure beside its goal and the committed report's figure,
 * and the committed rows this run did not measure (no PostgreSQL server), kept and marked.
 */
export interface Row {
  what: string;
  result: string;
  target: string;
  ok: boolean;
}

export type Previous = Map<string, { result: string; target: string }>;

/** The rows of an earlier report (its Markdown table), by what they measure. */
export function parseReport(markdown: string): Previous {
  const previous: Previous = new Map();
  // The figures table only: it starts at its header and ends at the first line that is not a row
  // (the report's other tables are prose).
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => /^\|\s*what\s*\|\s*result\s*\|/.test(line));
  if (start < 0) return previous;
  const end = lines.findIndex((line, i) => i > start && !line.startsWith("|"));
  for (const line of lines.slice(start, end < 0 ? undefined : end)) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length >= 5 && cells[1] && cells[2] && cells[1] !== "what" && !cells[1].startsWith("---")) {
      // A row that was not run carries its last measured value in the last column.
      previous.set(cells[1], { result: cells[4] === "not run" ? (cells[5] ?? "—") : cells[2], target: cells[3] ?? "" });
    }
  }
  return previous;
}

export function renderTable(rows: readonly Row[], previous: Previous): string {
  const last = (what: string) => previous.get(what)?.result ?? "—";
  const notRun = [...previous].filter(([what]) => !rows.some((r) => r.what === what));
  return [
    "| what | result | target | | last |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.what} | ${r.result} | ${r.target} | ${r.ok ? "ok" : "**missed**"} | ${last(r.what)} |`),
    ...notRun.map(([what, p]) => `| ${what} | — | ${p.target} | not run | ${p.result} |`),
  ].join("\n");
}
