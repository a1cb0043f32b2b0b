import { Composer } from "grammy";
import type { ParleyContext } from "../context.ts";

/**
 * What is left after the other features: unknown commands, and messages the bot does not read
 * (stickers, locations, polls, …; photos, voice, audio, video notes and documents are read by the
 * chat feature). Private chats get a short hint; in groups the bot stays quiet.
 */
export function createUnsupportedFeature(): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  const privateChat = feature.chatType("private");
  privateChat.on("message:text", (ctx) => ctx.reply(ctx.texts.unknownCommand));
  privateChat.on("message", (ctx) => ctx.reply(ctx.texts.nonText));
  return feature;
}
