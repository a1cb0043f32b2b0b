/**
 * Text as PostgreSQL and Telegram take it. PostgreSQL text and jsonb cannot hold NUL, and a lone
 * UTF-16 surrogate is not valid Unicode: user text, file contents and the model's answers alike
 * can carry both (a model repeats what it is asked to), so every text is cleaned before it is
 * stored or sent: NUL is dropped, a lone surrogate becomes U+FFFD.
 */
export const cleanText = (text: string): string => text.toWellFormed().replaceAll("\u0000", "");

/** `text` cut to at most `max` UTF-16 units, never inside a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * The command a message's text starts with, lower-cased ("/Cancel@parley_bot now" → "cancel"),
 * when it is addressed to this bot or to no bot in particular; else null.
 */
export function commandOf(text: string, botUsername: string): string | null {
  const command = /^\/(\w+)(?:@(\w+))?(?:\s|$)/.exec(text);
  if (!command || (command[2] !== undefined && command[2].toLowerCase() !== botUsername.toLowerCase())) return null;
  return command[1]!.toLowerCase();
}
