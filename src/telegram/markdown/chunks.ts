/**
 * An answer cut into chunks of bounded size before anything parses it: every later step (the
 * Markdown parser, the rich-message packing, the entities) then costs at most a constant per
 * chunk, so the whole answer costs time and memory linear in its length, whatever the model
 * wrote. One pass over the lines, no backtracking.
 *
 * A chunk ends where a new top-level block starts: a blank line outside code and formulas,
 * followed by a line that is not indented (an indented one may continue a list item). A run of
 * lines longer than `maxChars` with no such place is cut at a line anyway: a code block or a
 * `$$` formula is closed there and opened again in the next chunk, a table's header goes on top
 * of the next chunk again. A single line longer than `maxChars` is cut at a space (or anywhere,
 * never inside a surrogate pair).
 */

/** The most characters a chunk holds (plus a reopened fence or a repeated table header). */
export const CHUNK_MAX_CHARS = 4_000;

export interface Chunk {
  /** Where the chunk's own text is in the answer: answer.slice(start, end). */
  start: number;
  end: number;
  /** Put before the text when the chunk stands alone: a code fence or `$$` opened again, a table header. */
  prefix: string;
  /** Put after the text when the chunk stands alone: the fence or `$$` it closes. */
  suffix: string;
  /** The chunk ends where a block was cut (the next chunk continues that block). */
  cutInside: boolean;
}

/** The chunk as Markdown on its own. */
export const chunkText = (markdown: string, chunk: Chunk): string => `${chunk.prefix}${markdown.slice(chunk.start, chunk.end)}${chunk.suffix}`;

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const MATH_FENCE = /^ {0,3}\$\$\s*$/;
const TABLE_SEPARATOR = /^ {0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

interface Line {
  start: number;
  /** End of the line, without its newline. */
  end: number;
  /** After the newline (or the end of the text). */
  next: number;
}

/** What closes an open fence or formula, put after a chunk cut inside it. */
const closingOf = (fence: { opener: string } | null) => (fence ? `\n${/^\s*([`~]+|\$\$)/.exec(fence.opener)![1]}` : "");

const isBlank = (text: string, line: Line) => text.slice(line.start, line.end).trim() === "";
const startsIndented = (text: string, line: Line) => line.end > line.start && (text[line.start] === " " || text[line.start] === "\t");
const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** Cuts one long line into pieces of at most `max` characters: at the last space, or anywhere but inside a surrogate pair. */
function cutLine(text: string, line: Line, max: number): Line[] {
  const pieces: Line[] = [];
  let start = line.start;
  while (line.end - start > max) {
    let end = text.lastIndexOf(" ", start + max);
    if (end <= start + max / 2) end = isHighSurrogate(text.charCodeAt(start + max - 1)) ? start + max - 1 : start + max;
    pieces.push({ start, end, next: end });
    start = end;
  }
  pieces.push({ start, end: line.end, next: line.next });
  return pieces;
}

export function chunkMarkdown(markdown: string, maxChars = CHUNK_MAX_CHARS): Chunk[] {
  const chunks: Chunk[] = [];
  // Lines, with the long ones already cut (so no line is longer than maxChars).
  const lines: Line[] = [];
  for (let start = 0; start < markdown.length; ) {
    const newline = markdown.indexOf("\n", start);
    const end = newline < 0 ? markdown.length : newline;
    const line = { start, end, next: newline < 0 ? markdown.length : newline + 1 };
    if (end - start > maxChars) lines.push(...cutLine(markdown, line, maxChars));
    else lines.push(line);
    start = line.next;
  }

  /** The open code fence or formula: the line that opened it, and how it closes. */
  let fence: { opener: string; closes: (line: string) => boolean } | null = null;
  /** The header and separator of the table the current lines belong to. */
  let table: string | null = null;
  let chunkStart = 0; // first line of the current chunk
  let prefix = "";
  let size = 0;
  /** The last line index (in the current chunk) before which a new chunk may start, and the state there. */
  let boundary = -1;

  const emit = (endLine: number, suffix: string, cutInside: boolean) => {
    const first = lines[chunkStart];
    const last = lines[endLine - 1];
    if (first && last && endLine > chunkStart) chunks.push({ start: first.start, end: last.end, prefix, suffix, cutInside });
    chunkStart = endLine;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const text = markdown.slice(line.start, line.end);
    const length = line.next - line.start;
    if (size + length > maxChars && i > chunkStart) {
      if (boundary > chunkStart) {
        // A new block started within this chunk: the chunk ends before it.
        emit(boundary, "", false);
        prefix = "";
        size = 0;
        for (let k = chunkStart; k < i; k++) size += lines[k]!.next - lines[k]!.start;
      } else {
        // No block boundary in maxChars: cut the block here and carry it on.
        emit(i, closingOf(fence), true);
        prefix = fence ? `${fence.opener}\n` : table ? `${table}\n` : "";
        size = prefix.length;
      }
      boundary = -1;
    }
    size += length;

    if (fence) {
      if (fence.closes(text)) fence = null;
      continue;
    }
    const opened = FENCE.exec(text);
    // A backtick fence's info string has no backtick ("```a```" is inline code, not a fence).
    if (opened && !(opened[1]![0] === "`" && opened[2]!.includes("`"))) {
      const marker = opened[1]!;
      const closer = new RegExp(`^ {0,3}\\${marker[0]}{${marker.length},}\\s*$`);
      fence = { opener: text, closes: (l) => closer.test(l) };
      continue;
    }
    if (MATH_FENCE.test(text)) {
      fence = { opener: text, closes: (l) => MATH_FENCE.test(l) };
      continue;
    }
    if (isBlank(markdown, line)) {
      table = null;
      const next = lines[i + 1];
      if (next && !isBlank(markdown, next) && !startsIndented(markdown, next)) boundary = i + 1;
      continue;
    }
    // A table's separator line, under its header: from here on a cut repeats both.
    const previous = lines[i - 1];
    if (table === null && previous && TABLE_SEPARATOR.test(text) && text.includes("-")) {
      const header = markdown.slice(previous.start, previous.end);
      if (header.includes("|")) table = `${header}\n${text}`;
    }
  }
  emit(lines.length, closingOf(fence), false);
  return chunks;
}
