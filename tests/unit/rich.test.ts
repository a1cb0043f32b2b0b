import { GrammyError } from "grammy";
import { pino } from "pino";
import { describe, expect, test } from "vitest";
import { splitRichMarkdown } from "../../src/telegram/markdown/render.ts";
import { createRichSupport } from "../../src/telegram/rich.ts";

const bytes = (s: string) => Buffer.byteLength(s, "utf8");
const table = (rows: number) => ["| n | square |", "| --- | --- |", ...Array.from({ length: rows }, (_, i) => `| ${i} | ${i * i} |`)].join("\n");

describe("splitting an answer into rich messages", () => {
  test("an answer that fits is one message, unchanged", async () => {
    const md = "# Title\n\nSome **bold** text.\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n$$E = mc^2$$";
    expect(await splitRichMarkdown(md)).toEqual([md]);
  });

  test("cuts only between blocks: a table, a list item, a formula and a code block stay whole", async () => {
    const code = "```ts\n" + Array.from({ length: 30 }, (_, i) => `const x${i} = ${i};`).join("\n") + "\n```";
    const formula = "$$\n\\int_0^1 x^2 \\, dx = \\frac{1}{3}\n$$";
    const list = "- first item, fairly long text here\n- second item, also long enough";
    const md = ["Intro paragraph.", table(12), formula, list, code, "Closing words."].join("\n\n");
    const parts = await splitRichMarkdown(md, 700);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(bytes(part)).toBeLessThanOrEqual(700);
    const joined = parts.join("\n\n");
    for (const block of [table(12), formula, list, code]) expect(parts.some((p) => p.includes(block)), block.slice(0, 20)).toBe(true);
    expect(joined.replace(/\s+/g, "")).toBe(md.replace(/\s+/g, ""));
  });

  test("a block too big for one message is cut into whole blocks: code re-fenced, table header repeated", async () => {
    const code = "```python\n" + Array.from({ length: 200 }, (_, i) => `print(${i})  # ${"é".repeat(10)}`).join("\n") + "\n```";
    const parts = await splitRichMarkdown(code, 1_000);
    expect(parts.length).toBeGreaterThan(3);
    for (const part of parts) {
      expect(bytes(part)).toBeLessThanOrEqual(1_000);
      expect(part.startsWith("```python\n") && part.endsWith("\n```")).toBe(true);
    }
    const lines = parts.flatMap((p) => p.split("\n").slice(1, -1));
    expect(lines).toEqual(Array.from({ length: 200 }, (_, i) => `print(${i})  # ${"é".repeat(10)}`));

    const big = await splitRichMarkdown(table(300), 2_000);
    expect(big.length).toBeGreaterThan(1);
    for (const part of big) expect(part.startsWith("| n | square |\n| --- | --- |\n")).toBe(true);
    expect(big.flatMap((p) => p.split("\n").slice(2))).toEqual(table(300).split("\n").slice(2));
  });

  test("at most 500 blocks a message", async () => {
    const md = Array.from({ length: 1_200 }, (_, i) => `Paragraph ${i}.`).join("\n\n");
    const parts = await splitRichMarkdown(md);
    expect(parts).toHaveLength(3);
    expect(parts[0]!.split("\n\n")).toHaveLength(500);
  });

  test("the 32 768-byte limit counts bytes, not characters", async () => {
    const md = Array.from({ length: 40 }, () => "Ж".repeat(900)).join("\n\n"); // 1 800 bytes a paragraph
    const parts = await splitRichMarkdown(md);
    for (const part of parts) expect(bytes(part)).toBeLessThanOrEqual(32_768);
    expect(parts).toHaveLength(3);
  });
});

describe("rich support", () => {
  const logger = pino({ level: "silent" });
  const error = (code: number, description: string) => new GrammyError("failed", { ok: false, error_code: code, description }, "sendRichMessage", {});

  test("a server without the methods turns rich messages off for good; a rejected message does not", () => {
    const rich = createRichSupport("auto", logger);
    expect(rich.enabled).toBe(true);
    expect(rich.lacks(error(400, "Bad Request: can't parse rich message"))).toBe(false);
    expect(rich.enabled).toBe(true);
    expect(rich.lacks(error(404, "Not Found"))).toBe(true);
    expect(rich.enabled).toBe(false);
    expect(createRichSupport("off", logger).enabled).toBe(false);
  });
});
