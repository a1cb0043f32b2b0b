import { Composer } from "grammy";
import type { ParleyContext } from "../context.ts";

export function createHelpFeature(): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("help", (ctx) => ctx.reply(ctx.texts.help));
  return feature;
}
