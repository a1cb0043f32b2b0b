/**
 * Rich messages (Bot API 10.1): Telegram renders the model's Markdown itself, headings, tables,
 * lists, formulas and code included, up to 32 768 bytes and 500 blocks a message. This module
 * cuts an answer into such messages at block boundaries, never inside a table, a list item, a
 * formula or a code block, and knows whether the Bot API server has the rich methods at all.
 */
import { GrammyError } from "grammy";
import { Lexer, type Token, type Tokens } from "marked";
import type { Logger } from "../logger.ts";
import { splitText } from "./split.ts";

export const RICH_MAX_BYTES = 32_768;
export const RICH_MAX_BLOCKS = 500;

const bytes = (text: string) => Buffer.byteLength(text, "utf8");

/** Blocks Telegram counts for a token: itself, plus its list items, table rows and nested blocks. */
function blocksOf(token: Token): number {
  switch (token.type) {
    case "space":
      return 0;
    case "list":
      return 1 + (token as Tokens.List).items.reduce((sum, item) => sum + 1 + item.tokens.reduce((s, t) => s + (t.type === "list" ? blocksOf(t) : 0), 0), 0);
    case "table":
      return 1 + 1 + (token as Tokens.Table).rows.length;
    case "blockquote":
      return 1 + (token as Tokens.Blockquote).tokens.reduce((sum, t) => sum + blocksOf(t), 0);
    default:
      return 1;
  }
}

/** One block too big for a message on its own, cut into pieces that each are a whole block again. */
function cutBlock(token: Token, maxBytes: number): string[] {
  const pieces: string[] = [];
  const pack = (head: string, lines: string[], tail: string) => {
    let current: string[] = [];
    const flush = () => {
      if (current.length) pieces.push(`${head}${current.join("\n")}${tail}`);
      current = [];
    };
    for (const line of lines) {
      if (current.length && bytes(`${head}${[...current, line].join("\n")}${tail}`) > maxBytes) flush();
      current.push(line);
    }
    flush();
  };
  if (token.type === "code") {
    // Each piece a fenced block of its own, in the same language.
    const code = token as Tokens.Code;
    const fence = code.raw.trimStart().startsWith("~~~") ? "~~~" : "```";
    pack(`${fence}${code.lang ?? ""}\n`, code.text.split("\n"), `\n${fence}`);
  } else if (token.type === "table") {
    // The header goes again on top of every piece.
    const [header = "", separator = "", ...rows] = token.raw.trimEnd().split("\n");
    pack(`${header}\n${separator}\n`, rows, "");
  } else if (token.type === "list") {
    for (const item of (token as Tokens.List).items) pieces.push(...(bytes(item.raw) > maxBytes ? cutText(item.raw, maxBytes) : [item.raw.trimEnd()]));
  } else {
    pieces.push(...cutText(token.raw, maxBytes));
  }
  return pieces;
}

/** Plain text cut at paragraph, line or word boundaries: at most 4 bytes a UTF-16 unit. */
const cutText = (text: string, maxBytes: number) => splitText(text, Math.floor(maxBytes / 4)).map(({ start, end }) => text.slice(start, end));

/**
 * The answer as rich messages, in order: whole top-level blocks packed while they fit in
 * `maxBytes` and `maxBlocks`; a block larger than a message on its own is cut into blocks.
 */
export function splitRichMarkdown(markdown: string, maxBytes = RICH_MAX_BYTES, maxBlocks = RICH_MAX_BLOCKS): string[] {
  const messages: string[] = [];
  let current = "";
  let blocks = 0;
  const flush = () => {
    if (current.trim()) messages.push(current.trim());
    current = "";
    blocks = 0;
  };
  let tokens: Token[];
  try {
    tokens = new Lexer().lex(markdown);
  } catch {
    tokens = [{ type: "paragraph", raw: markdown, text: markdown, tokens: [] } as Tokens.Paragraph];
  }
  for (const token of tokens) {
    const count = blocksOf(token);
    if (bytes(token.raw.trim()) > maxBytes || count > maxBlocks) {
      flush();
      for (const piece of cutBlock(token, maxBytes)) {
        if (bytes(current) + bytes(piece) + 2 > maxBytes || blocks + 1 > maxBlocks) flush();
        current += `${piece}\n\n`;
        blocks += 1;
      }
      continue;
    }
    if (bytes(current) + bytes(token.raw) > maxBytes || blocks + count > maxBlocks) flush();
    current += token.raw;
    blocks += count;
  }
  flush();
  return messages;
}

/** The Bot API server does not have this method: an older or self-hosted server. */
export const isUnknownMethod = (error: unknown): boolean =>
  error instanceof GrammyError && (error.error_code === 404 || /method not found|unknown method/i.test(error.description));

/**
 * Whether to send rich messages: on (TELEGRAM_RICH_MESSAGES=auto) until the Bot API server shows
 * it lacks the rich methods, then off for the rest of the process, said once in the log.
 */
export interface RichSupport {
  readonly enabled: boolean;
  /** Call with an error from a rich method: true if it means the server lacks them (now off). */
  lacks(error: unknown): boolean;
}

export function createRichSupport(mode: "auto" | "off", logger: Logger): RichSupport {
  let enabled = mode === "auto";
  return {
    get enabled() {
      return enabled;
    },
    lacks(error) {
      if (!isUnknownMethod(error)) return false;
      if (enabled) {
        enabled = false;
        logger.warn({ reason: (error as GrammyError).description }, "the Bot API server has no rich messages; using classic formatted messages from now on");
      }
      return true;
    },
  };
}
