import { Composer, InputFile } from "grammy";
import type { DialogueService } from "../../dialogue/dialogue.service.ts";
import { placeOf, topicOf, type ParleyContext } from "../context.ts";
import { exportJson, exportMarkdown } from "../export.ts";

/** /export: the chat's live history as two documents, Markdown to read and JSON for programs. */
export function createExportFeature({ dialogue }: { dialogue: DialogueService }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("export", async (ctx) => {
    const messages = await dialogue.exportHistory(placeOf(ctx));
    if (messages.length === 0) return ctx.reply(ctx.texts.exportEmpty);
    const at = new Date();
    const title = "title" in ctx.chat && ctx.chat.title ? ctx.chat.title : ctx.texts.exportDocument.privateTitle(ctx.from?.first_name);
    const name = `parley-${ctx.chat.id}-${at.toISOString().slice(0, 10)}`;
    const topic = topicOf(ctx.msg);
    const thread = topic === undefined ? {} : { message_thread_id: topic };
    await ctx.replyWithDocument(new InputFile(Buffer.from(exportMarkdown(messages, title, at, ctx.texts)), `${name}.md`), { ...thread, caption: ctx.texts.exportCaption(messages.length) });
    await ctx.replyWithDocument(new InputFile(Buffer.from(exportJson(messages, ctx.chat.id, at)), `${name}.json`), thread);
  });
  return feature;
}
