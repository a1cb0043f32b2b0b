import path from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError, DEFAULT_SYSTEM_PROMPT, parseConfig, parseDatabaseConfig, secretsOf } from "../../src/config.ts";

const valid = { TELEGRAM_BOT_TOKEN: "123456:ABC-def_ghi", OPENAI_API_KEY: "sk-test" };

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  test("OPENAI_MODELS: the models a chat may choose, the default first and once", () => {
    expect(parseConfig(valid).openai.models).toEqual(["gpt-4o-mini"]);
    expect(parseConfig({ ...valid, OPENAI_MODEL: "b", OPENAI_MODELS: "a, b c" }).openai.models).toEqual(["b", "a", "c"]);
  });

  test("fills sensible defaults", () => {
    const config = parseConfig(valid);
    expect(config).toMatchObject({
      telegram: { token: valid.TELEGRAM_BOT_TOKEN, apiRoot: "https://api.telegram.org" },
      openai: { apiKey: "sk-test", baseURL: "https://api.openai.com/v1", model: "gpt-4o-mini", timeoutMs: 60_000 },
      dialogue: { systemPrompt: DEFAULT_SYSTEM_PROMPT, historyMaxMessages: 40, historyMaxChars: 16_000, answerMaxChars: 32_000 },
      database: { kind: "pglite", dataDir: path.resolve("data/pglite") },
      logLevel: "info",
    });
  });

  test("reads every setting", () => {
    const config = parseConfig({
      ...valid,
      TELEGRAM_API_ROOT: "http://localhost:8081/",
      OPENAI_BASE_URL: "http://localhost:11434/v1/",
      OPENAI_MODEL: "llama3.2",
      OPENAI_TIMEOUT_SECONDS: "30",
      SYSTEM_PROMPT: "Be brief.",
      HISTORY_MAX_MESSAGES: "10",
      HISTORY_MAX_CHARS: "5000",
      DATABASE_URL: "postgres://parley:secret@db:5432/parley",
      LOG_LEVEL: "debug",
    });
    expect(config.telegram.apiRoot).toBe("http://localhost:8081");
    expect(config.openai).toMatchObject({ baseURL: "http://localhost:11434/v1", model: "llama3.2", timeoutMs: 30_000 });
    expect(config.dialogue).toEqual({ systemPrompt: "Be brief.", historyMaxMessages: 10, historyMaxChars: 5000, answerMaxChars: 32_000 });
    expect(config.database).toEqual({ kind: "postgres", url: "postgres://parley:secret@db:5432/parley" });
    expect(config.logLevel).toBe("debug");
  });

  test("MEMORY_PROFILE: auto is lean on the embedded store and fast on PostgreSQL; either can be chosen; anything else is refused", () => {
    expect(parseConfig(valid).memoryProfile).toBe("lean");
    expect(parseConfig({ ...valid, DATABASE_URL: "postgres://db/parley" }).memoryProfile).toBe("fast");
    expect(parseConfig({ ...valid, MEMORY_PROFILE: "fast" }).memoryProfile).toBe("fast");
    expect(parseConfig({ ...valid, DATABASE_URL: "postgres://db/parley", MEMORY_PROFILE: "lean" }).memoryProfile).toBe("lean");
    expect(problems({ ...valid, MEMORY_PROFILE: "tiny" })).toEqual(["MEMORY_PROFILE must be auto, lean or fast"]);
  });

  test("webhook, HTTP server and inbox settings: defaults, every one read, and the webhook secret kept out of logs", () => {
    expect(parseConfig(valid)).toMatchObject({
      telegram: { webhook: null },
      http: { host: "127.0.0.1", port: 8080 },
      inbox: { role: "all", leaseMs: 15_000, maxConcurrentTurns: 1000, pasteMergeMs: 1500, mergeWaitingMax: 10 },
    });
    const config = parseConfig({
      ...valid,
      TELEGRAM_WEBHOOK_URL: "https://bot.example.com/telegram/hook",
      TELEGRAM_WEBHOOK_SECRET: "s3cret_Token-1",
      TELEGRAM_WEBHOOK_MAX_CONNECTIONS: "80",
      HTTP_HOST: "0.0.0.0",
      HTTP_PORT: "0",
      INSTANCE_ROLE: "worker",
      DATABASE_URL: "postgres://db/parley",
      TURN_LEASE_SECONDS: "5",
      MAX_CONCURRENT_TURNS: "200",
      PASTE_MERGE_MS: "0",
    });
    expect(config.telegram.webhook).toEqual({
      url: "https://bot.example.com/telegram/hook",
      path: "/telegram/hook",
      secret: "s3cret_Token-1",
      maxConnections: 80,
    });
    expect(config.http).toEqual({ host: "0.0.0.0", port: 0 });
    expect(config.inbox).toEqual({ role: "worker", leaseMs: 5_000, maxConcurrentTurns: 200, pasteMergeMs: 0, mergeWaitingMax: 10 });
    expect(secretsOf(config).secrets).toContain("s3cret_Token-1");
  });

  test("a webhook needs https and a secret Telegram accepts; a worker-only instance needs PostgreSQL", () => {
    const found = problems({
      ...valid,
      TELEGRAM_WEBHOOK_URL: "http://bot.example.com/hook",
      TELEGRAM_WEBHOOK_MAX_CONNECTIONS: "500",
      HTTP_PORT: "70000",
      INSTANCE_ROLE: "worker",
    }).join("\n");
    expect(found).toMatch(/TELEGRAM_WEBHOOK_URL.*https/);
    expect(found).toMatch(/TELEGRAM_WEBHOOK_SECRET is required/);
    expect(found).toMatch(/TELEGRAM_WEBHOOK_MAX_CONNECTIONS/);
    expect(found).toMatch(/HTTP_PORT/);
    expect(found).toMatch(/INSTANCE_ROLE=worker needs DATABASE_URL/);
    expect(problems({ ...valid, TELEGRAM_WEBHOOK_URL: "https://x.example/h", TELEGRAM_WEBHOOK_SECRET: "has spaces!" }).join()).toMatch(
      /TELEGRAM_WEBHOOK_SECRET/,
    );
  });

  test("a local OpenAI-compatible server needs no API key", () => {
    const config = parseConfig({ TELEGRAM_BOT_TOKEN: valid.TELEGRAM_BOT_TOKEN, OPENAI_BASE_URL: "http://localhost:11434/v1" });
    expect(config.openai.apiKey).not.toBe("");
  });

  test("empty values in .env count as unset", () => {
    expect(parseConfig({ ...valid, DATABASE_URL: "", HISTORY_MAX_MESSAGES: " " }).database.kind).toBe("pglite");
  });

  test("names every bad setting at once", () => {
    const found = problems({
      HISTORY_MAX_MESSAGES: "lots",
      HISTORY_MAX_CHARS: "10",
      LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://x",
      OPENAI_BASE_URL: "not a url",
    });
    const named = found.map((p) => p.split(" ")[0]);
    expect(named).toEqual(
      expect.arrayContaining([
        "TELEGRAM_BOT_TOKEN",
        "HISTORY_MAX_MESSAGES",
        "HISTORY_MAX_CHARS",
        "LOG_LEVEL",
        "DATABASE_URL",
        "OPENAI_BASE_URL",
      ]),
    );
    expect(found.find((p) => p.startsWith("HISTORY_MAX_CHARS"))).toMatch(/at least 200/);
  });

  test("requires an API key for api.openai.com, alongside the other problems", () => {
    const found = problems({ TELEGRAM_BOT_TOKEN: "nonsense" });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^TELEGRAM_BOT_TOKEN does not look like a bot token/);
    expect(found[1]).toMatch(/^OPENAI_API_KEY is required/);
  });

  test("the error message lists one problem per line and never echoes a value", () => {
    const error = (() => {
      try {
        parseConfig({ TELEGRAM_BOT_TOKEN: "secret-but-wrong", OPENAI_API_KEY: "sk-x", HISTORY_MAX_MESSAGES: "0" });
      } catch (e) {
        return e as ConfigError;
      }
    })()!;
    expect(error.message.split("\n")).toHaveLength(3);
    expect(error.message).not.toContain("secret-but-wrong");
  });
});

test("secretsOf names the token, the API key and the database password", () => {
  const config = parseConfig({ ...valid, DATABASE_URL: "postgres://parley:s%40cret-pw@db/parley" });
  expect(secretsOf(config)).toEqual({ secrets: [valid.TELEGRAM_BOT_TOKEN, "sk-test"], passwords: ["s@cret-pw"] });
});

test("without OPENAI_API_KEY the placeholder sent instead is no secret (it would garble every log line)", () => {
  const config = parseConfig({ TELEGRAM_BOT_TOKEN: valid.TELEGRAM_BOT_TOKEN, OPENAI_BASE_URL: "http://localhost:11434/v1" });
  expect(config.openai.apiKey).toBe("not-needed");
  expect(secretsOf(config)).toEqual({ secrets: [valid.TELEGRAM_BOT_TOKEN], passwords: [] });
});

describe("parseDatabaseConfig", () => {
  test("needs no bot settings (the migration tool uses it)", () => {
    expect(parseDatabaseConfig({ PGLITE_DATA_DIR: "/tmp/x" })).toEqual({ kind: "pglite", dataDir: "/tmp/x" });
    expect(parseDatabaseConfig({ DATABASE_URL: "postgresql://h/db" })).toEqual({ kind: "postgres", url: "postgresql://h/db" });
  });
});
