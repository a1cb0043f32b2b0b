import { Composer, InlineKeyboard } from "grammy";
import type { Logger } from "pino";
import type { SettingsPolicy } from "../../access/chat-admins.ts";
import type { HistoryMode } from "../../dialogue/conversation.ts";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { quoteInGroups, settingsRequester, type ParleyContext } from "../context.ts";

const MODES: readonly HistoryMode[] = ["shared", "member"];

/**
 * /mode: whether a group shares one history (the default) or keeps one per member. A chat
 * setting, for the group's admins; each history is kept and comes back with its mode.
 */
export function createModeFeature({ dialogue, settings, logger }: { dialogue: DialogueService; settings: SettingsPolicy; logger: Logger }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  const keyboard = (ctx: ParleyContext, current: HistoryMode) =>
    InlineKeyboard.from(MODES.map((mode) => [InlineKeyboard.text(`${mode === current ? "✅ " : ""}${ctx.texts.modeName(mode)}`, ctx.button(`mode:${mode}`))]));

  feature.command("mode", async (ctx) => {
    if (ctx.chat.type === "private") return ctx.reply(ctx.texts.modePrivate);
    const current = await dialogue.historyMode(ctx.chat.id);
    return ctx.reply(ctx.texts.modeAsk(current), { ...quoteInGroups(ctx), reply_markup: keyboard(ctx, current) });
  });

  feature.callbackQuery(/^mode:(shared|member)$/, async (ctx) => {
    if (!ctx.chat || ctx.chat.type === "private") return ctx.answerCallbackQuery();
    if (!(await settings.mayChange(settingsRequester(ctx)))) return ctx.answerCallbackQuery({ text: ctx.texts.groupAdminsOnly, show_alert: true });
    const mode = ctx.match[1] as HistoryMode;
    await dialogue.setHistoryMode(ctx.chat.id, mode, ctx.from.id);
    logger.info({ chatId: ctx.chat.id, mode }, "group history mode chosen");
    await ctx.editMessageText(ctx.texts.modeSet(mode));
    return ctx.answerCallbackQuery();
  });
  return feature;
}
