/**
 * The Markdown parser: markdown-it (CommonMark, with tables, strikethrough and `$` formulas),
 * loaded on the first answer. It runs in linear time on any input (its pathological-input suite
 * runs in its CI), nesting is cut at MAX_NESTING, and it only ever sees one chunk (chunks.ts).
 */
import type MarkdownIt from "markdown-it";
import type Token from "markdown-it/lib/token.mjs";
import type { MessageEntity } from "grammy/types";

export type { Token };

/** Deeper lists and quotes than this are text (markdown-it's CommonMark preset uses 20 too). */
export const MAX_NESTING = 20;

let parser: Promise<MarkdownIt> | undefined;

/** The one parser of the process, made on first use (an idle bot never loads it). */
export function markdownParser(): Promise<MarkdownIt> {
  parser ??= (async () => {
    const [{ default: MarkdownIt }, { tex }] = await Promise.all([import("markdown-it"), import("@mdit/plugin-tex")]);
    const md = new MarkdownIt("commonmark", { html: true }).enable(["table", "strikethrough"]);
    // Not in the typings, read by the block and inline parsers (the preset's own value is 20 too).
    (md.options as { maxNesting?: number }).maxNesting = MAX_NESTING;
    md.use(tex, { render: (content: string) => content });
    return md;
  })();
  return parser;
}

/** A chunk's block tokens; or, where the parser gave up on some of it, none and the chunk as text. */
export interface ParsedChunk {
  tokens: Token[];
  /** Text shown as it is, after the tokens ("" when the parser took all of it). */
  rest: string;
}

/** Tokens whose lines (map) are the chunk's content: a line none of them covers was not parsed. */
const COVERING = new Set(["paragraph_open", "heading_open", "table_open", "fence", "code_block", "math_block", "hr", "html_block", "inline"]);

export function parseChunk(md: MarkdownIt, text: string): ParsedChunk {
  const tokens = md.parse(text, {});
  // markdown-it drops what lies deeper than maxNesting (a container's map still spans it): a chunk
  // with a non-blank line no token covers is shown as text, whole, rather than lose that line.
  const lines = text.split("\n");
  const covered = new Uint8Array(lines.length);
  for (const token of tokens) {
    if (!token.map) continue;
    if (token.type === "list_item_open") covered[token.map[0]] = 1; // an empty item has no paragraph
    else if (COVERING.has(token.type)) covered.fill(1, token.map[0], token.map[1]);
  }
  const complete = lines.every((line, i) => covered[i] === 1 || line.trim() === "");
  return complete ? { tokens, rest: "" } : { tokens: [], rest: text };
}

/**
 * The blocks Telegram counts in a rich message for these tokens (at most 500 a message): each
 * paragraph, heading, code block, formula and rule; a list and each of its items; a table, its
 * header and each row; a quote and the blocks in it. Lines left unparsed count one each.
 */
export function countBlocks(chunk: ParsedChunk): number {
  let blocks = 0;
  let inItem = 0;
  for (const token of chunk.tokens) {
    switch (token.type) {
      case "list_item_open":
        inItem++;
        blocks++;
        break;
      case "list_item_close":
        inItem--;
        break;
      case "paragraph_open":
        if (inItem === 0) blocks++;
        break;
      case "bullet_list_open":
      case "ordered_list_open":
      case "heading_open":
      case "blockquote_open":
      case "table_open":
      case "tr_open":
      case "fence":
      case "code_block":
      case "math_block":
      case "hr":
      case "html_block":
        blocks++;
        break;
    }
  }
  if (chunk.rest) blocks += chunk.rest.split("\n").length;
  return blocks;
}

/** A message ready for sendMessage/editMessageText: plain text plus Telegram entities. */
export interface FormattedText {
  text: string;
  entities: MessageEntity[];
}

/** Link targets Telegram takes in a text_link entity. */
const LINKABLE = /^(https?:\/\/|tg:\/\/)/i;

/**
 * The tokens as Telegram text and entities, in one pass: headings and strong text bold, emphasis
 * italic, strikethrough, inline code and formulas as code, code blocks and display formulas as
 * pre (with the language), quotes as blockquote, links as text_link, lists with bullets or
 * numbers, tables as rows of cells. Entities nest and never cross; offsets are UTF-16 units.
 */
export function toFormatted(chunk: ParsedChunk): FormattedText {
  const parts: string[] = [];
  let length = 0;
  const entities: MessageEntity[] = [];
  const append = (text: string) => {
    if (text === "") return;
    parts.push(text);
    length += text.length;
  };
  /** Entities opened and not closed yet, innermost last. */
  const open: Array<{ type: MessageEntity["type"]; offset: number; url?: string }> = [];
  const start = (type: MessageEntity["type"], url?: string) => open.push({ type, offset: length, ...(url ? { url } : {}) });
  const end = (type: MessageEntity["type"]) => {
    const index = open.findLastIndex((e) => e.type === type);
    if (index < 0) return;
    const [entity] = open.splice(index, 1);
    if (length > entity!.offset) entities.push({ ...entity!, length: length - entity!.offset } as MessageEntity);
  };
  const whole = (type: MessageEntity["type"], text: string, language?: string) => {
    const offset = length;
    append(text);
    if (text.length > 0) entities.push({ type, offset, length: text.length, ...(language ? { language } : {}) } as MessageEntity);
  };
  /** Before a block: a blank line after the previous one, or a line break inside lists and tables. */
  let blockStarted = false;
  const separate = (tight: boolean) => {
    if (length > 0 && blockStarted) append(tight ? "\n" : "\n\n");
    blockStarted = true;
  };

  const lists: Array<{ ordered: boolean; next: number }> = [];
  let quoteDepth = 0;
  let cell = 0;

  const inline = (children: Token[]) => {
    for (const child of children) {
      switch (child.type) {
        case "text":
        case "html_inline":
          append(child.content);
          break;
        case "softbreak":
        case "hardbreak":
          append("\n");
          break;
        case "code_inline":
        case "math_inline":
          whole("code", child.content);
          break;
        case "strong_open":
          start("bold");
          break;
        case "strong_close":
          end("bold");
          break;
        case "em_open":
          start("italic");
          break;
        case "em_close":
          end("italic");
          break;
        case "s_open":
          start("strikethrough");
          break;
        case "s_close":
          end("strikethrough");
          break;
        case "link_open": {
          const href = child.attrGet("href") ?? "";
          start(LINKABLE.test(href) ? "text_link" : "underline", LINKABLE.test(href) ? href : undefined);
          break;
        }
        case "link_close": {
          const top = open.findLast((e) => e.type === "text_link" || e.type === "underline");
          if (top) end(top.type);
          break;
        }
        case "image": {
          const src = child.attrGet("src") ?? "";
          const alt = child.content || src;
          if (LINKABLE.test(src)) {
            const offset = length;
            append(alt);
            if (alt) entities.push({ type: "text_link", offset, length: alt.length, url: src });
          } else append(alt);
          break;
        }
        default:
          append(child.content);
      }
    }
  };

  for (const token of chunk.tokens) {
    switch (token.type) {
      case "paragraph_open":
        if (!token.hidden) separate(false);
        break;
      case "heading_open":
        separate(false);
        start("bold");
        break;
      case "heading_close":
        end("bold");
        break;
      case "inline":
        inline(token.children ?? []);
        break;
      case "bullet_list_open":
      case "ordered_list_open":
        lists.push({ ordered: token.type === "ordered_list_open", next: Number(token.attrGet("start") ?? 1) });
        break;
      case "bullet_list_close":
      case "ordered_list_close":
        lists.pop();
        break;
      case "list_item_open": {
        const list = lists.at(-1)!;
        separate(true);
        append(`${"  ".repeat(lists.length - 1)}${list.ordered ? `${list.next++}.` : "•"} `);
        blockStarted = false; // the item's first paragraph goes on the marker's line
        break;
      }
      case "blockquote_open":
        separate(false);
        blockStarted = false;
        if (quoteDepth++ === 0) start("blockquote"); // Telegram's quotes do not nest
        break;
      case "blockquote_close":
        if (--quoteDepth === 0) end("blockquote");
        break;
      case "fence":
      case "code_block":
        separate(false);
        whole("pre", token.content.replace(/\n$/, ""), token.info.trim().split(/\s+/)[0] || undefined);
        break;
      case "math_block":
        separate(false);
        whole("pre", token.content.replace(/\n$/, ""));
        break;
      case "hr":
        separate(false);
        append("———");
        break;
      case "html_block":
        separate(false);
        append(token.content.replace(/\n$/, ""));
        break;
      case "table_open":
        separate(false);
        blockStarted = false;
        break;
      case "tr_open":
        separate(true);
        cell = 0;
        break;
      case "th_open":
      case "td_open":
        if (cell++ > 0) append(" | ");
        if (token.type === "th_open") start("bold");
        break;
      case "th_close":
        end("bold");
        break;
      case "tr_close":
        cell = 0;
        break;
    }
  }
  if (chunk.rest) {
    separate(false);
    append(chunk.rest.trim());
  }
  // Anything left open (it cannot be, but a lost entity must not take text with it) is closed here.
  while (open.length > 0) end(open.at(-1)!.type);
  return { text: parts.join(""), entities: entities.sort((a, b) => a.offset - b.offset || b.length - a.length) };
}
