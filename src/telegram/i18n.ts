import { fileURLToPath } from "node:url";
import { I18n } from "@grammyjs/i18n";
import { createTexts, type Texts } from "./texts.ts";

export interface Languages {
  /** The languages the bot speaks; the first is the default. */
  readonly locales: readonly string[];
  /** The texts for a Telegram user's language_code ("ru", "pt-br", none): theirs if spoken, else the default. */
  textsFor(languageCode: string | undefined): Texts;
  /** The locale those texts are in. */
  localeOf(languageCode: string | undefined): string;
}

const DEFAULT_LOCALE = "en";

/**
 * The bot's languages: one Fluent file per language in ./locales (@grammyjs/i18n), read once.
 * Texts are built once per language and shared by every update.
 */
export function createLanguages(): Languages {
  const i18n = new I18n({
    defaultLocale: DEFAULT_LOCALE,
    directory: fileURLToPath(new URL("./locales", import.meta.url)),
    // Unicode isolation marks around variables would end up in Telegram messages and commands.
    fluentBundleOptions: { useIsolating: false },
  });
  const locales = [DEFAULT_LOCALE, ...i18n.locales.filter((l) => l !== DEFAULT_LOCALE).sort()];
  const texts = new Map(locales.map((locale) => [locale, createTexts((key, variables) => i18n.t(locale, key, variables))]));
  const localeOf = (languageCode: string | undefined) => {
    const language = languageCode?.toLowerCase().split("-")[0];
    return language !== undefined && texts.has(language) ? language : DEFAULT_LOCALE;
  };
  return {
    locales,
    localeOf,
    textsFor: (languageCode) => texts.get(localeOf(languageCode))!,
  };
}
