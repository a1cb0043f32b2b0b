import { Composer } from "grammy";
import type { ParleyContext } from "../context.ts";
import type { Logger } from "pino";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { texts } from "../texts.ts";

export interface ClearDependencies {
  dialogue: DialogueService;
  logger: Logger;
}

export function createClearFeature({ dialogue, logger }: ClearDependencies): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("clear", async (ctx) => {
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
