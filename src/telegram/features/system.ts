import { Composer } from "grammy";
import type { Logger } from "pino";
import type { SettingsPolicy } from "../../access/chat-admins.ts";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { quoteInGroups, settingsRequester, type ParleyContext } from "../context.ts";

/** The longest instructions a chat may set: they go with every request. */
export const SYSTEM_PROMPT_MAX_CHARS = 4_000;

/**
 * /system: the chat's own instructions to the model, which survive /clear. `/system` shows them,
 * `/system <text>` sets them, `/system reset` restores the default. In groups, a chat setting: for
 * the group's admins (GROUP_SETTINGS_BY).
 */
export function createSystemFeature({ dialogue, settings, logger }: { dialogue: DialogueService; settings: SettingsPolicy; logger: Logger }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("system", async (ctx) => {
    const replyTo = quoteInGroups(ctx);
    const text = ctx.match.trim();
    if (text === "") {
      const { prompt, custom } = await dialogue.systemPrompt(ctx.chat.id);
      return ctx.reply(ctx.texts.systemShow(prompt, custom), replyTo);
    }
    if (!(await settings.mayChange(settingsRequester(ctx)))) return ctx.reply(ctx.texts.groupAdminsOnly, replyTo);
    if (text.toLowerCase() === "reset") {
      await dialogue.setSystemPrompt(ctx.chat.id, null, ctx.from?.id ?? 0);
      logger.info({ chatId: ctx.chat.id }, "chat instructions reset");
      return ctx.reply(ctx.texts.systemReset, replyTo);
    }
    if (text.length > SYSTEM_PROMPT_MAX_CHARS) return ctx.reply(ctx.texts.systemTooLong(SYSTEM_PROMPT_MAX_CHARS), replyTo);
    await dialogue.setSystemPrompt(ctx.chat.id, text, ctx.from?.id ?? 0);
    logger.info({ chatId: ctx.chat.id, chars: text.length }, "chat instructions set");
    return ctx.reply(ctx.texts.systemSet, replyTo);
  });
  return feature;
}
