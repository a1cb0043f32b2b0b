import type { ExportedMessage } from "../db/message.repository.ts";
import type { Texts } from "./texts.ts";

/** A chat's history as a Markdown document a person can read, in the reader's language. */
export function exportMarkdown(messages: readonly ExportedMessage[], chatTitle: string, at: Date, texts: Pick<Texts, "exportDocument">): string {
  const words = texts.exportDocument;
  const lines = [`# ${chatTitle}`, "", words.header(at.toISOString().slice(0, 16).replace("T", " "), messages.length), ""];
  for (const m of messages) {
    const who = m.role === "assistant" ? `Parley${m.model ? ` (${m.model})` : ""}` : (m.author ?? words.user);
    const notes = [...(m.interrupted ? [words.stopped] : []), ...(m.inContext ? [] : [words.notAnswered])];
    lines.push(`## ${who}, ${m.createdAt.toISOString().slice(0, 19).replace("T", " ")}${notes.length ? ` (${notes.join(", ")})` : ""}`, "", m.content, "");
  }
  return lines.join("\n");
}

/** The same history as JSON, for programs. */
export function exportJson(messages: readonly ExportedMessage[], chatId: number, at: Date): string {
  return JSON.stringify(
    {
      chatId,
      exportedAt: at.toISOString(),
      messages: messages.map((m) => ({
        role: m.role,
        author: m.author,
        content: m.content,
        createdAt: m.createdAt.toISOString(),
        ...(m.model ? { model: m.model } : {}),
        ...(m.interrupted ? { interrupted: true } : {}),
        ...(m.inContext ? {} : { inContext: false }),
      })),
    },
    null,
    2,
  );
}
