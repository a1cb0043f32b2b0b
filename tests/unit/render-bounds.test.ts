/**
 * Rendering is bounded: every answer the model can send, hostile ones included, is cut into
 * chunks of bounded size before any parser sees it, and comes out as valid Telegram messages
 * with nothing lost. (How long it blocks the event loop is a figure of make bench.)
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { chunkMarkdown, chunkText, CHUNK_MAX_CHARS } from "../../src/telegram/markdown/chunks.ts";
import { formatAnswer, richPreview, splitRichMarkdown, RICH_MAX_BYTES } from "../../src/telegram/markdown/render.ts";
import { HOSTILE_ANSWERS } from "../corpus/answers.ts";

const bytes = (s: string) => Buffer.byteLength(s, "utf8");
const squash = (s: string) => s.replace(/\s+/g, "");

describe("chunks", () => {
  test.each(Object.entries(HOSTILE_ANSWERS))("%s: chunks of bounded size, in order, covering the whole answer", (_name, markdown) => {
    const chunks = chunkMarkdown(markdown);
    let covered = "";
    let previousEnd = 0;
    for (const chunk of chunks) {
      // The chunk's own text is at most CHUNK_MAX_CHARS; a reopened fence or table header adds one line each.
      expect(chunk.end - chunk.start).toBeLessThanOrEqual(CHUNK_MAX_CHARS);
      expect(chunkText(markdown, chunk).length).toBeLessThanOrEqual(3 * CHUNK_MAX_CHARS);
      expect(chunk.start).toBeGreaterThanOrEqual(previousEnd);
      expect(markdown.slice(previousEnd, chunk.start).trim()).toBe("");
      previousEnd = chunk.end;
      covered += markdown.slice(chunk.start, chunk.end);
    }
    expect(squash(covered)).toBe(squash(markdown));
  });

  test("a code block cut for size is closed and opened again, in the same language", () => {
    const code = `\`\`\`python\n${Array.from({ length: 400 }, (_, i) => `print(${i})`).join("\n")}\n\`\`\``;
    const chunks = chunkMarkdown(code, 500);
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      const text = chunkText(code, chunk);
      expect(text.startsWith("```python\n")).toBe(true);
      expect(text.endsWith("\n```")).toBe(true);
    }
  });

  test("a table cut for size repeats its header; blocks split only where a new top-level block starts", () => {
    const table = `| n | sq |\n| --- | --- |\n${Array.from({ length: 300 }, (_, i) => `| ${i} | ${i * i} |`).join("\n")}`;
    const chunks = chunkMarkdown(table, 400);
    for (const chunk of chunks.slice(1)) expect(chunkText(table, chunk).startsWith("| n | sq |\n| --- | --- |\n")).toBe(true);
    // A list item's indented paragraph after a blank line belongs to the item: no cut before it.
    const list = `1. item\n\n    its code\n\n2. next${"\n\nparagraph".repeat(50)}`;
    const first = chunkText(list, chunkMarkdown(list, 60)[0]!);
    expect(first).toContain("its code");
  });
});

describe("hostile answers become valid messages", () => {
  test.each(Object.entries(HOSTILE_ANSWERS))("%s", async (_name, markdown) => {
    const rich = await splitRichMarkdown(markdown);
    for (const part of rich) {
      expect(part.trim()).not.toBe("");
      expect(bytes(part)).toBeLessThanOrEqual(RICH_MAX_BYTES);
    }
    const classic = await formatAnswer(markdown);
    expect(classic.length).toBeGreaterThan(0);
    for (const message of classic) {
      expect(message.text.length).toBeLessThanOrEqual(4096);
      expect(message.text.trim()).not.toBe("");
      for (const e of message.entities) {
        expect(e.length).toBeGreaterThan(0);
        expect(e.offset + e.length).toBeLessThanOrEqual(message.text.length);
      }
    }
    const preview = richPreview(markdown);
    expect(bytes(preview)).toBeLessThanOrEqual(RICH_MAX_BYTES);
  });

  test("lists and quotes deeper than the parser's nesting bound keep their text (it is not dropped)", async () => {
    const deep = Array.from({ length: 60 }, (_, i) => `${"  ".repeat(i)}- level ${i}`).join("\n");
    const text = (await formatAnswer(deep)).map((m) => m.text).join("\n");
    for (const i of [0, 19, 40, 59]) expect(text).toContain(`level ${i}`);
    const quotes = `${">".repeat(100)} the end`;
    expect((await formatAnswer(quotes))[0]!.text).toContain("the end");
  });
});

describe("pausing", () => {
  afterEach(() => vi.restoreAllMocks());

  test("short answers rendered at once (a burst of turns) never pause: each runs alone, not in lockstep with the others", async () => {
    // A clock that moves 1 ms each time it is read: a rendering that counts only its own work
    // reads it a few times; one whose clock ran while the other 199 did theirs sees far past the slice.
    let clock = 0;
    vi.spyOn(performance, "now").mockImplementation(() => clock++);
    await splitRichMarkdown("warm up"); // the parser is loaded once
    await formatAnswer("warm up");
    let done = 0;
    const renders = Array.from({ length: 100 }, (_, i) => [
      splitRichMarkdown(`**Re:** hello ${i}`).then(() => done++),
      formatAnswer(`**Re:** hello ${i}`).then(() => done++),
    ]).flat();
    // A pause waits for setImmediate: had any rendering paused, it would not be done by then.
    const beforeAnyPause = new Promise<number>((resolve) => setImmediate(() => resolve(done)));
    expect(await beforeAnyPause).toBe(200);
    await Promise.all(renders);
  });

  test("a long answer does pause, between chunks", async () => {
    let clock = 0;
    vi.spyOn(performance, "now").mockImplementation(() => clock++);
    let done = false;
    const render = splitRichMarkdown(Array.from({ length: 40 }, (_, i) => `Paragraph ${i} ${"text ".repeat(200)}`).join("\n\n")).then(() => (done = true));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    await render;
  });
});
