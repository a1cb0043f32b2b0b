import type { AccessOverview } from "../access/access.service.ts";
import type { LimitName } from "../limits/usage.service.ts";
import type { UsageTotals, UsageRow, UserUsage } from "../domain/usage.ts";
import type { LlmFailure } from "../llm/client.ts";
import type { MediaFailure } from "../media/media.service.ts";

/** A message of the locale files (src/telegram/locales/*.ftl), with its variables filled in. */
export type Translate = (key: string, variables?: Record<string, string | number>) => string;

/** Hours and minutes from now until `at` (at least one minute). */
export function hoursAndMinutesUntil(at: Date, now: Date): { hours: number; minutes: number } {
  const minutes = Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 60_000));
  return { hours: Math.floor(minutes / 60), minutes: minutes % 60 };
}

type Mode = "shared" | "member";

/** The commands of the menu, in its order. */
export const COMMAND_NAMES = ["start", "help", "clear", "cancel", "retry", "system", "model", "mode", "export", "usage", "forget"] as const;

/**
 * Everything the bot says on its own, in one language: typed functions over the Fluent messages,
 * so a caller cannot miss a variable. Lists and numbers are put together here; words come from t.
 */
export function createTexts(t: Translate) {
  const count = (key: "messages" | "answers" | "tokens", n: number) => t(key, { count: n });
  const tokensOf = (u: UsageTotals) => u.promptTokens + u.completionTokens;
  const line = (u: UsageTotals) =>
    `${t("usage-line", { answers: count("answers", u.messages), tokens: count("tokens", tokensOf(u)) })}${u.audioSeconds > 0 ? `, ${t("seconds-of-speech", { count: u.audioSeconds })}` : ""}`;
  return {
    start: (name: string | undefined) => t("start", { name: name || "none" }),
    help: t("help"),
    cleared: (n: number) => (n === 0 ? t("cleared-nothing") : t("cleared", { messages: count("messages", n) })),
    systemShow: (prompt: string, custom: boolean) => `${t(custom ? "system-show-custom" : "system-show-default")}\n\n${prompt}\n\n${t("system-show-how")}`,
    systemSet: t("system-set"),
    systemReset: t("system-reset"),
    systemTooLong: (max: number) => t("system-too-long", { max }),
    modelAsk: (current: string) => t("model-ask", { current }),
    modelOnlyOne: (current: string) => t("model-only-one", { current }),
    modelSet: (model: string) => t("model-set", { model }),
    modelGone: t("model-gone"),
    modeName: (mode: Mode) => t(`mode-name-${mode}`),
    modeAsk: (current: Mode) => t(`mode-ask-${current}`),
    modeSet: (mode: Mode) => t(`mode-set-${mode}`),
    modePrivate: t("mode-private"),
    exportEmpty: t("export-empty"),
    exportFailed: t("export-failed"),
    exportCaption: (n: number) => t("export-caption", { messages: count("messages", n) }),
    /** The words of /export's Markdown document. */
    exportDocument: {
      privateTitle: (name: string | undefined) => t("export-title-private", { name: name || t("export-you") }),
      header: (at: string, n: number) => t("export-header", { at, messages: count("messages", n) }),
      user: t("export-user"),
      stopped: t("export-stopped"),
      notAnswered: t("export-not-answered"),
    },
    undoClear: t("undo-clear"),
    undone: (n: number) => t("undone", { messages: count("messages", n) }),
    undoExpired: t("undo-expired"),
    unknownCommand: t("unknown-command"),
    nonText: t("non-text"),
    storageUnavailable: t("storage-unavailable"),
    storageDelayed: t("storage-delayed"),
    emptyAnswer: t("empty-answer"),
    llmFailure: (failure: LlmFailure) => t(`llm-${failure.replaceAll("_", "-")}`),
    interrupted: t("interrupted"),
    mediaFailure: (failure: MediaFailure) => t(`media-${failure.replaceAll("_", "-")}`),
    imagesUnseen: t("images-unseen"),
    documentCut: (name: string, cut: { read: number; total: number | null; pages?: { read: number; total: number } }) =>
      cut.pages
        ? t("document-cut-pages", { name: name || "—", read: cut.pages.read, total: cut.pages.total })
        : cut.total === null
          ? t("document-cut-start", { name: name || "—", read: cut.read })
          : t("document-cut", { name: name || "—", read: cut.read, total: cut.total }),
    stoppedMark: t("stopped-mark"),
    answerCut: (why: "length" | "tokens") => t(`answer-cut-${why}`),
    stoppedBeforeText: t("stopped-before-text"),
    nothingToStop: t("nothing-to-stop"),
    nothingToRetry: t("nothing-to-retry"),
    // An id is not a number to format ("123 456 789" would not paste back).
    notAllowed: (userId: number) => t("not-allowed", { userId: String(userId) }),
    adminOnly: t("admin-only"),
    adminPrivateOnly: t("admin-private-only"),
    groupAdminsOnly: t("group-admins-only"),
    accessUsage: (command: string) => t("access-usage", { command }),
    accessChanged: (subject: string, allowed: boolean, everyone: boolean) =>
      t(allowed ? (everyone ? "access-allowed-everyone" : "access-allowed") : "access-denied", { subject }),
    accessOverview: (o: AccessOverview) => {
      const rules = o.rules.map((r) => `${r.allowed ? "✅" : "⛔"} ${r.subject}`);
      return [
        t(o.everyone ? "access-open" : "access-closed"),
        t("access-admins", { list: o.admins.join(", ") || t("none") }),
        ...(o.everyone ? [] : [t("access-from-settings", { list: o.fromSettings.join(", ") || t("nobody") })]),
        rules.length ? `${t("access-rules")}\n${rules.join("\n")}` : t("access-no-rules"),
      ].join("\n\n");
    },
    overLimit: (verdict: { limit: LimitName; max: number; resetsAt: Date; left?: number; needed?: number }, now: Date) => {
      const when = t("time-until", hoursAndMinutesUntil(verdict.resetsAt, now));
      if (verdict.limit === "turn_tokens") return t("over-limit-turn", { needed: count("tokens", verdict.needed ?? 0), left: count("tokens", verdict.left ?? 0), in: when });
      const limit = verdict.limit === "daily_messages" ? count("messages", verdict.max) : verdict.limit === "daily_tokens" ? count("tokens", verdict.max) : t("seconds-of-speech", { count: verdict.max });
      return t("over-limit", { limit, in: when });
    },
    notRemembered: t("not-remembered"),
    poisoned: t("poisoned"),
    tooFast: t("too-fast"),
    usage: (mine: UserUsage, limits: { dailyMessages: number | null; dailyTokens: number | null; dailyAudioSeconds?: number | null }, exempt: boolean) => {
      const parts = [t("usage-mine", { today: line(mine.today), month: line(mine.month) })];
      const caps = [
        ...(limits.dailyMessages === null ? [] : [t("usage-cap-messages", { used: mine.today.messages, max: limits.dailyMessages })]),
        ...(limits.dailyTokens === null ? [] : [t("usage-cap-tokens", { used: tokensOf(mine.today), max: limits.dailyTokens })]),
        ...(limits.dailyAudioSeconds == null ? [] : [t("usage-cap-audio", { used: mine.today.audioSeconds, max: limits.dailyAudioSeconds })]),
      ];
      if (exempt && caps.length) parts.push(t("usage-exempt"));
      else if (caps.length) parts.push(t("usage-caps", { caps: caps.join(", ") }));
      return parts.join("\n\n");
    },
    usageEveryone: (rows: UsageRow[]) =>
      rows.length === 0
        ? t("usage-nobody")
        : [
            t("usage-everyone"),
            ...rows.map((r) =>
              t("usage-everyone-row", {
                who: r.userId === 0n ? t("usage-erased") : r.username ? `@${r.username}` : (r.firstName ?? t("someone")),
                userId: String(r.userId),
                todayTokens: tokensOf(r.today),
                monthTokens: tokensOf(r.month),
                todayAnswers: r.today.messages,
                monthAnswers: r.month.messages,
              }),
            ),
          ].join("\n"),
    forgetAsk: t("forget-ask"),
    forgetYes: t("forget-yes"),
    forgetNo: t("forget-no"),
    forgetDone: (n: number) => t("forget-done", { messages: count("messages", n) }),
    forgetCancelled: t("forget-cancelled"),
    notYourButton: t("not-your-button"),
    buttonInvalid: t("button-invalid"),
    forgetExpired: t("forget-expired"),
    /** The command menu (setMyCommands) in this language. */
    commands: COMMAND_NAMES.map((command) => ({ command, description: t(`command-${command}`) })),
  };
}

export type Texts = ReturnType<typeof createTexts>;
