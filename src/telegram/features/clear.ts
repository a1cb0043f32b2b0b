import { Composer } from "grammy";
import type { ParleyContext } from "../context.ts";
import type { Logger } from "pino";
import type { SettingsPolicy } from "../../access/chat-admins.ts";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { texts } from "../texts.ts";

export interface ClearDependencies {
  dialogue: DialogueService;
  logger: Logger;
  /** In groups, the shared memory is the chat's settings: its admins' (or, if allowed, anyone's). */
  settings: SettingsPolicy;
}

export function createClearFeature({ dialogue, logger, settings }: ClearDependencies): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("clear", async (ctx) => {
    const allowed = await settings.mayChange({
      chatType: ctx.chat.type,
      chatId: ctx.chat.id,
      userId: ctx.from?.id ?? 0,
      senderChatId: ctx.msg.sender_chat?.id,
    });
    if (!allowed) return ctx.reply(texts.groupAdminsOnly, { reply_parameters: { message_id: ctx.msg.message_id } });
    let cleared: number;
    try {
      cleared = await dialogue.clear(ctx.chat.id);
    } catch (error) {
      logger.error({ err: error, chatId: ctx.chat.id }, "could not clear the history");
      return ctx.reply(texts.storageUnavailable);
    }
    logger.info({ chatId: ctx.chat.id, cleared }, "history cleared");
    return ctx.reply(texts.cleared(cleared));
  });
  return feature;
}
