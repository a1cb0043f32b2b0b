import { Composer, InlineKeyboard } from "grammy";
import type { Logger } from "pino";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { buttonExpired, quoteInGroups, type ParleyContext } from "../context.ts";

/** A confirmation button works this long after /forget. */
const CONFIRM_WITHIN_S = 10 * 60;

/**
 * /forget: the right to erasure. It asks first (a button only the asking user can press), then
 * erases every message the user wrote, in every chat, and the answers to them.
 */
export function createForgetFeature({ dialogue, logger }: { dialogue: DialogueService; logger: Logger }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("forget", (ctx) => {
    if (!ctx.from) return;
    const keyboard = new InlineKeyboard()
      .text(ctx.texts.forgetYes, `forget:yes:${ctx.from.id}`)
      .text(ctx.texts.forgetNo, `forget:no:${ctx.from.id}`);
    return ctx.reply(ctx.texts.forgetAsk, { reply_markup: keyboard, ...quoteInGroups(ctx) });
  });

  feature.callbackQuery(/^forget:(yes|no):(\d+)$/, async (ctx) => {
    const [, answer, owner] = ctx.match;
    if (String(ctx.from.id) !== owner) return ctx.answerCallbackQuery({ text: ctx.texts.notYourButton, show_alert: true });
    if (buttonExpired(ctx, CONFIRM_WITHIN_S)) {
      await ctx.editMessageText(ctx.texts.forgetExpired);
      return ctx.answerCallbackQuery();
    }
    if (answer === "no") {
      await ctx.editMessageText(ctx.texts.forgetCancelled);
      return ctx.answerCallbackQuery();
    }
    const erased = await dialogue.forget(ctx.from.id);
    logger.info({ userId: ctx.from.id, erased }, "erased a user's messages (/forget)");
    await ctx.editMessageText(ctx.texts.forgetDone(erased));
    return ctx.answerCallbackQuery();
  });
  return feature;
}
