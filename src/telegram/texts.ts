import type { LlmFailure } from "../llm/client.ts";

/** Everything the bot says on its own, in one place. */
export const texts = {
  start: (name: string | undefined) =>
    `Hi${name ? `, ${name}` : ""}! I'm Parley, an AI assistant that remembers our conversation.\n\n` +
    "Just write to me. I keep the context of this chat, even after I restart. " +
    "Send /clear to make me forget it and start over, or /help to see what I can do.",
  help:
    "Here's what I can do:\n\n" +
    "• Write anything: I answer and remember the conversation of this chat.\n" +
    "• In groups, mention me or reply to one of my messages.\n\n" +
    "Commands:\n/start: introduction\n/help: this message\n/clear: forget this conversation and start over",
  cleared: (count: number) =>
    count === 0
      ? "There was nothing to forget: we're starting fresh."
      : `Done: I've forgotten our conversation (${count} message${count === 1 ? "" : "s"}). Let's start over.`,
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
} as const;

export const COMMANDS = [
  { command: "start", description: "Introduction" },
  { command: "help", description: "What I can do" },
  { command: "clear", description: "Forget this conversation and start over" },
] as const;
