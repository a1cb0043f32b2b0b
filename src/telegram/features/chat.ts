import { Composer, type Context } from "grammy";
import type { Message, UserFromGetMe } from "grammy/types";
import type { Logger } from "pino";
import type { DialogueService, ReplyOutcome, UserTurn } from "../../dialogue/dialogue.service.ts";
import { createLiveReply, type LiveReply } from "../live-reply.ts";
import { texts } from "../texts.ts";

export interface ChatDependencies {
  dialogue: DialogueService;
  logger: Logger;
  /** Minimum time between two edits of a growing answer. */
  previewIntervalMs: number;
  /** Aborted when the bot must stop: turns still waiting for the model give up. */
  abortTurns: AbortSignal;
}

const isCommand = (message: Message.TextMessage) =>
  message.entities?.some((e) => e.type === "bot_command" && e.offset === 0) ?? false;

/** PostgreSQL text cannot hold NUL or broken UTF-16; Telegram clients can still send odd text. */
export const sanitizeText = (text: string) => text.toWellFormed().replaceAll("\u0000", "");

/**
 * In a group the bot answers only when spoken to: mentioned by @username or replied to.
 * Returns the text meant for the model (the mention removed), or null when not addressed.
 */
export function addressedText(message: Message.TextMessage, me: UserFromGetMe): string | null {
  const mention = `@${me.username}`.toLowerCase();
  const mentions = (message.entities ?? []).filter(
    (e) => e.type === "mention" && message.text.slice(e.offset, e.offset + e.length).toLowerCase() === mention,
  );
  if (mentions.length === 0 && message.reply_to_message?.from?.id !== me.id) return null;
  // "@bot what is…" loses the mention; "so, @bot, what…" reads "so, Parley, what…".
  let text = message.text;
  for (const e of [...mentions].sort((a, b) => b.offset - a.offset)) {
    const leading = text.slice(0, e.offset).trim() === "";
    text = text.slice(0, e.offset) + (leading ? "" : me.first_name) + text.slice(e.offset + e.length);
  }
  return text.trim().replace(/^[,:]\s*/, "");
}

async function deliver(live: LiveReply, outcome: ReplyOutcome): Promise<void> {
  switch (outcome.kind) {
    case "answer":
      return live.finish(outcome.text);
    case "duplicate":
      return live.cancel(); // the first delivery of this update was answered
    case "storage_unavailable":
      return live.fail(texts.storageUnavailable);
    case "empty_answer":
      return live.fail(texts.emptyAnswer);
    case "llm_failed":
      return live.fail(outcome.partial.trim() ? texts.interrupted : texts.llmFailure(outcome.failure));
  }
}

export function createChatFeature(deps: ChatDependencies): Composer<Context> {
  const feature = new Composer<Context>();

  feature.on("message:text", async (ctx: Context & { msg: Message.TextMessage }, next) => {
    if (isCommand(ctx.msg) || !ctx.from || !ctx.chat) return next();
    const isGroup = ctx.chat.type !== "private";
    const text = isGroup ? addressedText(ctx.msg, ctx.me) : ctx.msg.text;
    if (text === null) return; // group chatter that is not for the bot
    if (text === "") return ctx.reply(texts.help);

    const live = createLiveReply({
      api: ctx.api,
      chatId: ctx.chat.id,
      threadId: ctx.msg.is_topic_message ? ctx.msg.message_thread_id : undefined,
      replyToMessageId: isGroup ? ctx.msg.message_id : undefined,
      intervalMs: deps.previewIntervalMs,
      logger: deps.logger,
    });
    const turn: UserTurn = {
      chat: { id: ctx.chat.id, type: ctx.chat.type, title: "title" in ctx.chat ? (ctx.chat.title ?? null) : null },
      user: {
        id: ctx.from.id,
        username: ctx.from.username ?? null,
        firstName: ctx.from.first_name,
        lastName: ctx.from.last_name ?? null,
      },
      text: sanitizeText(text),
      telegramMessageId: ctx.msg.message_id,
      isGroup,
    };
    const outcome = await deps.dialogue
      .reply(turn, (textSoFar) => live.update(textSoFar), deps.abortTurns)
      .catch(async (error: unknown) => {
        await live.cancel(); // no typing indicator left running; the error boundary logs the error
        throw error;
      });
    await deliver(live, outcome);
  });

  return feature;
}
