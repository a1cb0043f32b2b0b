/**
 * Counting a request's tokens before it is sent, with a real tokenizer (gpt-tokenizer, OpenAI's
 * cl100k_base BPE in pure JavaScript): what daily token limits reserve before the model is
 * called. Other models' tokenizers differ by some percent; the reservation is settled to what the
 * server reports afterwards.
 *
 * The tokenizer is loaded only where a token limit is set (it holds ~40 MB), and it is fed
 * pieces of at most PIECE_CHARS characters: byte-pair merging costs the square of a word's
 * length, and a hostile "word" of 100 000 letters took 7.6 s in one piece (10 ms in pieces; a
 * cut costs at most a token or two more: an estimate on the safe side).
 */
import type { ModelMessage } from "./client.ts";

const PIECE_CHARS = 200;
/** What an image costs at most on OpenAI's models at high detail for our sizes (4 tiles + base). */
export const IMAGE_TOKENS = 765;
/** Framing per message, and per request (OpenAI's chat format). */
const PER_MESSAGE = 4;
const PER_REQUEST = 3;

export interface TokenCounter {
  count(text: string): number;
  /** A whole request: every message's text, its images and the chat format's framing. */
  countTurns(turns: readonly ModelMessage[]): number;
}

/** Pieces of at most `max` characters, cut at a space where there is one (never inside a surrogate pair). */
export function* pieces(text: string, max = PIECE_CHARS): Generator<string> {
  let start = 0;
  while (text.length - start > max) {
    let end = text.lastIndexOf(" ", start + max);
    if (end <= start) {
      end = start + max;
      const code = text.charCodeAt(end - 1);
      if (code >= 0xd800 && code <= 0xdbff) end--;
    }
    yield text.slice(start, end);
    start = end;
  }
  if (start < text.length) yield text.slice(start);
}

let loading: Promise<TokenCounter> | undefined;

export function loadTokenCounter(): Promise<TokenCounter> {
  loading ??= import("gpt-tokenizer/encoding/cl100k_base").then(({ countTokens, setMergeCacheSize }) => {
    setMergeCacheSize(10_000); // its default keeps 100 000 merges: memory for nothing here
    // Text that looks like a special token ("<|endoftext|>") is text: a user may type it.
    const options = { disallowedSpecial: new Set<string>() };
    const count = (text: string) => {
      let n = 0;
      for (const piece of pieces(text)) n += countTokens(piece, options);
      return n;
    };
    return {
      count,
      countTurns: (turns) =>
        turns.reduce((sum, turn) => {
          if (typeof turn.content === "string") return sum + PER_MESSAGE + count(turn.content);
          return sum + PER_MESSAGE + turn.content.reduce((s, part) => s + (part.type === "text" ? count(part.text) : IMAGE_TOKENS), 0);
        }, PER_REQUEST),
    };
  });
  return loading;
}
