import { Composer } from "grammy";
import type { Logger } from "pino";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import type { ParleyContext } from "../context.ts";

/**
 * A group upgraded to a supergroup gets a new chat id. Telegram says so twice: in the old chat
 * (migrate_to_chat_id) and in the new one (migrate_from_chat_id). Either moves the history; the
 * second finds nothing left to move.
 */
export function createMigrateFeature({ dialogue, logger }: { dialogue: DialogueService; logger: Logger }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  const move = async (from: number, to: number) => {
    const moved = await dialogue.moveChat(from, to);
    if (moved > 0) logger.info({ fromChatId: from, toChatId: to, moved }, "group upgraded to a supergroup: its history moved");
  };
  feature.on("message:migrate_to_chat_id", (ctx) => move(ctx.chat.id, ctx.msg.migrate_to_chat_id));
  feature.on("message:migrate_from_chat_id", (ctx) => move(ctx.msg.migrate_from_chat_id, ctx.chat.id));
  return feature;
}
