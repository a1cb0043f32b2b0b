/**
 * Who administers a group, as Telegram says (getChatAdministrators), kept for a few minutes so a
 * burst of commands asks once. A promotion or demotion shows up within `ttlMs`.
 */
export interface ChatAdmins {
  isChatAdmin(chatId: number, userId: number): Promise<boolean>;
}

export interface ChatAdminsOptions {
  fetch(chatId: number): Promise<number[]>;
  ttlMs?: number;
  /** The cache forgets the oldest chats beyond this many. */
  maxChats?: number;
  now?: () => number;
}

export function createChatAdmins({ fetch, ttlMs = 5 * 60_000, maxChats = 10_000, now = Date.now }: ChatAdminsOptions): ChatAdmins {
  const cache = new Map<number, { admins: Promise<Set<number>>; at: number }>();
  return {
    async isChatAdmin(chatId, userId) {
      let entry = cache.get(chatId);
      if (!entry || now() - entry.at >= ttlMs) {
        const admins = fetch(chatId).then((ids) => new Set(ids));
        entry = { admins, at: now() };
        cache.delete(chatId);
        cache.set(chatId, entry);
        if (cache.size > maxChats) cache.delete(cache.keys().next().value!);
        // A failed question is not kept: the next command asks again.
        admins.catch(() => cache.get(chatId) === entry && cache.delete(chatId));
      }
      return (await entry.admins).has(userId);
    },
  };
}

/** Who may change a chat's settings (/clear and the like). */
export interface SettingsPolicy {
  mayChange(who: { chatType: string; chatId: number; userId: number; senderChatId?: number | undefined }): Promise<boolean>;
}

export function createSettingsPolicy(options: {
  by: "admins" | "everyone";
  isBotAdmin: (userId: number) => boolean;
  chatAdmins: ChatAdmins;
}): SettingsPolicy {
  return {
    async mayChange({ chatType, chatId, userId, senderChatId }) {
      if (chatType === "private" || options.by === "everyone" || options.isBotAdmin(userId)) return true;
      // An anonymous group admin writes as the group itself.
      if (senderChatId === chatId) return true;
      return options.chatAdmins.isChatAdmin(chatId, userId);
    },
  };
}
