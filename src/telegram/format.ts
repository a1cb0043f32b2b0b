import { markdownToFormattable } from "@gramio/format/markdown";
import type { MessageEntity } from "grammy/types";
import { splitText, TELEGRAM_TEXT_LIMIT } from "./split.ts";

/** A message ready for sendMessage/editMessageText: plain text plus Telegram entities. */
export interface FormattedText {
  text: string;
  entities: MessageEntity[];
}

/**
 * The model's Markdown as Telegram text + entities. Entities (not MarkdownV2 strings) make the
 * 4096 limit exact and the plain-text fallback trivial: drop the entities.
 */
export function markdownToTelegram(markdown: string): FormattedText {
  try {
    const formatted = markdownToFormattable(markdown);
    if (formatted.text.trim() !== "") {
      return { text: formatted.text, entities: formatted.entities as MessageEntity[] };
    }
  } catch {
    // A converter failure must not lose the answer: fall through to plain text.
  }
  return { text: markdown, entities: [] };
}

/** Cuts formatted text into valid messages; entities that cross a cut are split with it. */
export function splitFormatted(input: FormattedText, limit = TELEGRAM_TEXT_LIMIT): FormattedText[] {
  return splitText(input.text, limit).map(({ start, end }) => ({
    text: input.text.slice(start, end),
    entities: input.entities.flatMap((entity) => {
      const from = Math.max(entity.offset, start);
      const to = Math.min(entity.offset + entity.length, end);
      return to > from ? [{ ...entity, offset: from - start, length: to - from }] : [];
    }),
  }));
}

/** The whole answer as Telegram messages, in order. */
export function formatAnswer(markdown: string, limit = TELEGRAM_TEXT_LIMIT): FormattedText[] {
  return splitFormatted(markdownToTelegram(markdown), limit);
}

/** What to show while the answer is still being written: plain, within one message. */
export function previewText(partial: string, limit = TELEGRAM_TEXT_LIMIT): string {
  const text = partial.trim();
  if (text.length <= limit) return text;
  const cut = splitText(text, limit - 2)[0];
  return `${text.slice(0, cut?.end ?? limit - 2)} …`;
}
