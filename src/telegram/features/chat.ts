import { BotError, Composer, type Api } from "grammy";
import type { Chat, User } from "grammy/types";
import type { Logger } from "pino";
import type { UsageService } from "../../limits/usage.service.ts";
import type { DialogueService, ReplyOutcome } from "../../dialogue/dialogue.service.ts";
import type { Metrics } from "../../ops/metrics.ts";
import { backoffMs, STORAGE_RETRY } from "../../lib/retry.ts";
import type { Turn } from "../../inbox/turn.ts";
import { quoteInGroups, topicOf, type ParleyContext } from "../context.ts";
import { isCommand, mediaPromptOf, promptOf, quotedAuthorOf } from "../prompt.ts";
import { deliveryRetryMs } from "../errors.ts";
import { createLiveReply, type LiveReply } from "../reply/live-reply.ts";
import type { RichSupport } from "../rich.ts";
import type { GenerationStops } from "../../inbox/stops.ts";
import type { Texts } from "../texts.ts";
import type { MediaService } from "../../media/media.service.ts";
import { attachmentOf } from "../attachments.ts";
import { cleanText } from "../../lib/text.ts";

export interface ChatDependencies {
  dialogue: DialogueService;
  logger: Logger;
  /** Previews and typing go through this Api: no retries, a preview that meets a 429 is dropped. */
  previewApi: Api;
  /** Minimum time between two edits of a growing answer. */
  previewIntervalMs: number;
  /** Rich messages and drafts while the Bot API server has them. */
  rich: RichSupport;
  /** Private chats: minimum time between two drafts of a growing answer. */
  draftIntervalMs: number;
  /** Private chats: the first draft this long after the first text (quick answers need none). */
  firstDraftAfterMs: number;
  /** Aborted when the bot must stop: turns still waiting for the model give up (and run again later). */
  abortTurns: AbortSignal;
  /** Daily limits: checked before a file is read (the dialogue charges each turn before the model). */
  usage: Pick<UsageService, "check" | "chargeAudio">;
  metrics: Pick<Metrics, "turnRefused">;
  /** The stop button and /cancel reach the answer being written through this. */
  stops: GenerationStops;
  /** Photos, voice and documents become a turn's text (and image) through this. */
  media: MediaService;
  /** IMAGE_MAX_SIDE: the photo size sent to the model is the largest within this many pixels. */
  imageMaxSide: number;
}

/**
 * Sends a stored answer and ends the turn: delivered; or, when Telegram asks to wait (429) or
 * cannot be reached, the delivery waits in the database and resumes from where it got.
 */
async function deliverAnswer(live: LiveReply, markdown: string, turn: Turn, logger: Logger): Promise<void> {
  try {
    await live.finish(markdown);
  } catch (error) {
    const wait = deliveryRetryMs(error, turn.attempts);
    if (wait === undefined) throw error; // not something waiting fixes: the error boundary decides
    logger.warn({ delayMs: wait, reason: String(error) }, "answer not delivered yet; it waits in the inbox");
    await turn.retryLater(wait, live.progress());
    return;
  }
  await turn.delivered();
}

/** A failed turn, told: its commit ended the row already (the message stored out of context). */
async function deliverFailure(live: LiveReply, notice: string): Promise<void> {
  await live.fail(notice).catch(() => undefined); // best effort: the notice is not retried
}

function noticeFor(texts: Texts, outcome: ReplyOutcome & { kind: "llm_failed" | "empty_answer" }): string {
  if (outcome.kind === "empty_answer") return texts.emptyAnswer;
  return outcome.partial.trim() ? texts.interrupted : texts.llmFailure(outcome.failure);
}

/** A draft id for a turn: non-zero and 31-bit, from its update id. */
export const draftIdOf = (updateId: bigint) => Number(updateId % 2_147_483_646n) + 1;

/** A turn's outcome, and what to show above its answer (the words heard in a voice note…). */
type Generate = (onText: (textSoFar: string) => void, stop: AbortSignal) => Promise<ReplyOutcome & { before?: string }>;

/** Markdown shown above an answer: a quote of what was heard, or a note about the file. */
const HEARD_MAX_CHARS = 300;
const quoteHeard = (heard: string) => {
  const cut = heard.length > HEARD_MAX_CHARS ? `${heard.slice(0, HEARD_MAX_CHARS).trimEnd()}…` : heard;
  return `${cut.split("\n").map((line, i) => `> ${i === 0 ? "🎤 " : ""}${line}`).join("\n")}\n\n`;
};

/**
 * One answer, from limit check to delivery: the daily limit, the live reply (a stored answer is
 * delivered, never generated again), the generation with its stop signal, and each outcome's end.
 */
async function answerTurn(ctx: ParleyContext, deps: ChatDependencies, generate: Generate): Promise<void> {
  const { turn, chat, from, msg } = ctx;
  if (!turn || !chat || !from || !msg) throw new Error("a message reached the chat feature outside the inbox");
  const isGroup = chat.type !== "private";

  const live = createLiveReply({
    api: ctx.api,
    previewApi: deps.previewApi,
    resume: turn.delivery,
    chatId: chat.id,
    threadId: topicOf(msg),
    replyToMessageId: isGroup ? msg.message_id : undefined,
    intervalMs: deps.previewIntervalMs,
    rich: deps.rich,
    // Drafts exist in private chats only; their id is the turn's (non-zero, per answer).
    draft: isGroup ? undefined : { id: draftIdOf(turn.updateId), intervalMs: deps.draftIntervalMs, firstAfterMs: deps.firstDraftAfterMs },
    logger: deps.logger,
  });
  // An answer stored by an earlier attempt is delivered, never generated again.
  if (turn.answer) return deliverAnswer(live, turn.answer.content, turn, deps.logger);

  const stop = deps.stops.register({ chatId: chat.id, topicId: topicOf(msg), authorId: from.id, draftId: isGroup ? undefined : draftIdOf(turn.updateId) });
  const outcome = await generate((textSoFar) => live.update(textSoFar), stop.signal)
    .catch(async (error: unknown) => {
      await live.cancel(); // no typing indicator left running; the error boundary logs the error
      throw error;
    })
    .finally(stop.release);
  switch (outcome.kind) {
    case "answer": {
      // A stopped answer is shown as it was, marked (the mark is not stored: `interrupted` is).
      const before = `${outcome.before ?? ""}${outcome.imagesUnseen ? `_${ctx.texts.imagesUnseen}_\n\n` : ""}`;
      const after = outcome.interrupted ? `\n\n${ctx.texts.stoppedMark}` : outcome.cut ? `\n\n_${ctx.texts.answerCut(outcome.cut)}_` : "";
      return deliverAnswer(live, `${before}${outcome.text}${after}`, turn, deps.logger);
    }
    case "media_failed":
      return deliverFailure(live, ctx.texts.mediaFailure(outcome.failure));
    case "image_failed":
      return deliverFailure(live, ctx.texts.mediaFailure("download_failed"));
    case "stopped":
      return deliverFailure(live, ctx.texts.stoppedBeforeText);
    case "llm_failed":
    case "empty_answer":
      return deliverFailure(live, noticeFor(ctx.texts, outcome));
    case "over_limit": {
      // Over a daily limit: no model call, nothing stored; said once a day (a turn too big for
      // what is left: each time, with the numbers).
      const { verdict } = outcome;
      // Best effort, like every notice: the row ends either way (a retry would not tell again).
      if (verdict.tell) await live.fail(ctx.texts.overLimit(verdict, new Date())).catch(() => undefined);
      else await live.cancel();
      return turn.done();
    }
    case "store_failed":
      // The row ends first: whatever happens to the message below, the model is not asked again.
      await turn.failed("store_failed");
      await live.cancel();
      if (outcome.text) await live.finish(`${outcome.text}\n\n_${ctx.texts.notRemembered}_`).catch(() => undefined);
      else await ctx.reply(ctx.texts.notRemembered, quoteInGroups(ctx)).catch(() => undefined);
      return;
    case "unanswered":
      return live.cancel();
    case "nothing_to_retry":
      await live.fail(ctx.texts.nothingToRetry);
      return turn.done();
    case "cancelled":
      await live.cancel();
      return turn.retryLater(0); // shutting down: the next instance (or start) answers it
    case "storage_unavailable":
      await live.cancel();
      return turn.retryLater(backoffMs(turn.attempts, STORAGE_RETRY));
    case "lease_lost":
      return live.cancel();
    case "duplicate":
      await live.cancel();
      return turn.done();
  }
}

/**
 * The answer runs once the update's handlers have returned (Turn.continueWith): no middleware
 * layer stays suspended while the model writes. Its errors reach the error handling as the
 * handlers' own would have (a BotError with this context).
 */
function answerLater(ctx: ParleyContext, turn: Turn, deps: ChatDependencies, generate: Generate): void {
  turn.continueWith(() => answerTurn(ctx, deps, generate).catch((error: unknown) => Promise.reject(new BotError(error, ctx))));
}

/** The turn's part of a dialogue request: which chat (and topic), who asks. */
const requestOf = (ctx: ParleyContext, chat: Chat, user: User) => ({
  chat: { id: chat.id, type: chat.type, title: "title" in chat ? (chat.title ?? null) : null },
  user: { id: user.id, username: user.username ?? null, firstName: user.first_name, lastName: user.last_name ?? null },
  isGroup: chat.type !== "private",
  topicId: topicOf(ctx.msg),
  quotedUserId: ctx.msg ? quotedAuthorOf(ctx.msg, ctx.me) : undefined,
});

export function createChatFeature(deps: ChatDependencies): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();

  // A user over the rate: a message meant for the bot is kept, unanswered; nothing else is done
  // for them (no command, no button) until they slow down; they are told once.
  feature.use(async (ctx, next) => {
    if (!ctx.overRate) return next();
    const { chat, from, turn, message } = ctx;
    if (ctx.overRate.tell) {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.texts.tooFast, show_alert: true });
      else await ctx.reply(ctx.texts.tooFast, quoteInGroups(ctx));
    } else if (ctx.callbackQuery) await ctx.answerCallbackQuery();
    if (!message || !turn || !from || !chat || ("text" in message && message.text !== undefined && isCommand(message))) return;
    const isGroup = chat.type !== "private";
    const attachment = attachmentOf(message, deps.imageMaxSide);
    const text = attachment ? mediaPromptOf(message, ctx.me, isGroup) : promptOf(message, ctx.me, isGroup);
    if (text === null) return; // group chatter: not for the bot, not kept
    const outcome = await deps.dialogue.keepUnanswered(
      { ...requestOf(ctx, chat, from), text: cleanText(text), telegramMessageId: message.message_id, ...(attachment ? { kind: attachment.kind, attachment } : {}) },
      turn,
      "rate_limited",
    );
    if (outcome.kind === "storage_unavailable") return turn.retryLater(backoffMs(turn.attempts, STORAGE_RETRY));
  });

  // /retry: the chat's last answer, generated again (the old one is soft-deleted).
  feature.command("retry", async (ctx) => {
    const { chat, from, turn } = ctx;
    if (!from || !turn) return;
    answerLater(ctx, turn, deps, (onText, stop) => deps.dialogue.retry(requestOf(ctx, chat, from), turn, onText, deps.abortTurns, stop));
  });

  // An edited message: its stored turn takes the new text; if the chat's latest answer answers
  // it, that answer is written again (as chat apps do), replacing the old one.
  feature.on(["edited_message:text", "edited_message:caption"], async (ctx) => {
    const { chat, from, turn } = ctx;
    const msg = ctx.editedMessage;
    if (!from || !turn) return;
    const isGroup = chat.type !== "private";
    // A transcript's or a document's turn holds more than its caption: an edited caption must not replace it.
    const attachment = attachmentOf(msg, deps.imageMaxSide);
    if (attachment && attachment.kind !== "photo") return;
    const text = promptOf(msg, ctx.me, isGroup);
    if (!text) return;
    if (!turn.answer) {
      const { stored, latest } = await deps.dialogue.edit(chat.id, msg.message_id, cleanText(text));
      deps.logger.info({ chatId: chat.id, stored, regenerate: latest }, "a message was edited");
      if (!latest) return;
    }
    answerLater(ctx, turn, deps, (onText, stop) => deps.dialogue.retry(requestOf(ctx, chat, from), turn, onText, deps.abortTurns, stop));
  });

  // A photo, voice note, audio, video note or document: its text (the caption, the transcript,
  // the document's text) is the turn, and a photo's image goes to the model with it.
  feature.on(["message:photo", "message:document", "message:voice", "message:audio", "message:video_note"], async (ctx, next) => {
    const attachment = attachmentOf(ctx.msg, deps.imageMaxSide);
    const turn = ctx.turn;
    if (!attachment || !turn) return next();
    const { chat, from, msg } = ctx;
    const caption = mediaPromptOf(msg, ctx.me, chat.type !== "private");
    if (caption === null) return; // group chatter that is not for the bot
    const request = { ...requestOf(ctx, chat, from), text: cleanText(caption), telegramMessageId: msg.message_id, kind: attachment.kind, attachment };
    answerLater(ctx, turn, deps, async (onText, stop) => {
      // A user with nothing left today is refused before the file is downloaded and read.
      const verdict = await deps.usage.check(from.id);
      if (!verdict.ok) return { kind: "over_limit", verdict };
      const prepared = await deps.media.prepare(attachment, request.text, { chargeAudio: (seconds, model) => deps.usage.chargeAudio(from.id, seconds, model) });
      if (!prepared.ok && prepared.failure === "over_limit") return { kind: "over_limit", verdict: prepared.verdict };
      if (!prepared.ok) {
        deps.logger.info({ kind: attachment.kind, failure: prepared.failure }, "a file could not be read");
        return deps.dialogue.failMedia(request, turn, prepared.failure);
      }
      const outcome = await deps.dialogue.reply({ ...request, text: cleanText(prepared.text) }, turn, onText, deps.abortTurns, stop);
      const before = prepared.heard ? quoteHeard(prepared.heard) : prepared.cut ? `_${ctx.texts.documentCut(attachment.fileName ?? "", prepared.cut)}_\n\n` : undefined;
      return before ? { ...outcome, before } : outcome;
    });
  });

  feature.on(["message:text", "message:caption"], async (ctx, next) => {
    if (("text" in ctx.msg && isCommand(ctx.msg)) || !ctx.from || !ctx.chat) return next();
    const isGroup = ctx.chat.type !== "private";
    const text = promptOf(ctx.msg, ctx.me, isGroup);
    if (text === null) return; // group chatter that is not for the bot
    if (text === "") return ctx.reply(ctx.texts.help);
    const { chat, from, msg } = ctx;
    const turn = ctx.turn;
    if (!turn) throw new Error("a message reached the chat feature outside the inbox");
    answerLater(ctx, turn, deps, (onText, stop) =>
      deps.dialogue.reply(
        { ...requestOf(ctx, chat, from), text: cleanText(text), telegramMessageId: msg.message_id },
        turn,
        onText,
        deps.abortTurns,
        stop,
      ),
    );
  });

  return feature;
}
