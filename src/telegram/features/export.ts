import { Composer, GrammyError, HttpError, InputFile } from "grammy";
import type { Logger } from "pino";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { placeOf, topicOf, type ParleyContext } from "../context.ts";
import { exportJson, exportMarkdown } from "../export.ts";

/**
 * /export: the chat's live history as two documents, Markdown to read and JSON for programs. A
 * document Telegram does not take (too big, a wait it asks for, the network) is told to the user,
 * not left silent; the command is not repeated by itself.
 */
export function createExportFeature({ dialogue, logger }: { dialogue: DialogueService; logger: Logger }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("export", async (ctx) => {
    const messages = await dialogue.exportHistory(placeOf(ctx));
    if (messages.length === 0) return ctx.reply(ctx.texts.exportEmpty);
    const at = new Date();
    const title = "title" in ctx.chat && ctx.chat.title ? ctx.chat.title : ctx.texts.exportDocument.privateTitle(ctx.from?.first_name);
    const name = `parley-${ctx.chat.id}-${at.toISOString().slice(0, 10)}`;
    const topic = topicOf(ctx.msg);
    const thread = topic === undefined ? {} : { message_thread_id: topic };
    try {
      await ctx.replyWithDocument(new InputFile(Buffer.from(exportMarkdown(messages, title, at, ctx.texts)), `${name}.md`), { ...thread, caption: ctx.texts.exportCaption(messages.length) });
      await ctx.replyWithDocument(new InputFile(Buffer.from(exportJson(messages, ctx.chat.id, at)), `${name}.json`), thread);
    } catch (error) {
      if (!(error instanceof GrammyError || error instanceof HttpError)) throw error;
      logger.warn({ err: error, chatId: ctx.chat.id, messages: messages.length }, "could not send the /export documents");
      await ctx.reply(ctx.texts.exportFailed, thread).catch((notice: unknown) => logger.warn({ err: notice }, "could not tell the chat its export failed"));
    }
  });
  return feature;
}
