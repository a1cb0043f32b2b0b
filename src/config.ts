/**
 * The only module that reads the environment. Everything is parsed once, up front;
 * a bad setup fails with one message that names every bad setting.
 */
import { parse as parseDotenv } from "dotenv";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";

export type Environment = Record<string, string | undefined>;

export type DatabaseConfig =
  | { kind: "postgres"; url: string }
  | { kind: "pglite"; dataDir: string };

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface WebhookConfig {
  /** The public https URL Telegram calls; its path is where the HTTP server listens. */
  url: string;
  path: string;
  secret: string;
  maxConnections: number;
}

/** Who may talk to the bot, from the settings (admins can change it at run time: /allow, /deny). */
export interface AccessConfig {
  /** true: anyone; `explicit` says whether the operator chose that (ALLOWED_USERS=*) or left it unset. */
  everyone: boolean;
  explicit: boolean;
  /** Allowed user ids (as decimal strings) and lower-cased "@usernames". */
  subjects: string[];
  /** Bot administrators: always allowed, exempt from limits, may use /allow, /deny, /users. */
  admins: string[];
  /** In groups, who may change the chat's settings (/clear…): its administrators, or any member. */
  groupSettingsBy: "admins" | "everyone";
}

export interface Config {
  /**
   * webhook null: long polling. richMessages: Bot API 10.1 rich messages and drafts, or classic text
   * only. sendsPerSecond: the bot's whole budget of sends to Telegram, shared by its instances.
   */
  telegram: { token: string; apiRoot: string; webhook: WebhookConfig | null; richMessages: "auto" | "off"; sendsPerSecond: number };
  http: { host: string; port: number };
  /** Webhook mode: /metrics and the detail of /readyz are served here only (OPS_HOST:OPS_PORT). */
  ops: { host: string; port: number };
  /**
   * role all: receive updates and work them; worker: only work the inbox (another instance
   * receives). pasteMergeMs: a long paste's pieces this close together are one turn (0: off).
   * mergeWaitingMax: messages of one author waiting in a chat are answered together, up to this
   * many (1: each alone).
   */
  inbox: { role: "all" | "worker"; leaseMs: number; maxConcurrentTurns: number; pasteMergeMs: number; mergeWaitingMax: number };
  /** model: the default; models: those a chat may choose with /model (the default first). */
  openai: { apiKey: string; baseURL: string; model: string; models: string[]; timeoutMs: number; maxRetries: number };
  /** answerMaxChars: an answer is cut (and marked) at this length. */
  dialogue: { systemPrompt: string; historyMaxMessages: number; historyMaxChars: number; answerMaxChars: number };
  /** Photos, voice and documents: what the model sees and hears, and how much of a file it reads. */
  media: {
    vision: "auto" | "on" | "off";
    historyMaxImages: number;
    imageMaxSide: number;
    documentMaxChars: number;
    /** A PDF is read up to this many pages. */
    documentMaxPages: number;
    /** Reading a file (a PDF, an image sent as a file) runs in a child process with these bounds. */
    fileTimeoutMs: number;
    fileMemoryMb: number;
    transcribe: { baseURL: string; model: string };
  };
  database: DatabaseConfig;
  access: AccessConfig;
  /**
   * Per-user daily limits (UTC days; null means unlimited) and the per-user rate (messages a
   * minute, across the user's chats, on each instance).
   */
  limits: { dailyMessages: number | null; dailyTokens: number | null; dailyAudioSeconds: number | null; messagesPerMinute: number };
  /** Soft-deleted messages older than this are erased for good; null keeps them. */
  retentionDays: number | null;
  logLevel: LogLevel;
  /**
   * lean: V8 favours memory over speed (--optimize-for-size: smaller heap under load, more CPU
   * per turn); fast: V8's defaults. MEMORY_PROFILE=auto is lean on the embedded store (the small
   * server's setup) and fast on PostgreSQL.
   */
  memoryProfile: "lean" | "fast";
}

/**
 * A user as the operator or an admin names one: a numeric Telegram id ("123456") or a username
 * ("@name" or "name"), returned as the id or as "@name" lower-cased; null if it is neither.
 */
export function parseUserSubject(text: string): string | null {
  const value = text.trim();
  if (/^\d{1,19}$/.test(value)) return String(BigInt(value));
  const username = /^@?([A-Za-z][A-Za-z0-9_]{3,31})$/.exec(value);
  return username ? `@${username[1]!.toLowerCase()}` : null;
}

/** A list in a setting: separated by commas and/or spaces. */
const listOf = (value: string) => value.split(/[\s,]+/).filter(Boolean);

const userList = (what: string, allowEveryone: boolean, idsOnly: boolean) =>
  optional(
    z
      .string()
      .optional()
      .superRefine((value, ctx) => {
        for (const item of listOf(value ?? "")) {
          if (allowEveryone && item === "*") continue;
          const subject = parseUserSubject(item);
          if (subject === null || (idsOnly && subject.startsWith("@"))) {
            ctx.addIssue({ code: "custom", message: `has "${item}", which is not ${what}` });
          }
        }
      }),
  );

const optionalLimit = (max: number) =>
  optional(
    z.coerce
      .number({ error: "must be a whole number" })
      .int("must be a whole number")
      .min(1, "must be at least 1 (leave it empty for no limit)")
      .max(max, `must be at most ${max}`)
      .optional(),
  );

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const OFFICIAL_OPENAI = "https://api.openai.com/v1";

/** The default instructions: Telegram renders rich messages' Markdown, tables and formulas included. */
export const DEFAULT_SYSTEM_PROMPT =
  "You are Parley, a friendly and helpful assistant chatting in Telegram. " +
  "Answer clearly and concisely. Use Markdown where it helps: headings, lists, tables, code blocks " +
  "and LaTeX formulas ($...$ inline, $$...$$ on their own lines) all render in Telegram.";

/** With TELEGRAM_RICH_MESSAGES=off, classic messages render no tables, headings or formulas. */
export const DEFAULT_SYSTEM_PROMPT_CLASSIC =
  "You are Parley, a friendly and helpful assistant chatting in Telegram. " +
  "Answer clearly and concisely. You may use Markdown (bold, italics, code, links); " +
  "tables, headings and formulas do not render, so avoid them.";

/** Empty strings in .env files mean "not set". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema);

const intSetting = (min: number, max: number, fallback: number) =>
  optional(
    z.coerce
      .number({ error: "must be a whole number" })
      .int("must be a whole number")
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(fallback),
  );

const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: `must be an http(s) URL of ${what}` });

const databaseSchema = z.object({
  DATABASE_URL: optional(
    z
      .url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// or postgresql:// URL" })
      .optional(),
  ),
  PGLITE_DATA_DIR: optional(z.string().default("./data/pglite")),
});

const schema = databaseSchema.extend({
  TELEGRAM_BOT_TOKEN: optional(
    z
      .string({ error: "is required (get one from @BotFather)" })
      .regex(/^\d+:[A-Za-z0-9_-]+$/, "does not look like a bot token (expected 123456:ABC-...)"),
  ),
  TELEGRAM_API_ROOT: optional(httpUrl("a Telegram Bot API server").default("https://api.telegram.org")),
  TELEGRAM_RICH_MESSAGES: optional(z.enum(["auto", "off"], { error: "must be auto or off" }).default("auto")),
  TELEGRAM_WEBHOOK_URL: optional(
    z.url({ protocol: /^https$/, error: "must be the public https:// URL Telegram should call" }).optional(),
  ),
  TELEGRAM_WEBHOOK_SECRET: optional(
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,256}$/, "must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
      .optional(),
  ),
  TELEGRAM_WEBHOOK_MAX_CONNECTIONS: intSetting(1, 100, 40),
  TELEGRAM_SENDS_PER_SECOND: intSetting(1, 1_000, 29),
  HTTP_HOST: optional(z.string().default("127.0.0.1")),
  HTTP_PORT: intSetting(0, 65_535, 8080),
  OPS_HOST: optional(z.string().default("127.0.0.1")),
  OPS_PORT: intSetting(0, 65_535, 8081),
  INSTANCE_ROLE: optional(z.enum(["all", "worker"], { error: "must be all or worker" }).default("all")),
  TURN_LEASE_SECONDS: intSetting(1, 600, 15),
  MAX_CONCURRENT_TURNS: intSetting(1, 100_000, 1000),
  PASTE_MERGE_MS: intSetting(0, 10_000, 1500),
  MERGE_WAITING_MAX: intSetting(1, 50, 10),
  OPENAI_API_KEY: optional(z.string().optional()),
  OPENAI_BASE_URL: optional(httpUrl("an OpenAI-compatible API").default(OFFICIAL_OPENAI)),
  OPENAI_MODEL: optional(z.string().default("gpt-4o-mini")),
  OPENAI_MODELS: optional(z.string().optional()),
  OPENAI_TIMEOUT_SECONDS: intSetting(1, 600, 60),
  OPENAI_MAX_RETRIES: intSetting(0, 5, 1),
  OPENAI_VISION: optional(z.enum(["auto", "on", "off"], { error: "must be auto, on or off" }).default("auto")),
  OPENAI_TRANSCRIBE_MODEL: optional(z.string().default("whisper-1")),
  OPENAI_TRANSCRIBE_BASE_URL: optional(httpUrl("an OpenAI-compatible API for transcriptions").optional()),
  HISTORY_MAX_IMAGES: intSetting(0, 20, 3),
  IMAGE_MAX_SIDE: intSetting(90, 10_000, 1280),
  DOCUMENT_MAX_CHARS: intSetting(100, 2_000_000, 12_000),
  DOCUMENT_MAX_PAGES: intSetting(1, 10_000, 100),
  FILE_TIMEOUT_SECONDS: intSetting(1, 600, 8),
  FILE_MEMORY_MB: intSetting(64, 16_384, 256),
  SYSTEM_PROMPT: optional(z.string().optional()),
  HISTORY_MAX_MESSAGES: intSetting(1, 1000, 40),
  HISTORY_MAX_CHARS: intSetting(200, 2_000_000, 16_000),
  ANSWER_MAX_CHARS: intSetting(500, 1_000_000, 32_000),
  ALLOWED_USERS: userList("a Telegram user id, an @username or *", true, false),
  ADMIN_USERS: userList("a numeric Telegram user id", false, true),
  GROUP_SETTINGS_BY: optional(z.enum(["admins", "everyone"], { error: "must be admins or everyone" }).default("admins")),
  USER_DAILY_MESSAGES: optionalLimit(1_000_000),
  USER_DAILY_TOKENS: optionalLimit(1_000_000_000_000),
  USER_DAILY_AUDIO_SECONDS: optionalLimit(100_000_000),
  USER_MESSAGES_PER_MINUTE: intSetting(1, 100_000, 30),
  HISTORY_RETENTION_DAYS: optionalLimit(36_500),
  MEMORY_PROFILE: optional(z.enum(["auto", "lean", "fast"], { error: "must be auto, lean or fast" }).default("auto")),
  LOG_LEVEL: optional(
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      error: "must be one of fatal, error, warn, info, debug, trace, silent",
    }).default("info"),
  ),
});

function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".") || "(settings)"} ${issue.message}`);
}

function toDatabaseConfig(values: z.infer<typeof databaseSchema>): DatabaseConfig {
  return values.DATABASE_URL
    ? { kind: "postgres", url: values.DATABASE_URL }
    : { kind: "pglite", dataDir: resolve(values.PGLITE_DATA_DIR) };
}

function toAccessConfig(allowed: string | undefined, admins: string | undefined, groupSettingsBy: AccessConfig["groupSettingsBy"]): AccessConfig {
  const items = listOf(allowed ?? "");
  const everyone = items.length === 0 || items.includes("*");
  return {
    everyone,
    explicit: items.length > 0,
    subjects: everyone ? [] : [...new Set(items.map((i) => parseUserSubject(i)!))],
    admins: [...new Set(listOf(admins ?? "").map((i) => parseUserSubject(i)!))],
    groupSettingsBy,
  };
}

/**
 * The process environment on top of `.env` (if present): real environment variables win,
 * and `process.env` itself is never modified.
 */
export function readEnvironment(envFile = ".env"): Environment {
  const fromFile = existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  return { ...fromFile, ...process.env };
}

export function parseConfig(env: Environment): Config {
  const result = schema.safeParse(env);
  const problems = result.success ? [] : problemsOf(result.error);
  const baseURL = (env.OPENAI_BASE_URL?.trim() || OFFICIAL_OPENAI).replace(/\/+$/, "");
  if (!env.OPENAI_API_KEY?.trim() && baseURL === OFFICIAL_OPENAI) {
    problems.push(
      "OPENAI_API_KEY is required for api.openai.com (point OPENAI_BASE_URL at a local server that needs no key)",
    );
  }
  const set = (name: string) => Boolean(env[name]?.trim());
  if (set("TELEGRAM_WEBHOOK_URL") && !set("TELEGRAM_WEBHOOK_SECRET")) {
    problems.push("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL (Telegram sends it with every update)");
  }
  if (env.INSTANCE_ROLE?.trim() === "worker" && !set("DATABASE_URL")) {
    problems.push("INSTANCE_ROLE=worker needs DATABASE_URL: the embedded store belongs to one process");
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const v = result.data;
  return {
    telegram: {
      token: v.TELEGRAM_BOT_TOKEN,
      apiRoot: v.TELEGRAM_API_ROOT.replace(/\/+$/, ""),
      richMessages: v.TELEGRAM_RICH_MESSAGES,
      sendsPerSecond: v.TELEGRAM_SENDS_PER_SECOND,
      webhook:
        v.TELEGRAM_WEBHOOK_URL && v.TELEGRAM_WEBHOOK_SECRET
          ? {
              url: v.TELEGRAM_WEBHOOK_URL,
              path: new URL(v.TELEGRAM_WEBHOOK_URL).pathname,
              secret: v.TELEGRAM_WEBHOOK_SECRET,
              maxConnections: v.TELEGRAM_WEBHOOK_MAX_CONNECTIONS,
            }
          : null,
    },
    http: { host: v.HTTP_HOST, port: v.HTTP_PORT },
    ops: { host: v.OPS_HOST, port: v.OPS_PORT },
    inbox: { role: v.INSTANCE_ROLE, leaseMs: v.TURN_LEASE_SECONDS * 1000, maxConcurrentTurns: v.MAX_CONCURRENT_TURNS, pasteMergeMs: v.PASTE_MERGE_MS, mergeWaitingMax: v.MERGE_WAITING_MAX },
    openai: {
      // Local servers (Ollama, vLLM) accept any key, but the SDK insists on a non-empty one.
      apiKey: v.OPENAI_API_KEY ?? NO_API_KEY,
      baseURL,
      model: v.OPENAI_MODEL,
      // The default is always one of them, and first.
      models: [...new Set([v.OPENAI_MODEL, ...listOf(v.OPENAI_MODELS ?? "")])],
      timeoutMs: v.OPENAI_TIMEOUT_SECONDS * 1000,
      maxRetries: v.OPENAI_MAX_RETRIES,
    },
    dialogue: {
      systemPrompt: v.SYSTEM_PROMPT ?? (v.TELEGRAM_RICH_MESSAGES === "off" ? DEFAULT_SYSTEM_PROMPT_CLASSIC : DEFAULT_SYSTEM_PROMPT),
      historyMaxMessages: v.HISTORY_MAX_MESSAGES,
      historyMaxChars: v.HISTORY_MAX_CHARS,
      answerMaxChars: v.ANSWER_MAX_CHARS,
    },
    media: {
      vision: v.OPENAI_VISION,
      historyMaxImages: v.HISTORY_MAX_IMAGES,
      imageMaxSide: v.IMAGE_MAX_SIDE,
      documentMaxChars: v.DOCUMENT_MAX_CHARS,
      documentMaxPages: v.DOCUMENT_MAX_PAGES,
      fileTimeoutMs: v.FILE_TIMEOUT_SECONDS * 1000,
      fileMemoryMb: v.FILE_MEMORY_MB,
      transcribe: { baseURL: v.OPENAI_TRANSCRIBE_BASE_URL?.replace(/\/+$/, "") ?? baseURL, model: v.OPENAI_TRANSCRIBE_MODEL },
    },
    database: toDatabaseConfig(v),
    access: toAccessConfig(v.ALLOWED_USERS, v.ADMIN_USERS, v.GROUP_SETTINGS_BY),
    limits: {
      dailyMessages: v.USER_DAILY_MESSAGES ?? null,
      dailyTokens: v.USER_DAILY_TOKENS ?? null,
      dailyAudioSeconds: v.USER_DAILY_AUDIO_SECONDS ?? null,
      messagesPerMinute: v.USER_MESSAGES_PER_MINUTE,
    },
    retentionDays: v.HISTORY_RETENTION_DAYS ?? null,
    logLevel: v.LOG_LEVEL,
    memoryProfile: v.MEMORY_PROFILE === "auto" ? (v.DATABASE_URL ? "fast" : "lean") : v.MEMORY_PROFILE,
  };
}

/** Sent as the API key when OPENAI_API_KEY is unset (local servers ignore it; the SDK needs one). */
export const NO_API_KEY = "not-needed";

/**
 * Values that must never reach a log line: the bot token, the API key, the webhook secret; and
 * the database password, which an operator may have chosen as a word (the compose file's is
 * "parley", the app's own name), so it is scrubbed where it stands as a password (logger.ts).
 */
export function secretsOf(config: Config): { secrets: string[]; passwords: string[] } {
  const secrets = [config.telegram.token];
  // The placeholder sent to servers that need no key is no secret: scrubbing it would garble logs.
  if (config.openai.apiKey !== NO_API_KEY) secrets.push(config.openai.apiKey);
  if (config.telegram.webhook) secrets.push(config.telegram.webhook.secret);
  const passwords: string[] = [];
  if (config.database.kind === "postgres") {
    const password = decodeURIComponent(new URL(config.database.url).password);
    if (password) passwords.push(password);
  }
  return { secrets, passwords };
}

/** Only the database part: what the migration tool needs, without bot or model settings. */
export function parseDatabaseConfig(env: Environment): DatabaseConfig {
  const result = databaseSchema.safeParse(env);
  if (!result.success) throw new ConfigError(problemsOf(result.error));
  return toDatabaseConfig(result.data);
}

/**
 * `make db-copy`: from the embedded store (PGLITE_DATA_DIR, or its default) into the PostgreSQL
 * database of DATABASE_URL.
 */
export function parseCopyConfig(env: Environment): { from: DatabaseConfig & { kind: "pglite" }; to: DatabaseConfig & { kind: "postgres" } } {
  const result = databaseSchema.safeParse(env);
  const problems = result.success ? [] : problemsOf(result.error);
  if (result.success && !result.data.DATABASE_URL) {
    problems.push("DATABASE_URL is required: the (migrated, empty) PostgreSQL database to copy the embedded store into");
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  return {
    from: { kind: "pglite", dataDir: resolve(result.data.PGLITE_DATA_DIR) },
    to: { kind: "postgres", url: result.data.DATABASE_URL! },
  };
}
