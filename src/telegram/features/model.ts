import { Composer, InlineKeyboard } from "grammy";
import type { Logger } from "pino";
import type { SettingsPolicy } from "../../access/chat-admins.ts";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { settingsRequester, type ParleyContext } from "../context.ts";

/**
 * /model: a keyboard of the models the operator allows (OPENAI_MODELS); the choice is the chat's.
 * Buttons carry the model's place in the list (names can be longer than Telegram's 64 bytes of
 * callback data); the name is checked again when pressed. In groups, a chat setting.
 */
export function createModelFeature({ dialogue, settings, logger }: { dialogue: DialogueService; settings: SettingsPolicy; logger: Logger }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  const keyboard = (ctx: ParleyContext, models: readonly string[], current: string) =>
    InlineKeyboard.from(models.map((model, i) => [InlineKeyboard.text(`${model === current ? "✅ " : ""}${model}`, ctx.button(`model:${i}`))]));

  feature.command("model", async (ctx) => {
    const { models, current } = await dialogue.modelChoice(ctx.chat.id);
    if (models.length < 2) return ctx.reply(ctx.texts.modelOnlyOne(current));
    return ctx.reply(ctx.texts.modelAsk(current), { reply_markup: keyboard(ctx, models, current) });
  });

  feature.callbackQuery(/^model:(\d{1,3})$/, async (ctx) => {
    if (!ctx.chat) return ctx.answerCallbackQuery();
    if (!(await settings.mayChange(settingsRequester(ctx)))) return ctx.answerCallbackQuery({ text: ctx.texts.groupAdminsOnly, show_alert: true });
    const { models } = await dialogue.modelChoice(ctx.chat.id);
    const model = models[Number(ctx.match[1])];
    if (model === undefined || !(await dialogue.setModel(ctx.chat.id, model, ctx.from.id))) {
      return ctx.answerCallbackQuery({ text: ctx.texts.modelGone, show_alert: true });
    }
    logger.info({ chatId: ctx.chat.id, model }, "chat model chosen");
    await ctx.editMessageText(ctx.texts.modelSet(model));
    return ctx.answerCallbackQuery({ text: model });
  });
  return feature;
}
