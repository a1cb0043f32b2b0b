import type { Attachment, ExportedMessage } from "../domain/messages.ts";
import type { Texts } from "./texts.ts";

/** A chat's history as a Markdown document a person can read, in the reader's language. */
export function exportMarkdown(messages: readonly ExportedMessage[], chatTitle: string, at: Date, texts: Pick<Texts, "exportDocument">): string {
  const words = texts.exportDocument;
  const lines = [`# ${chatTitle}`, "", words.header(at.toISOString().slice(0, 16).replace("T", " "), messages.length), ""];
  for (const m of messages) {
    const who = m.role === "assistant" ? `Parley${m.model ? ` (${m.model})` : ""}` : (m.author ?? words.user);
    const notes = [...(m.interrupted ? [words.stopped] : []), ...(m.inContext ? [] : [words.notAnswered])];
    lines.push(`## ${who}, ${m.createdAt.toISOString().slice(0, 19).replace("T", " ")}${notes.length ? ` (${notes.join(", ")})` : ""}`, "");
    if (m.attachment) lines.push(`*${attachmentLine(m.attachment)}*`, "");
    lines.push(m.content, "");
  }
  return lines.join("\n");
}

/** A file as a reference: what it was, its name or size, and Telegram's unique id (the bytes are Telegram's). */
function attachmentLine(a: Attachment): string {
  const details = [
    a.fileName,
    a.width && a.height ? `${a.width}×${a.height}` : null,
    a.duration ? `${a.duration} s` : null,
    a.fileSize ? `${Math.max(1, Math.round(a.fileSize / 1024))} KB` : null,
    `file_unique_id ${a.fileUniqueId}`,
  ].filter((d) => d !== null);
  return `[${a.kind.replace("_", " ")}: ${details.join(", ")}]`;
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
        ...(m.kind !== "text" ? { kind: m.kind } : {}),
        ...(m.attachment ? { attachment: m.attachment } : {}),
        ...(m.model ? { model: m.model } : {}),
        ...(m.interrupted ? { interrupted: true } : {}),
        ...(m.inContext ? {} : { inContext: false }),
      })),
    },
    null,
    2,
  );
}
