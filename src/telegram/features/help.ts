import { Composer } from "grammy";
import type { ParleyContext } from "../context.ts";
import { texts } from "../texts.ts";

export function createHelpFeature(): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("help", (ctx) => ctx.reply(texts.help));
  return feature;
}
