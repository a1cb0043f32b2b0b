import type { AccessOverview } from "../access/access.service.ts";
import type { UsageTotals, UsageRow, UserUsage } from "../db/usage.repository.ts";
import type { LlmFailure } from "../llm/client.ts";

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
const tokensOf = (t: UsageTotals) => t.promptTokens + t.completionTokens;
const line = (t: UsageTotals) => `${plural(t.messages, "answer")}, ${plural(tokensOf(t), "token")}`;

/** "in 3 h 12 min" from now until `at`. */
export function timeUntil(at: Date, now: Date): string {
  const minutes = Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h > 0 ? `${h} h${m ? ` ${m} min` : ""}` : `${m} min`;
}

/** Everything the bot says on its own, in one place. */
export const texts = {
  start: (name: string | undefined) =>
    `Hi${name ? `, ${name}` : ""}! I'm Parley, an AI assistant that remembers our conversation.\n\n` +
    "Just write to me. I keep the context of this chat, even after I restart. " +
    "Send /clear to make me forget it and start over, or /help to see what I can do.",
  help:
    "Here's what I can do:\n\n" +
    "• Write anything: I answer and remember the conversation of this chat.\n" +
    "• In groups, mention me or reply to one of my messages. Each forum topic has its own conversation.\n\n" +
    "Commands:\n/start: introduction\n/help: this message\n/clear: forget this conversation and start over\n/cancel: stop the answer being written\n/system: show or set this chat's instructions to the model\n/model: choose the model for this chat\n/mode: in groups, one shared conversation or one per member\n/export: this chat's history as a file\n" +
    "/usage: what you've used today and this month\n/forget: erase everything you've written to me, for good",
  cleared: (count: number) =>
    count === 0
      ? "There was nothing to forget: we're starting fresh."
      : `Done: I've forgotten our conversation (${count} message${count === 1 ? "" : "s"}). Let's start over.`,
  systemShow: (prompt: string, custom: boolean) =>
    `${custom ? "This chat's instructions" : "The default instructions (this chat has none of its own)"}:\n\n${prompt}\n\n` +
    "/system <text> sets this chat's own (they stay after /clear); /system reset goes back to the default.",
  systemSet: "Done: I'll follow these instructions in this chat from now on, even after /clear.",
  systemReset: "Done: this chat uses the default instructions again.",
  systemTooLong: (max: number) => `Those instructions are too long: at most ${max.toLocaleString("en-US")} characters, please.`,
  modelAsk: (current: string) => `This chat uses ${current}. Choose a model:`,
  modelOnlyOne: (current: string) => `This bot offers one model: ${current}.`,
  modelSet: (model: string) => `Done: this chat now uses ${model}.`,
  modelGone: "That model is no longer offered. Send /model again.",
  modeName: (mode: "shared" | "member") => (mode === "shared" ? "One history for the group" : "One history per member"),
  modeAsk: (current: "shared" | "member") =>
    current === "shared"
      ? "This group shares one conversation with me: everyone sees the same memory. Choose:"
      : "I keep a separate conversation with each member of this group. Choose:",
  modeSet: (mode: "shared" | "member") =>
    mode === "shared"
      ? "Done: this group shares one conversation with me again."
      : "Done: from now on I keep a separate conversation with each member here (each can /clear their own). The shared one is kept for when you switch back.",
  modePrivate: "/mode is for groups: a private chat has one conversation.",
  exportEmpty: "There's nothing to export: this chat's history is empty.",
  exportCaption: (count: number) => `This chat's history: ${count} message${count === 1 ? "" : "s"} (the same as JSON below).`,
  undoClear: "↩️ Undo",
  undone: (count: number) => `Undone: I remember our conversation again (${count} message${count === 1 ? "" : "s"}).`,
  undoExpired: "This Undo button has expired: the conversation stays cleared.",
  unknownCommand: "I don't know that command. /help lists what I can do.",
  nonText: "I can only read text messages for now. Please send me your question as text.",
  storageUnavailable:
    "Sorry, my memory (the database) is unavailable right now, so I couldn't take your message. Please try again in a minute.",
  storageDelayed:
    "My memory (the database) is unavailable for a moment. I've got your message and will answer as soon as it's back.",
  emptyAnswer: "The model returned an empty answer. Please try rephrasing your message.",
  llmFailure: (failure: LlmFailure): string => {
    switch (failure) {
      case "timeout":
        return "The model took too long to answer. Please try again.";
      case "rate_limited":
        return "The model is busy right now (rate limited). Please try again in a minute.";
      case "unavailable":
        return "I can't reach the model right now. Please try again in a moment.";
      case "context_too_long":
        return "Our conversation has grown too long for the model. Send /clear to start over, then ask again.";
      case "misconfigured":
        return "I can't use the model: the bot is misconfigured. The operator has been told in the logs.";
      case "rejected":
        return "The model refused this request. Please try rephrasing your message.";
      case "cancelled":
        return "I'm restarting and had to stop this answer. Please send your message again in a moment.";
      case "unknown":
        return "Something went wrong while I was answering. Please try again.";
    }
  },
  interrupted: "⚠️ My answer was cut off. Please try again.",
  stoppedMark: "_⏹ Stopped_",
  stoppedBeforeText: "⏹ Stopped before I wrote anything.",
  nothingToStop: "There's no answer being written right now.",
  nothingToRetry: "There's no answer to try again yet: ask me something first.",
  notAllowed: (userId: number) =>
    `Sorry, this bot is private. If you know its operator, send them your Telegram user id: ${userId}`,
  adminOnly: "Only the bot's administrators can do that.",
  adminPrivateOnly: "Please send admin commands in a private chat with me.",
  groupAdminsOnly: "Only this group's administrators can do that.",
  accessUsage: (command: string) => `Usage: /${command} <user id or @username>, for example /${command} 123456789 or /${command} @name`,
  accessChanged: (subject: string, allowed: boolean, everyone: boolean) =>
    allowed
      ? `${subject} may now talk to me.${everyone ? " (I'm open to everyone anyway, because ALLOWED_USERS is not limited.)" : ""}`
      : `${subject} may no longer talk to me.`,
  accessOverview: (o: AccessOverview) => {
    const rules = o.rules.map((r) => `${r.allowed ? "✅" : "⛔"} ${r.subject}`);
    return [
      o.everyone ? "Access: open to everyone (except anyone denied below)." : "Access: only the users listed below.",
      `Admins (ADMIN_USERS): ${o.admins.join(", ") || "none"}`,
      ...(o.everyone ? [] : [`Allowed by the settings (ALLOWED_USERS): ${o.fromSettings.join(", ") || "nobody"}`]),
      rules.length ? `Set with /allow and /deny (these win over the settings):\n${rules.join("\n")}` : "Nobody was allowed or denied with /allow or /deny yet.",
    ].join("\n\n");
  },
  overLimit: (limit: "daily_messages" | "daily_tokens", max: number, resetsAt: Date, now: Date) =>
    `You've reached today's limit of ${limit === "daily_messages" ? plural(max, "message") : plural(max, "token")}. ` +
    `It resets at 00:00 UTC, in ${timeUntil(resetsAt, now)}.`,
  usage: (mine: UserUsage, limits: { dailyMessages: number | null; dailyTokens: number | null }, exempt: boolean) => {
    const parts = [`Your usage\nToday: ${line(mine.today)}\nThis month: ${line(mine.month)}`];
    const caps = [
      ...(limits.dailyMessages === null ? [] : [`${mine.today.messages} of ${limits.dailyMessages} messages`]),
      ...(limits.dailyTokens === null ? [] : [`${tokensOf(mine.today)} of ${limits.dailyTokens} tokens`]),
    ];
    if (exempt && caps.length) parts.push("Daily limits don't apply to you (admin).");
    else if (caps.length) parts.push(`Daily limit: ${caps.join(", ")} used. Days are counted in UTC.`);
    return parts.join("\n\n");
  },
  usageEveryone: (rows: UsageRow[]) =>
    rows.length === 0
      ? "Nobody has used the bot this month."
      : "Everyone this month (today / month):\n" +
        rows
          .map((r) => `${r.username ? `@${r.username}` : (r.firstName ?? "someone")} (${r.userId}): ${tokensOf(r.today)} / ${tokensOf(r.month)} tokens, ${r.today.messages} / ${r.month.messages} answers`)
          .join("\n"),
  forgetAsk:
    "This erases everything you ever wrote to me, in every chat, and my answers to it, for good. " +
    "It can't be undone. (/clear only starts this chat over.)",
  forgetYes: "Erase everything",
  forgetNo: "Cancel",
  forgetDone: (count: number) => `Done: I've erased ${plural(count, "message")} for good.`,
  forgetCancelled: "Cancelled: nothing was erased.",
  notYourButton: "This button belongs to someone else.",
  forgetExpired: "This button has expired. Send /forget again.",
} as const;

export const COMMANDS = [
  { command: "start", description: "Introduction" },
  { command: "help", description: "What I can do" },
  { command: "clear", description: "Forget this conversation and start over" },
  { command: "cancel", description: "Stop the answer being written" },
  { command: "retry", description: "Answer my last message again" },
  { command: "system", description: "Show or set this chat's instructions to the model" },
  { command: "model", description: "Choose the model for this chat" },
  { command: "mode", description: "Groups: one shared conversation, or one per member" },
  { command: "export", description: "Send this chat's history as a file" },
  { command: "usage", description: "What you've used today and this month" },
  { command: "forget", description: "Erase everything you've written, for good" },
] as const;
