import { describe, expect, test } from "vitest";
import type { ExportedMessage } from "../../src/domain/messages.ts";
import { exportJson, exportMarkdown } from "../../src/telegram/export.ts";
import { createLanguages } from "../../src/telegram/i18n.ts";

const at = new Date("2026-11-23T10:00:00Z");
const message = (over: Partial<ExportedMessage>): ExportedMessage => ({
  role: "user",
  kind: "text",
  attachment: null,
  author: "Ann",
  content: "hi",
  createdAt: at,
  inContext: true,
  interrupted: false,
  model: null,
  ...over,
});

describe("export", () => {
  test("Markdown names who wrote what and when, and notes stopped answers and unanswered messages", () => {
    const md = exportMarkdown(
      [message({ inContext: false, content: "lost?" }), message({ role: "assistant", author: null, content: "half", interrupted: true, model: "m1" })],
      "Team",
      at,
      createLanguages().textsFor("en"),
    );
    expect(md).toBe(
      [
        "# Team",
        "",
        "Exported from Parley on 2026-11-23 10:00 UTC: 2 messages.",
        "",
        "## Ann, 2026-11-23 10:00:00 (not answered)",
        "",
        "lost?",
        "",
        "## Parley (m1), 2026-11-23 10:00:00 (stopped)",
        "",
        "half",
        "",
      ].join("\n"),
    );
  });

  test("JSON keeps the facts, and leaves out what is usual", () => {
    const data = JSON.parse(exportJson([message({}), message({ role: "assistant", author: null, model: "m1", interrupted: true })], 5, at)) as Record<string, unknown>;
    expect(data).toEqual({
      chatId: 5,
      exportedAt: "2026-11-23T10:00:00.000Z",
      messages: [
        { role: "user", author: "Ann", content: "hi", createdAt: "2026-11-23T10:00:00.000Z" },
        { role: "assistant", author: null, content: "hi", createdAt: "2026-11-23T10:00:00.000Z", model: "m1", interrupted: true },
      ],
    });
  });
});
