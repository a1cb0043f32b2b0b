import { sql } from "kysely";
import type { ChatSettings } from "../domain/chats.ts";
import type { Id } from "../domain/ids.ts";
import type { Executor } from "./executor.ts";

export interface SettingsRepository {
  /** Settings of many chats in one statement, in the order asked (defaults where none are set). */
  ofChats(chatIds: readonly Id[]): Promise<ChatSettings[]>;
  /** Sets (or, with null, resets) a chat's instructions. */
  setSystemPrompt(chatId: Id, prompt: string | null, by: Id): Promise<void>;
  /** Sets (or, with null, resets) a chat's model. */
  setModel(chatId: Id, model: string | null, by: Id): Promise<void>;
  /** Sets (or, with null, resets) a group's history mode. */
  setHistoryMode(chatId: Id, mode: string | null, by: Id): Promise<void>;
  /** A group upgraded to a supergroup: its settings follow it. */
  move(fromChatId: Id, toChatId: Id): Promise<void>;
}

export function createSettingsRepository(db: Executor): SettingsRepository {
  /** One setting of a chat, the others left as they are. */
  const set = async (chatId: Id, column: "system_prompt" | "model" | "history_mode", value: string | null, by: Id) => {
    // The /system text is its author's words: who wrote it is kept with it (for their /forget).
    const author = column === "system_prompt" ? { system_prompt_by: value === null ? null : by } : {};
    await db
      .insertInto("chat_settings")
      .values({ chat_id: chatId, [column]: value, updated_by: by, ...author })
      .onConflict((oc) =>
        oc.column("chat_id").doUpdateSet((eb) => ({
          [column]: eb.ref(`excluded.${column}`),
          ...(column === "system_prompt" ? { system_prompt_by: eb.ref("excluded.system_prompt_by") } : {}),
          updated_by: eb.ref("excluded.updated_by"),
          updated_at: sql<Date>`now()`,
        })),
      )
      .execute();
  };
  return {
    async ofChats(chatIds) {
      if (chatIds.length === 0) return [];
      const { rows } = await sql<{ ord: number; system_prompt: string | null; model: string | null; history_mode: string | null }>`
        select c.ord::int as ord, s.system_prompt, s.model, s.history_mode
        from unnest(${chatIds.map(String)}::bigint[]) with ordinality as c(chat_id, ord)
        left join chat_settings s on s.chat_id = c.chat_id
        order by c.ord
      `.execute(db);
      return rows.map((r) => ({ systemPrompt: r.system_prompt, model: r.model, historyMode: r.history_mode }));
    },

    setSystemPrompt: (chatId, prompt, by) => set(chatId, "system_prompt", prompt, by),
    setModel: (chatId, model, by) => set(chatId, "model", model, by),
    setHistoryMode: (chatId, mode, by) => set(chatId, "history_mode", mode, by),

    async move(fromChatId, toChatId) {
      await db
        .updateTable("chat_settings")
        .set({ chat_id: toChatId })
        .where("chat_id", "=", BigInt(fromChatId))
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom("chat_settings as s").select("s.chat_id").where("s.chat_id", "=", BigInt(toChatId)))))
        .execute();
    },
  };
}
