/** Telegram's limit for one message's text, after entity parsing. */
export const TELEGRAM_TEXT_LIMIT = 4096;

export interface Span {
  start: number;
  end: number;
}

const WHITESPACE = /\s/;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** The best place to end a piece of text[start, start+limit): paragraph, then line, then word. */
function findCut(text: string, start: number, limit: number): number {
  const hardEnd = start + limit;
  const window = text.slice(start, hardEnd + 1);
  for (const minShare of [0.5, 0]) {
    for (const separator of ["\n\n", "\n", " "]) {
      const at = window.lastIndexOf(separator, limit);
      if (at > limit * minShare && at > 0) return start + at;
    }
  }
  // One unbroken run longer than the limit: cut it, but never between a surrogate pair.
  return isHighSurrogate(text.charCodeAt(hardEnd - 1)) ? hardEnd - 1 : hardEnd;
}

/**
 * Splits text into pieces of at most `limit` UTF-16 code units (Telegram counts at most that),
 * preferring paragraph, then line, then word boundaries. Only the whitespace at a boundary is
 * dropped; every other character is kept, in order. Pieces are never blank.
 */
export function splitText(text: string, limit = TELEGRAM_TEXT_LIMIT): Span[] {
  const spans: Span[] = [];
  let pos = 0;
  const skipWhitespace = () => {
    while (pos < text.length && WHITESPACE.test(text.charAt(pos))) pos++;
  };
  skipWhitespace();
  while (pos < text.length) {
    let end = text.length - pos <= limit ? text.length : findCut(text, pos, limit);
    const next = end;
    while (end > pos && WHITESPACE.test(text.charAt(end - 1))) end--;
    if (end > pos) spans.push({ start: pos, end });
    pos = next;
    skipWhitespace();
  }
  return spans;
}
