import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Inline buttons whose data cannot be forged. Telegram hands a button's callback data back as the
 * client sends it, and any client can send any data: so every button the bot makes carries a MAC
 * of its data and its chat (HMAC-SHA256 under a key derived from the bot token, which never leaves
 * the server), and a press whose MAC does not match is refused before any feature sees it. A
 * button copied to another chat does not work there either. The key is the same on every instance
 * and across restarts (the token is); a new token voids the old buttons.
 *
 * The MAC says the bot made the button, not that the presser may use it: each feature still
 * checks the presser's rights when pressed (chat admin, author), from the server's state.
 */
export interface Buttons {
  /** The callback data of a button in `chatId` that carries `data` (at most DATA_MAX_BYTES). */
  sign(chatId: number, data: string): string;
  /** The data of a pressed button, or null if this bot did not make it for this chat. */
  verify(chatId: number, callbackData: string): string | null;
}

/** Telegram's limit on callback data is 64 bytes: the MAC and its separator take 13. */
export const DATA_MAX_BYTES = 51;
const MAC_CHARS = 12; // 72 bits of base64url
const SEPARATOR = "~";

export function createButtons(token: string): Buttons {
  const key = createHmac("sha256", token).update("parley/buttons/v1").digest();
  const mac = (chatId: number, data: string) => createHmac("sha256", key).update(`${chatId}\n${data}`).digest("base64url").slice(0, MAC_CHARS);
  return {
    sign(chatId, data) {
      if (Buffer.byteLength(data) > DATA_MAX_BYTES || data.includes(SEPARATOR)) throw new Error(`button data too long or malformed: ${data}`);
      return `${data}${SEPARATOR}${mac(chatId, data)}`;
    },
    verify(chatId, callbackData) {
      const at = callbackData.lastIndexOf(SEPARATOR);
      if (at < 0) return null;
      const data = callbackData.slice(0, at);
      const given = Buffer.from(callbackData.slice(at + 1));
      const expected = Buffer.from(mac(chatId, data));
      return given.length === expected.length && timingSafeEqual(given, expected) ? data : null;
    },
  };
}
