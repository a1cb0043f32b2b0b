/**
 * The model's Markdown as Telegram messages: rich messages (Telegram renders the Markdown
 * itself; this cuts it at block boundaries into messages of at most 32 768 bytes and 500
 * blocks) or classic text + entities (at most 4 096 UTF-16 units a message).
 *
 * Bounded work: the answer is cut into chunks of bounded size first (chunks.ts), each chunk is
 * parsed on its own, and the rendering gives the event loop back between chunks once it has run
 * for SLICE_MS, so a long or hostile answer never holds up other chats (doc/threat-model.md).
 */
import { splitText, TELEGRAM_TEXT_LIMIT } from "../split.ts";
import { chunkMarkdown, chunkText, CHUNK_MAX_CHARS, type Chunk } from "./chunks.ts";
import type MarkdownIt from "markdown-it";
import { countBlocks, markdownParser, parseChunk, toFormatted, type FormattedText, type ParsedChunk } from "./parser.ts";

export type { FormattedText };

export const RICH_MAX_BYTES = 32_768;
export const RICH_MAX_BLOCKS = 500;

/**
 * The longest the rendering runs before it lets other work in. A block is this slice plus one
 * chunk's parse plus any collection meanwhile: the worst over the hostile corpus was 50-75 ms with
 * 10 ms, 22-34 ms with 4 (doc/adr/0005-bounded-work.md). A short answer never yields.
 */
const SLICE_MS = 4;

const bytes = (text: string) => Buffer.byteLength(text, "utf8");

/**
 * A rendering is written as a generator that yields where it may pause (between chunks), and runs
 * here: it goes on synchronously until it has run for SLICE_MS, then gives the event loop back
 * (so a short answer never pauses). Only a pause awaits: with an `await` at every pause point,
 * a burst of answers rendered in lockstep, each one's clock counted all the others' work, and every
 * short answer waited out a pause behind all the pending I/O (measured: 0.25-0.3 s before the first
 * send of a 1 000-chat burst).
 */
type Paced<T> = Generator<void, T, void>;

async function runPaced<T>(work: Paced<T>): Promise<T> {
  let since = performance.now();
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
    if (performance.now() - since >= SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      since = performance.now();
    }
  }
}

/** Chunk size for messages of `maxBytes`: a chunk with its reopened fence and closing stays within a message (UTF-8 is at most 3 bytes a UTF-16 unit). */
const chunkCharsFor = (maxBytes: number) => Math.max(16, Math.min(CHUNK_MAX_CHARS, Math.floor(maxBytes / 12)));

/** A top-level block of the answer: where it is, what it needs around it alone, how many blocks Telegram counts in it. */
interface Unit {
  start: number;
  end: number;
  prefix: string;
  suffix: string;
  blocks: number;
  /** The unit goes on with a block that was cut before it (a long code block, a table). */
  continues: boolean;
}

/** Where each line of `text` starts. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) starts.push(at + 1);
  return starts;
}

/** The top-level blocks of one parsed chunk, in the answer's coordinates. */
function unitsOf(markdown: string, chunk: Chunk, parsed: ParsedChunk, continues: boolean): Unit[] {
  const text = chunkText(markdown, chunk);
  const starts = lineStarts(text);
  // From the chunk's text (prefix included) to the answer: the prefix maps to the chunk's start.
  const toAnswer = (offset: number) => Math.min(chunk.end, chunk.start + Math.max(0, offset - chunk.prefix.length));
  const units: Unit[] = [];
  const tokens = parsed.tokens;
  let depth = 0;
  let from = 0; // the token that opened the current top-level block
  for (let i = 0; i < tokens.length; i++) {
    if (depth === 0) from = i;
    depth += tokens[i]!.nesting;
    if (depth !== 0) continue;
    const map = tokens[from]!.map;
    if (!map) continue;
    const start = starts[map[0]] ?? text.length;
    const end = map[1] < starts.length ? starts[map[1]]! - 1 : text.length;
    units.push({ start: toAnswer(start), end: toAnswer(Math.max(start, end)), prefix: "", suffix: "", blocks: countBlocks({ tokens: tokens.slice(from, i + 1), rest: "" }), continues: false });
  }
  if (parsed.rest) {
    const from = text.length - parsed.rest.length;
    units.push({ start: toAnswer(from), end: chunk.end, prefix: "", suffix: "", blocks: parsed.rest.split("\n").length, continues: false });
  }
  if (units.length === 0) units.push({ start: chunk.start, end: chunk.end, prefix: "", suffix: "", blocks: 1, continues: false });
  // The chunk's first block may continue one cut before it; its last may be cut after it.
  units[0]!.start = chunk.start;
  units[0]!.prefix = chunk.prefix;
  units[0]!.continues = continues;
  units.at(-1)!.end = chunk.end;
  units.at(-1)!.suffix = chunk.suffix;
  return units;
}

const unitText = (markdown: string, first: Unit, last: Unit) => `${first.prefix}${markdown.slice(first.start, last.end)}${last.suffix}`.trim();

/** Units of `markdown` small enough for messages of `maxBytes` and `maxBlocks`. */
function* unitsFor(md: MarkdownIt, markdown: string, maxBytes: number, maxBlocks: number): Paced<Unit[]> {
  const units: Unit[] = [];
  function* collect(text: string, offset: number, maxChars: number): Paced<void> {
    let continues = false;
    for (const chunk of chunkMarkdown(text, maxChars)) {
      yield;
      const own = { ...chunk, start: chunk.start + offset, end: chunk.end + offset };
      const parsed = unitsOf(markdown, own, parseChunk(md, chunkText(text, chunk)), continues);
      continues = chunk.cutInside;
      for (const unit of parsed) {
        // A block with more blocks in it than a message may hold (a list of hundreds of items):
        // cut it again, smaller, at its lines.
        if (unit.blocks > maxBlocks && unit.end - unit.start > 1 && maxChars > 1) {
          const inner = markdown.slice(unit.start, unit.end);
          const before = units.length;
          yield* collect(inner, unit.start, Math.max(1, Math.floor(Math.min(maxChars, inner.length) / 2)));
          if (units.length > before) {
            units[before]!.prefix = unit.prefix + units[before]!.prefix;
            units[before]!.continues = unit.continues;
            units.at(-1)!.suffix += unit.suffix;
          }
        } else units.push(unit);
      }
    }
  }
  yield* collect(markdown, 0, chunkCharsFor(maxBytes));
  return units;
}

/**
 * The answer as rich messages, in order: whole top-level blocks packed while they fit in
 * `maxBytes` and `maxBlocks`; a block larger than a message is cut into blocks (code fenced
 * again, a table's header repeated).
 */
export async function splitRichMarkdown(markdown: string, maxBytes = RICH_MAX_BYTES, maxBlocks = RICH_MAX_BLOCKS): Promise<string[]> {
  return runPaced(richMessages(await markdownParser(), markdown, maxBytes, maxBlocks));
}

function* richMessages(md: MarkdownIt, markdown: string, maxBytes: number, maxBlocks: number): Paced<string[]> {
  const units = yield* unitsFor(md, markdown, maxBytes, maxBlocks);
  // UTF-8 bytes of the answer up to each unit's start and end (positions only grow: one pass).
  const startBytes: number[] = [];
  const endBytes: number[] = [];
  let position = 0;
  let counted = 0;
  const bytesTo = (at: number) => {
    counted += bytes(markdown.slice(position, Math.max(position, at)));
    position = Math.max(position, at);
    return counted;
  };
  for (const unit of units) {
    startBytes.push(bytesTo(unit.start));
    endBytes.push(bytesTo(unit.end));
  }
  /** Bytes of units[from..to] sent as one message. */
  const sizeOf = (from: number, to: number) => bytes(units[from]!.prefix) + endBytes[to]! - startBytes[from]! + bytes(units[to]!.suffix);
  const blocksOf = (from: number, to: number) => {
    let n = 0;
    for (let k = from; k <= to; k++) n += units[k]!.blocks;
    return n;
  };
  const fits = (from: number, to: number) => sizeOf(from, to) <= maxBytes && blocksOf(from, to) <= maxBlocks;

  // A block cut into several units goes whole into one message if it fits one: the units that
  // continue it are taken with it.
  const groups: Array<[number, number]> = [];
  for (let i = 0; i < units.length; ) {
    let j = i;
    while (j + 1 < units.length && units[j + 1]!.continues) j++;
    if (j > i && !fits(i, j)) for (let k = i; k <= j; k++) groups.push([k, k]);
    else groups.push([i, j]);
    i = j + 1;
  }

  const messages: string[] = [];
  let first = 0; // the message's first unit
  let blocks = 0;
  for (const [i, j] of groups) {
    const groupBlocks = blocksOf(i, j);
    if (i > first && (sizeOf(first, j) > maxBytes || blocks + groupBlocks > maxBlocks)) {
      const text = unitText(markdown, units[first]!, units[i - 1]!);
      if (text) messages.push(text);
      first = i;
      blocks = 0;
    }
    blocks += groupBlocks;
    yield;
  }
  if (units.length > first) {
    const text = unitText(markdown, units[first]!, units.at(-1)!);
    if (text) messages.push(text);
  }
  return messages;
}

/** The model's Markdown as Telegram text + entities (falls back to the text itself if that leaves nothing). */
export async function markdownToTelegram(markdown: string): Promise<FormattedText> {
  return runPaced(entitiesOf(await markdownParser(), markdown));
}

function* entitiesOf(md: MarkdownIt, markdown: string): Paced<FormattedText> {
  let text = "";
  const entities: FormattedText["entities"] = [];
  for (const chunk of chunkMarkdown(markdown)) {
    yield;
    const formatted = toFormatted(parseChunk(md, chunkText(markdown, chunk)));
    if (formatted.text.trim() === "") continue;
    if (text !== "") text += "\n\n";
    for (const e of formatted.entities) entities.push({ ...e, offset: e.offset + text.length });
    text += formatted.text;
  }
  return text.trim() === "" ? { text: markdown, entities: [] } : { text, entities };
}

/**
 * Cuts formatted text into valid messages; entities that cross a cut are split with it. Linear in
 * entities and messages: each entity goes to the messages it overlaps, found by binary search (a
 * wide table made 14 700 entities in 41 messages, and a pass over every entity per message held
 * the event loop 10-20 ms).
 */
export function splitFormatted(input: FormattedText, limit = TELEGRAM_TEXT_LIMIT): FormattedText[] {
  const spans = splitText(input.text, limit);
  const pieces: FormattedText["entities"][] = spans.map(() => []);
  /** The first span that ends after `offset`. */
  const firstEndingAfter = (offset: number) => {
    let low = 0;
    let high = spans.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (spans[middle]!.end <= offset) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  for (const entity of input.entities) {
    const entityEnd = entity.offset + entity.length;
    for (let k = firstEndingAfter(entity.offset); k < spans.length && spans[k]!.start < entityEnd; k++) {
      const { start, end } = spans[k]!;
      const from = Math.max(entity.offset, start);
      const to = Math.min(entityEnd, end);
      if (to > from) pieces[k]!.push({ ...entity, offset: from - start, length: to - from });
    }
  }
  return spans.map(({ start, end }, k) => ({ text: input.text.slice(start, end), entities: pieces[k]! }));
}

/** The whole answer as classic Telegram messages, in order. */
export async function formatAnswer(markdown: string, limit = TELEGRAM_TEXT_LIMIT): Promise<FormattedText[]> {
  return splitFormatted(await markdownToTelegram(markdown), limit);
}

/** What a classic preview shows while the answer is still being written: plain, within one message. */
export function previewText(partial: string, limit = TELEGRAM_TEXT_LIMIT): string {
  const text = partial.trim();
  if (text.length <= limit) return text;
  const cut = splitText(text, limit - 2)[0];
  return `${text.slice(0, cut?.end ?? limit - 2)} …`;
}

/**
 * What a rich preview (a draft, a group's growing message) shows of a partial answer: the answer,
 * or the first message's worth of it, cut at a chunk's end (no parse: previews come several times
 * a second, and only the final answer is parsed).
 */
export function richPreview(partial: string, maxBytes = RICH_MAX_BYTES - 8): string {
  const text = partial.trim();
  if (bytes(text) <= maxBytes) return text;
  const chunks = chunkMarkdown(text, chunkCharsFor(maxBytes));
  let size = 0;
  let end = 0;
  while (end < chunks.length) {
    const next = bytes(chunkText(text, chunks[end]!)) + 2;
    if (end > 0 && size + next > maxBytes - 8) break;
    size += next;
    end++;
  }
  const first = chunks[0];
  const last = chunks[Math.max(0, end - 1)];
  if (!first || !last) return "…";
  return `${`${first.prefix}${text.slice(first.start, last.end)}${last.suffix}`.trim()}\n\n…`;
}
