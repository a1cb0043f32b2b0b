import { Composer, InlineKeyboard } from "grammy";
import { buttonExpired, placeOf, quoteInGroups, settingsRequester, type ParleyContext } from "../context.ts";
import type { Logger } from "pino";
import type { SettingsPolicy } from "../../access/chat-admins.ts";
import { memberOf } from "../../dialogue/conversation.ts";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";

export interface ClearDependencies {
  dialogue: DialogueService;
  logger: Logger;
  /** In groups, the shared memory is the chat's settings: its admins' (or, if allowed, anyone's). */
  settings: SettingsPolicy;
}

/** The Undo button under a /clear works this long. */
const UNDO_WITHIN_S = 10 * 60;

/**
 * /clear soft-deletes the chat's memory, and offers an Undo button for ten minutes that brings
 * back exactly the messages this /clear hid (only a soft delete makes that possible).
 */
export function createClearFeature({ dialogue, logger, settings }: ClearDependencies): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  const mayChange = (ctx: ParleyContext) => settings.mayChange(settingsRequester(ctx));

  feature.command("clear", async (ctx) => {
    let cleared: { count: number; mark: string };
    try {
      // A group that keeps one history per member lets each clear their own; a shared one is the admins'.
      const own = ctx.chat.type !== "private" && (await dialogue.historyMode(ctx.chat.id)) === "member";
      if (!own && !(await mayChange(ctx))) return ctx.reply(ctx.texts.groupAdminsOnly, quoteInGroups(ctx));
      cleared = await dialogue.clear(placeOf(ctx));
    } catch (error) {
      logger.error({ err: error, chatId: ctx.chat.id }, "could not clear the history");
      return ctx.reply(ctx.texts.storageUnavailable);
    }
    logger.info({ chatId: ctx.chat.id, cleared: cleared.count }, "history cleared");
    if (cleared.count === 0) return ctx.reply(ctx.texts.cleared(0));
    return ctx.reply(ctx.texts.cleared(cleared.count), { reply_markup: new InlineKeyboard().text(ctx.texts.undoClear, ctx.button(`undo:${cleared.mark}`)) });
  });

  // "undo:<mark>" (signed: see buttons.ts). Who may press it is decided now, from what that /clear
  // set aside: a member's own history is theirs to bring back; anything else is the admins'.
  feature.callbackQuery(/^undo:(\d{1,18})$/, async (ctx) => {
    if (!ctx.chat) return ctx.answerCallbackQuery();
    const mark = ctx.match[1]!;
    const conversations = await dialogue.clearedConversations(ctx.chat.id, mark);
    const own = conversations.length > 0 && conversations.every((c) => memberOf(c) === ctx.from.id);
    if (!own && !(await mayChange(ctx))) {
      const theirs = conversations.length > 0 && conversations.every((c) => memberOf(c) !== undefined);
      return ctx.answerCallbackQuery({ text: theirs ? ctx.texts.notYourButton : ctx.texts.groupAdminsOnly, show_alert: true });
    }
    if (buttonExpired(ctx, UNDO_WITHIN_S)) {
      await ctx.editMessageText(ctx.texts.undoExpired);
      return ctx.answerCallbackQuery();
    }
    const restored = await dialogue.undoClear(ctx.chat.id, mark);
    logger.info({ chatId: ctx.chat.id, restored }, "clear undone");
    await ctx.editMessageText(ctx.texts.undone(restored));
    return ctx.answerCallbackQuery();
  });
  return feature;
}
