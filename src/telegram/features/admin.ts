import { Composer } from "grammy";
import type { Logger } from "pino";
import type { AccessService } from "../../access/access.service.ts";
import type { ParleyContext } from "../context.ts";

/** /allow, /deny and /users: the bot's admins manage access from a private chat, no restart. */
export function createAdminFeature({ access, logger }: { access: AccessService; logger: Logger }): Composer<ParleyContext> {
  const feature = new Composer<ParleyContext>();
  const admin = feature.filter((ctx) => ctx.from !== undefined && access.isBotAdmin(ctx.from.id));
  const commands = ["allow", "deny", "users"] as const;

  const guard = feature.command([...commands]).filter((ctx) => !access.isBotAdmin(ctx.from?.id ?? 0));
  guard.use((ctx) => ctx.reply(ctx.texts.adminOnly));

  const privateOnly = admin.command([...commands]).filter((ctx) => ctx.chat.type !== "private");
  privateOnly.use((ctx) => ctx.reply(ctx.texts.adminPrivateOnly));

  const inPrivate = admin.chatType("private");
  for (const [command, allowed] of [["allow", true], ["deny", false]] as const) {
    inPrivate.command(command, async (ctx) => {
      const subject = await access.decide(ctx.match, allowed, ctx.from.id);
      if (subject === null) return ctx.reply(ctx.texts.accessUsage(command));
      logger.info({ subject, allowed, by: ctx.from.id }, "access changed");
      const { everyone } = await access.overview();
      return ctx.reply(ctx.texts.accessChanged(subject, allowed, everyone));
    });
  }
  inPrivate.command("users", async (ctx) => ctx.reply(ctx.texts.accessOverview(await access.overview())));
  return feature;
}
