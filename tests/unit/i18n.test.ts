import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { createLanguages } from "../../src/telegram/i18n.ts";
import { COMMAND_NAMES, type Texts } from "../../src/telegram/texts.ts";

const languages = createLanguages();
const keysOf = (locale: string) =>
  readFileSync(new URL(`../../src/telegram/locales/${locale}.ftl`, import.meta.url), "utf8")
    .split("\n")
    .map((line) => /^([a-z][a-z0-9-]*) =/.exec(line)?.[1])
    .filter((key): key is string => key !== undefined)
    .sort();

/** Every text, with sample values: functions called, strings as they are. */
function everyText(texts: Texts): string[] {
  const now = new Date("2026-11-23T20:00:00Z");
  const usage = { messages: 3, promptTokens: 1_000, completionTokens: 234, audioSeconds: 75 };
  return [
    texts.start("Ann"), texts.start(undefined), texts.help, texts.cleared(0), texts.cleared(5), texts.systemShow("Be kind.", true), texts.systemShow("x", false),
    texts.systemSet, texts.systemReset, texts.systemTooLong(4_000), texts.modelAsk("m"), texts.modelOnlyOne("m"), texts.modelSet("m"), texts.modelGone,
    texts.modeName("shared"), texts.modeName("member"), texts.modeAsk("shared"), texts.modeAsk("member"), texts.modeSet("shared"), texts.modeSet("member"), texts.modePrivate,
    texts.exportEmpty, texts.exportCaption(2), texts.exportDocument.privateTitle("Ann"), texts.exportDocument.privateTitle(undefined), texts.exportDocument.header("2026-11-24 10:00", 3),
    texts.exportDocument.user, texts.exportDocument.stopped, texts.exportDocument.notAnswered, texts.undoClear, texts.undone(2), texts.undoExpired, texts.unknownCommand, texts.nonText, texts.storageUnavailable,
    texts.storageDelayed, texts.emptyAnswer, ...(["timeout", "rate_limited", "unavailable", "context_too_long", "misconfigured", "rejected", "images_unsupported", "cancelled", "unknown"] as const).map(texts.llmFailure),
    texts.interrupted, ...(["too_big", "download_failed", "transcription_failed", "nothing_heard", "unsupported_file", "unreadable_file", "too_complex"] as const).map(texts.mediaFailure),
    texts.imagesUnseen, texts.documentCut("a.pdf", { read: 100, total: 2_000 }), texts.documentCut("a.txt", { read: 100, total: null }), texts.documentCut("a.pdf", { read: 100, total: null, pages: { read: 3, total: 9 } }), texts.stoppedMark, texts.stoppedBeforeText, texts.nothingToStop, texts.nothingToRetry, texts.notAllowed(123456789), texts.adminOnly,
    texts.adminPrivateOnly, texts.groupAdminsOnly, texts.accessUsage("allow"), texts.accessChanged("@a", true, true), texts.accessChanged("@a", true, false), texts.accessChanged("@a", false, false),
    texts.accessOverview({ everyone: false, admins: [], fromSettings: [], rules: [{ subject: "@a", allowed: true }] } as never), texts.accessOverview({ everyone: true, admins: [1], fromSettings: [], rules: [] } as never),
    ...(["daily_messages", "daily_tokens", "daily_audio"] as const).map((limit) => texts.overLimit({ limit, max: 10_000, resetsAt: new Date("2026-11-24T00:00:00Z") }, now)),
    texts.overLimit({ limit: "turn_tokens", max: 500, left: 120, needed: 3_000, resetsAt: new Date("2026-11-24T00:00:00Z") }, now),
    texts.notRemembered, texts.poisoned, texts.tooFast, texts.answerCut("length"), texts.answerCut("tokens"), texts.usage({ today: usage, month: usage } as never, { dailyMessages: 5, dailyTokens: 9, dailyAudioSeconds: 600 }, false),
    texts.usage({ today: usage, month: usage } as never, { dailyMessages: 5, dailyTokens: null }, true), texts.usageEveryone([]),
    texts.usageEveryone([{ userId: 1, username: null, firstName: null, today: usage, month: usage }] as never), texts.forgetAsk, texts.forgetYes, texts.forgetNo, texts.forgetDone(1),
    texts.forgetCancelled, texts.notYourButton, texts.forgetExpired, ...texts.commands.map((c) => c.description),
  ];
}

describe("languages", () => {
  test("English and Russian, each with every message the other has", () => {
    expect(languages.locales).toEqual(["en", "ru"]);
    expect(keysOf("ru")).toEqual(keysOf("en"));
  });

  test("every text renders in every language: no missing message, no unfilled variable, no isolation marks", () => {
    for (const locale of languages.locales) {
      const texts = languages.textsFor(locale);
      for (const text of everyText(texts)) {
        expect(text, locale).not.toMatch(/^[a-z]+(-[a-z]+)+$/); // a missing message comes back as its key
        expect(text, locale).not.toMatch(/\{\s*\$|\{\$|\u2068|\u2069|undefined|NaN/);
        expect(text.trim(), locale).not.toBe("");
      }
    }
  });

  test("a user's language_code picks their language; others get English", () => {
    expect(languages.localeOf("ru")).toBe("ru");
    expect(languages.localeOf("ru-RU")).toBe("ru");
    expect(languages.localeOf("de")).toBe("en");
    expect(languages.localeOf(undefined)).toBe("en");
    expect(languages.textsFor("ru").nothingToStop).toBe("Сейчас я не пишу никакого ответа.");
  });

  test("Russian counts as Russian does (1, 2–4, 5–20, 21 …), English as English does", () => {
    const ru = languages.textsFor("ru");
    expect([1, 3, 5, 11, 21, 22, 25].map((n) => ru.cleared(n).match(/\((.*)\)/)![1])).toEqual([
      "1 сообщение", "3 сообщения", "5 сообщений", "11 сообщений", "21 сообщение", "22 сообщения", "25 сообщений",
    ]);
    const en = languages.textsFor("en");
    expect([1, 2].map((n) => en.cleared(n).match(/\((.*)\)/)![1])).toEqual(["1 message", "2 messages"]);
    expect(en.start("Ann")).toMatch(/^Hi, Ann! I'm Parley/);
    expect(en.start(undefined)).toMatch(/^Hi! I'm Parley/);
    expect(en.notAllowed(123456789)).toMatch(/: 123456789$/); // an id, not a formatted number
  });

  test("the command menu: the same commands in each language, described in it", () => {
    for (const locale of languages.locales) {
      const commands = languages.textsFor(locale).commands;
      expect(commands.map((c) => c.command)).toEqual([...COMMAND_NAMES]);
      for (const c of commands) expect(c.description.length).toBeGreaterThan(2);
    }
    expect(languages.textsFor("ru").commands[0]!.description).toBe("Знакомство");
  });
});
