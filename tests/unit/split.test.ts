import { describe, expect, test } from "vitest";
import { splitText } from "../../src/telegram/split.ts";

const pieces = (text: string, limit: number) => splitText(text, limit).map(({ start, end }) => text.slice(start, end));
const squash = (s: string) => s.replace(/\s+/g, "");

describe("splitText", () => {
  test("leaves short text whole", () => {
    expect(pieces("hello world", 4096)).toEqual(["hello world"]);
  });

  test("prefers paragraph boundaries, then lines, then words", () => {
    expect(pieces("aaaa bbbb\n\ncccc dddd", 12)).toEqual(["aaaa bbbb", "cccc dddd"]);
    expect(pieces("aaaa bbbb\ncccc dddd", 12)).toEqual(["aaaa bbbb", "cccc dddd"]);
    expect(pieces("aaaa bbbb cccc dddd", 12)).toEqual(["aaaa bbbb", "cccc dddd"]);
  });

  test("does not make a tiny piece to reach a paragraph break near the start", () => {
    const text = `ab\n\n${"word ".repeat(20)}`;
    const result = pieces(text, 40);
    expect(result[0]!.length).toBeGreaterThan(20);
  });

  test("cuts an unbroken run at the limit, never inside a surrogate pair", () => {
    const text = "👋".repeat(5); // 10 UTF-16 units
    const result = pieces(text, 5);
    expect(result).toEqual(["👋👋", "👋👋", "👋"]);
    for (const p of result) expect(p.isWellFormed()).toBe(true);
  });

  test("keeps every non-space character in order, within the limit, never blank", () => {
    let text = "";
    for (let i = 0; i < 500; i++) text += i % 7 === 0 ? "\n\n" : i % 5 === 0 ? "\n" : `w${i} `;
    for (const limit of [10, 37, 100, 4096]) {
      const result = pieces(text, limit);
      expect(squash(result.join(""))).toBe(squash(text));
      for (const p of result) {
        expect(p.length).toBeLessThanOrEqual(limit);
        expect(p.trim()).not.toBe("");
      }
    }
  });

  test("returns nothing for blank text", () => {
    expect(splitText(" \n\n ", 10)).toEqual([]);
  });
});
