import { describe, expect, test } from "vitest";
import { formatAnswer, markdownToTelegram, previewText, splitFormatted, type FormattedText } from "../../src/telegram/markdown/render.ts";

const entityText = (text: string, e: { offset: number; length: number }) => text.slice(e.offset, e.offset + e.length);

describe("markdownToTelegram", () => {
  test("turns bold, italics, code, code blocks and links into entities", async () => {
    const { text, entities } = await markdownToTelegram(
      "Hi **bold** and _it_ and `code` 👋 [site](https://example.com)\n\n```ts\nconst a = 1;\n```",
    );
    expect(text).not.toContain("**");
    const byType = Object.fromEntries(entities.map((e) => [e.type, e]));
    expect(entityText(text, byType.bold!)).toBe("bold");
    expect(entityText(text, byType.italic!)).toBe("it");
    expect(entityText(text, byType.code!)).toBe("code");
    expect(byType.text_link).toMatchObject({ url: "https://example.com" });
    expect(entityText(text, byType.text_link!)).toBe("site"); // offsets in UTF-16 units, after the emoji
    expect(byType.pre).toMatchObject({ language: "ts" });
    expect(entityText(text, byType.pre!)).toContain("const a = 1;");
  });

  test("leaves unbalanced markers as text rather than failing", async () => {
    const { text } = await markdownToTelegram("an **unclosed bold");
    expect(text).toContain("unclosed bold");
  });

  test("falls back to the raw text when the conversion leaves nothing", async () => {
    expect(await markdownToTelegram("<!-- -->")).toEqual({ text: "<!-- -->", entities: [] });
  });
});

describe("splitFormatted", () => {
  test("moves entities into the piece that holds them, clipping one that crosses a cut", async () => {
    const text = "aaaa bbbb cccc dddd";
    const pieces = splitFormatted({ text, entities: [{ type: "bold", offset: 5, length: 9 }] }, 12);
    expect(pieces.map((p) => p.text)).toEqual(["aaaa bbbb", "cccc dddd"]);
    expect(pieces[0]!.entities).toEqual([{ type: "bold", offset: 5, length: 4 }]);
    expect(pieces[1]!.entities).toEqual([{ type: "bold", offset: 0, length: 4 }]);
  });

  test("an entity across many pieces is in each of them, clipped; entities keep their order in each piece", async () => {
    const text = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(9)).join(" "); // eight words of 9
    const entities: FormattedText["entities"] = [
      { type: "italic", offset: 0, length: text.length }, // the whole text
      { type: "bold", offset: 12, length: 3 }, // inside the second word
      { type: "code", offset: 25, length: 10 }, // across the third word's end and the fourth's start
      { type: "underline", offset: text.length - 2, length: 2 }, // the very end
    ];
    const pieces = splitFormatted({ text, entities }, 12);
    expect(pieces.map((p) => p.text)).toEqual(Array.from({ length: 8 }, (_, i) => `${i}`.repeat(9)));
    expect(pieces.map((p) => p.entities.map((e) => e.type))).toEqual([["italic"], ["italic", "bold"], ["italic", "code"], ["italic", "code"], ["italic"], ["italic"], ["italic"], ["italic", "underline"]]);
    expect(pieces[1]!.entities[1]).toEqual({ type: "bold", offset: 2, length: 3 });
    expect(pieces[2]!.entities[1]).toEqual({ type: "code", offset: 5, length: 4 });
    expect(pieces[3]!.entities[1]).toEqual({ type: "code", offset: 0, length: 5 });
    expect(pieces[7]!.entities[1]).toEqual({ type: "underline", offset: 7, length: 2 });
    for (const piece of pieces) expect(piece.entities[0]).toEqual({ type: "italic", offset: 0, length: 9 });
  });

  test("every piece of a long formatted answer is valid for Telegram", async () => {
    const markdown = Array.from({ length: 60 }, (_, i) => `**Title ${i}**\n\n${"text ".repeat(60)}`).join("\n\n");
    for (const piece of await formatAnswer(markdown)) {
      expect(piece.text.length).toBeLessThanOrEqual(4096);
      expect(piece.text.trim()).not.toBe("");
      for (const e of piece.entities) {
        expect(e.length).toBeGreaterThan(0);
        expect(e.offset + e.length).toBeLessThanOrEqual(piece.text.length);
      }
    }
  });
});

describe("previewText", () => {
  test("shows short text as it is and long text cut to one message", async () => {
    expect(previewText("  partial answer ")).toBe("partial answer");
    const long = previewText("word ".repeat(2000));
    expect(long.length).toBeLessThanOrEqual(4096);
    expect(long.endsWith(" …")).toBe(true);
  });
});
