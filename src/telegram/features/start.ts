import { Composer, type Context } from "grammy";
import { texts } from "../texts.ts";

export function createStartFeature(): Composer<Context> {
  const feature = new Composer<Context>();
  feature.command("start", (ctx) => ctx.reply(texts.start(ctx.from?.first_name)));
  return feature;
}
