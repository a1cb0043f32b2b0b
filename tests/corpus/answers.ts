/**
 * Hostile model answers: Markdown that makes backtracking or recursive parsers slow (the
 * cmark and md4c pathological-input suites, and what was measured against Parley itself), text
 * that PostgreSQL or Telegram refuse, and plain long answers. A user only has to ask the model to
 * echo one of these. Every entry is at most ANSWER_CORPUS_MAX characters, about an answer's cap.
 */
export const ANSWER_CORPUS_MAX = 32_000;

const fit = (unit: string) => unit.repeat(Math.floor(ANSWER_CORPUS_MAX / unit.length));
const lines = (n: number, line: (i: number) => string) => Array.from({ length: n }, (_, i) => line(i)).join("\n");

export const HOSTILE_ANSWERS: Record<string, string> = {
  /** Measured: 1 500 of these stalled every chat for ~10 s in marked. */
  "open links": fit("[a]("),
  "open links with <": fit("[a](<b"),
  "emphasis runs": fit("*a **a "),
  "underscore runs": fit("_a __a "),
  "nested emphasis": `${"*a ".repeat(4_000)}b${" a*".repeat(4_000)}`,
  "nested brackets": `${"[".repeat(15_000)}a${"]".repeat(15_000)}`,
  "md4c brackets": fit("]([\n"),
  "backtick runs": lines(250, (i) => `${"`".repeat(1 + (i % 120))}a`),
  /** Measured: 800 levels took 5.6 s and 354 MB; 2 000 ran out of memory. */
  "nested list": lines(170, (i) => `${"  ".repeat(i)}* foo`),
  "flat deep list": lines(2_000, (i) => `${" ".repeat(i % 60)}- x`),
  "nested quotes": `${">".repeat(31_000)} deep`,
  "quoted lists": lines(240, (i) => `${"> ".repeat(i % 120)}- a`),
  "empty list items": fit("-\n"),
  "wide table": `|${"a|".repeat(700)}\n|${"-|".repeat(700)}\n${`|${"b|".repeat(700)}\n`.repeat(20)}`,
  "long table": `| a | b |\n|---|---|\n${fit("| x | y |\n").slice(0, ANSWER_CORPUS_MAX - 30)}`,
  "reference definitions": `${"[a]: b\n".repeat(2_000)}${"[a]".repeat(5_000)}`,
  "entities": fit("&#123;&amp;&nbsp;"),
  "dollars": fit("$a_b *c $"),
  "display math fences": fit("$$\n"),
  "unclosed fence": `\`\`\`\n${fit("code line\n\n")}`,
  "fences": fit("```\n"),
  "html blocks": fit("<div>\n"),
  "autolinks": fit("<http://a"),
  "one long line": "word".repeat(8_000),
  "one long code line": `\`\`\`js\n${"x=1;".repeat(7_900)}\n\`\`\``,
  "a normal long answer": lines(300, (i) => (i % 10 === 0 ? `## Part ${i}\n` : `Some **bold** text, \`code\`, a [link](https://example.com/${i}) and $x^2$.`)),
};

/** Answers PostgreSQL or Telegram would refuse as they are. */
export const UNSTORABLE_ANSWERS: Record<string, string> = {
  "NUL characters": "before\u0000after\u0000",
  "a lone high surrogate": "broken \ud800 pair",
  "a lone low surrogate": "broken \udc00 pair",
  "a pair cut at the end": `ends in half an emoji ${"👋".slice(0, 1)}`,
};
