import { Composer } from "grammy";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { quoteInGroups, type ParleyContext } from "../context.ts";

/**
 * The stop button and /cancel, when their own turn comes. They acted already when they arrived
 * (app.ts: an answer being written was stopped there and is delivered as it was); here /cancel
 * only tells a user who stopped nothing so.
 */
export function createStopFeature({ dialogue }: { dialogue: DialogueService }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.on("stopped_message_generation", () => undefined);
  feature.command("cancel", async (ctx) => {
    if (await dialogue.stoppedRecently(ctx.chat.id, 60_000)) return;
    return ctx.reply(ctx.texts.nothingToStop, quoteInGroups(ctx));
  });
  return feature;
}
