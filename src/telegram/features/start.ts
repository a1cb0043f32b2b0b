import { Composer } from "grammy";
import type { ParleyContext } from "../context.ts";
import { texts } from "../texts.ts";

export function createStartFeature(): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("start", (ctx) => ctx.reply(texts.start(ctx.from?.first_name)));
  return feature;
}
