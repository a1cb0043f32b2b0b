import { Composer } from "grammy";
import type { ParleyContext } from "../context.ts";

export function createStartFeature(): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("start", (ctx) => ctx.reply(ctx.texts.start(ctx.from?.first_name)));
  return feature;
}
