import { Composer } from "grammy";
import type { Logger } from "pino";
import type { AccessService } from "../../access/access.service.ts";
import type { Metrics } from "../../ops/metrics.ts";
import { attachmentOf } from "../attachments.ts";
import { isCommand, mediaPromptOf, promptOf } from "../prompt.ts";
import type { ParleyContext } from "../context.ts";
import type { RateLimiter } from "../../limits/rate.ts";
import { commandOf } from "../../lib/text.ts";

export interface AccessGateDependencies {
  access: AccessService;
  logger: Logger;
  metrics: Pick<Metrics, "turnRefused">;
  /** USER_MESSAGES_PER_MINUTE: past it, an allowed user's updates are marked (ctx.overRate). */
  rate: RateLimiter;
}

/** Is the update something the bot would act on (and so something a stranger must be refused)? */
function actsOn(ctx: ParleyContext): boolean {
  if (ctx.callbackQuery) return true;
  const message = ctx.message ?? ctx.editedMessage;
  if (!message || !ctx.chat) return false;
  if (ctx.chat.type === "private") return true;
  if (message.text !== undefined && isCommand(message)) {
    const target = /^\/\w+@(\w+)/.exec(message.text)?.[1];
    return target === undefined || target.toLowerCase() === ctx.me.username.toLowerCase();
  }
  // What the chat feature would answer: a text or a caption that speaks to the bot, or a file
  // that replies to it.
  return promptOf(message, ctx.me, true) !== null || (attachmentOf(message, Infinity) !== null && mediaPromptOf(message, ctx.me, true) !== null);
}

/** /forget, or a press of its confirmation buttons (their data is checked before the gate). */
function forgets(ctx: ParleyContext): boolean {
  if (ctx.callbackQuery) return ctx.callbackQuery.data?.startsWith("forget:") ?? false;
  const text = ctx.message?.text;
  return text !== undefined && isCommand(ctx.message!) && commandOf(text, ctx.me.username) === "forget";
}

/**
 * The first thing every update meets: a user who may not talk to the bot gets one short reply
 * with their user id (to give the operator), and nothing else happens: no model call, nothing
 * stored (their inbox row keeps no payload once done).
 */
export function createAccessGate({ access, logger, metrics, rate }: AccessGateDependencies): Composer<ParleyContext> {
  const gate = new Composer<ParleyContext>();
  gate.use(async (ctx, next) => {
    const user = ctx.from;
    if (!user || !actsOn(ctx)) return next();
    // Erasure is everyone's right, a user the admins denied too: it only removes their own data.
    // Within the rate, like everything else (past it, silently: a flood gets no replies).
    if (forgets(ctx)) {
      if (access.isBotAdmin(user.id) || rate.hit(user.id).ok) return next();
      metrics.turnRefused("rate");
      return ctx.callbackQuery ? ctx.answerCallbackQuery() : undefined;
    }
    if (await access.isAllowed(user)) {
      // Fair share: every update a user makes the bot act on counts (admins excepted).
      if (!access.isBotAdmin(user.id)) {
        const verdict = rate.hit(user.id);
        if (!verdict.ok) {
          metrics.turnRefused("rate");
          logger.info({ userId: user.id, told: verdict.tell }, "refused: the user sends faster than the rate");
          ctx.overRate = { tell: verdict.tell };
        }
      }
      return next();
    }
    metrics.turnRefused("not_allowed");
    logger.info({ userId: user.id }, "refused: the user is not allowed");
    if (ctx.callbackQuery) return ctx.answerCallbackQuery({ text: ctx.texts.notAllowed(user.id), show_alert: true });
    const inGroup = ctx.chat?.type !== "private";
    return ctx.reply(ctx.texts.notAllowed(user.id), inGroup && ctx.msg ? { reply_parameters: { message_id: ctx.msg.message_id } } : {});
  });
  return gate;
}
