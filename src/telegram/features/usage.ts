import { Composer } from "grammy";
import type { AccessService } from "../../access/access.service.ts";
import type { UsageService } from "../../limits/usage.service.ts";
import { quoteInGroups, type ParleyContext } from "../context.ts";

/** /usage: your own answers and tokens today and this month; an admin in private also sees everyone's. */
export function createUsageFeature({ usage, access }: { usage: UsageService; access: AccessService }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  feature.command("usage", async (ctx) => {
    if (!ctx.from) return;
    const admin = access.isBotAdmin(ctx.from.id);
    const mine = await usage.ofUser(ctx.from.id);
    await ctx.reply(ctx.texts.usage(mine, usage.limits, admin), quoteInGroups(ctx));
    if (admin && ctx.chat.type === "private") await ctx.reply(ctx.texts.usageEveryone(await usage.everyone()));
  });
  return feature;
}
