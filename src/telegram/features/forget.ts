import { Composer, InlineKeyboard } from "grammy";
import type { Logger } from "pino";
import type { PrivacyRepository } from "../../db/privacy.repository.ts";
import { buttonExpired, quoteInGroups, type ParleyContext } from "../context.ts";

/** A confirmation button works this long after /forget. */
const CONFIRM_WITHIN_S = 10 * 60;

/**
 * /forget: the right to erasure. It asks first (a button only the asking user can press), then
 * erases what the README's "What /forget erases" lists. Everyone may use it, a user the admins
 * denied too (the access gate lets it through): it only ever removes their own data.
 */
export function createForgetFeature({ privacy, logger }: { privacy: PrivacyRepository; logger: Logger }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("forget", (ctx) => {
    if (!ctx.from) return;
    const keyboard = new InlineKeyboard()
      .text(ctx.texts.forgetYes, ctx.button(`forget:yes:${ctx.from.id}`))
      .text(ctx.texts.forgetNo, ctx.button(`forget:no:${ctx.from.id}`));
    return ctx.reply(ctx.texts.forgetAsk, { reply_markup: keyboard, ...quoteInGroups(ctx) });
  });

  // The button names who asked (its data is signed: see buttons.ts); only they may press it.
  feature.callbackQuery(/^forget:(yes|no):(\d+)$/, async (ctx) => {
    const [, answer, asker] = ctx.match;
    if (String(ctx.from.id) !== asker) return ctx.answerCallbackQuery({ text: ctx.texts.notYourButton, show_alert: true });
    if (buttonExpired(ctx, CONFIRM_WITHIN_S)) {
      await ctx.editMessageText(ctx.texts.forgetExpired);
      return ctx.answerCallbackQuery();
    }
    if (answer === "no") {
      await ctx.editMessageText(ctx.texts.forgetCancelled);
      return ctx.answerCallbackQuery();
    }
    const erased = await privacy.forgetUser(ctx.from.id, { except: ctx.update.update_id });
    logger.info({ userId: ctx.from.id, ...erased }, "erased a user (/forget)");
    await ctx.editMessageText(ctx.texts.forgetDone(erased.messages));
    return ctx.answerCallbackQuery();
  });
  return feature;
}
