import { describe, expect, test, vi } from "vitest";
import { createAccessService } from "../../src/access/access.service.ts";
import { createChatAdmins, createSettingsPolicy } from "../../src/access/chat-admins.ts";
import { createRetention } from "../../src/retention/retention.service.ts";
import { createUsageService, nextUtcMidnight } from "../../src/limits/usage.service.ts";
import { ConfigError, parseConfig, parseUserSubject, type AccessConfig } from "../../src/config.ts";
import type { AccessRepository } from "../../src/db/access.repository.ts";
import type { AccessRule } from "../../src/domain/people.ts";
import type { UsageRepository } from "../../src/db/usage.repository.ts";
import { createLogger } from "../../src/logger.ts";
import { createLanguages } from "../../src/telegram/i18n.ts";

const valid = { TELEGRAM_BOT_TOKEN: "123456:ABC-def_ghi", OPENAI_API_KEY: "sk-test" };
const logger = createLogger({ level: "silent", secrets: [] });

function memoryRules(initial: Array<[string, boolean]> = []) {
  const rules = new Map<string, AccessRule>(initial.map(([subject, allowed]) => [subject, { subject, allowed, changedBy: 1n, changedAt: new Date() }]));
  let reads = 0;
  let failing = false;
  const repository: AccessRepository = {
    async rules() {
      reads++;
      if (failing) throw new Error("database gone");
      return [...rules.values()];
    },
    async setRule(subject, allowed, by) {
      rules.set(subject, { subject, allowed, changedBy: BigInt(by), changedAt: new Date() });
    },
  };
  return { repository, reads: () => reads, fail: (on: boolean) => (failing = on), rules };
}

const accessConfig = (over: Partial<AccessConfig> = {}): AccessConfig => ({
  everyone: false,
  explicit: true,
  subjects: [],
  admins: [],
  groupSettingsBy: "admins",
  ...over,
});

describe("access settings", () => {
  test("ALLOWED_USERS takes ids and @usernames, separated by commas or spaces; * means everyone", () => {
    expect(parseConfig({ ...valid, ALLOWED_USERS: "123, @Alice  bob_smith", ADMIN_USERS: "42" }).access).toEqual({
      everyone: false,
      explicit: true,
      subjects: ["123", "@alice", "@bob_smith"],
      admins: ["42"],
      groupSettingsBy: "admins",
    });
    expect(parseConfig({ ...valid, ALLOWED_USERS: "*" }).access).toMatchObject({ everyone: true, explicit: true });
    expect(parseConfig(valid).access).toMatchObject({ everyone: true, explicit: false, admins: [] });
    expect(parseConfig({ ...valid, USER_DAILY_MESSAGES: "50", HISTORY_RETENTION_DAYS: "30" })).toMatchObject({
      limits: { dailyMessages: 50, dailyTokens: null },
      retentionDays: 30,
    });
  });

  test("bad entries are named, all at once", () => {
    try {
      parseConfig({ ...valid, ALLOWED_USERS: "123, @x, not a name!", ADMIN_USERS: "@alice", USER_DAILY_TOKENS: "0", GROUP_SETTINGS_BY: "nobody" });
      throw new Error("expected a ConfigError");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join("\n");
      expect(problems).toContain('ALLOWED_USERS has "@x"');
      expect(problems).toContain('ALLOWED_USERS has "name!"');
      expect(problems).toContain('ADMIN_USERS has "@alice", which is not a numeric Telegram user id');
      expect(problems).toContain("USER_DAILY_TOKENS must be at least 1");
      expect(problems).toContain("GROUP_SETTINGS_BY must be admins or everyone");
    }
  });

  test("a subject is an id or a username, normalized", () => {
    expect(parseUserSubject(" 0123 ")).toBe("123");
    expect(parseUserSubject("@Some_Name")).toBe("@some_name");
    expect(parseUserSubject("Some_Name")).toBe("@some_name");
    expect(parseUserSubject("-5")).toBeNull();
    expect(parseUserSubject("@ab")).toBeNull();
  });
});

describe("access service", () => {
  test("an allowlist lets in listed ids and usernames and admins; an admin's rule wins over the settings", async () => {
    const { repository } = memoryRules([["@carol", false], ["77", true]]);
    const access = createAccessService({ config: accessConfig({ subjects: ["1", "@bob", "@carol"], admins: ["9"] }), repository });
    expect(await access.isAllowed({ id: 1 })).toBe(true);
    expect(await access.isAllowed({ id: 2, username: "Bob" })).toBe(true);
    expect(await access.isAllowed({ id: 3, username: "carol" })).toBe(false); // denied by an admin
    expect(await access.isAllowed({ id: 77 })).toBe(true); // allowed by an admin
    expect(await access.isAllowed({ id: 4, username: "dave" })).toBe(false);
    expect(await access.isAllowed({ id: 9 })).toBe(true);
    expect(access.isBotAdmin(9)).toBe(true);
    expect(access.isBotAdmin(1)).toBe(false);
  });

  test("open to everyone: anyone but the denied", async () => {
    const { repository } = memoryRules([["5", false]]);
    const access = createAccessService({ config: accessConfig({ everyone: true, explicit: false }), repository });
    expect(await access.isAllowed({ id: 4 })).toBe(true);
    expect(await access.isAllowed({ id: 5 })).toBe(false);
  });

  test("rules are read once per refresh period; this instance's own decision counts at once", async () => {
    let now = 0;
    const memory = memoryRules();
    const access = createAccessService({ config: accessConfig(), repository: memory.repository, refreshMs: 1_000, now: () => now });
    expect(await access.isAllowed({ id: 5 })).toBe(false);
    expect(await access.isAllowed({ id: 5 })).toBe(false);
    expect(memory.reads()).toBe(1);
    expect(await access.decide("5", true, 9)).toBe("5");
    expect(await access.isAllowed({ id: 5 })).toBe(true);
    // Another instance's decision shows up after the refresh period.
    memory.rules.set("6", { subject: "6", allowed: true, changedBy: 9n, changedAt: new Date() });
    expect(await access.isAllowed({ id: 6 })).toBe(false);
    now = 1_000;
    expect(await access.isAllowed({ id: 6 })).toBe(true);
    expect(await access.decide("not a user!", true, 9)).toBeNull();
  });

  test("a database that fails keeps the last rules in force; with none read yet the check fails", async () => {
    let now = 0;
    const memory = memoryRules([["5", true]]);
    const access = createAccessService({ config: accessConfig(), repository: memory.repository, refreshMs: 1_000, now: () => now });
    memory.fail(true);
    await expect(access.isAllowed({ id: 5 })).rejects.toThrow("database gone");
    memory.fail(false);
    expect(await access.isAllowed({ id: 5 })).toBe(true);
    memory.fail(true);
    now = 5_000;
    expect(await access.isAllowed({ id: 5 })).toBe(true);
  });
});

describe("group settings", () => {
  test("Telegram's answer about a group's admins is kept for the TTL, then asked again; a failure is not kept", async () => {
    let now = 0;
    const fetch = vi.fn(async (chatId: number) => (chatId === -1 ? [10, 11] : Promise.reject(new Error("chat not found"))));
    const admins = createChatAdmins({ fetch, ttlMs: 1_000, now: () => now });
    expect(await admins.isChatAdmin(-1, 10)).toBe(true);
    expect(await admins.isChatAdmin(-1, 12)).toBe(false);
    expect(fetch).toHaveBeenCalledTimes(1);
    now = 1_000;
    await admins.isChatAdmin(-1, 10);
    expect(fetch).toHaveBeenCalledTimes(2);
    await expect(admins.isChatAdmin(-2, 10)).rejects.toThrow("chat not found");
    await expect(admins.isChatAdmin(-2, 10)).rejects.toThrow("chat not found");
    expect(fetch).toHaveBeenCalledTimes(4);
  });

  test("private chats, bot admins, anonymous group admins and (if the operator says so) everyone may change settings", async () => {
    const chatAdmins = { isChatAdmin: vi.fn(async (_chat: number, user: number) => user === 10) };
    const policy = createSettingsPolicy({ by: "admins", isBotAdmin: (id) => id === 99, chatAdmins });
    expect(await policy.mayChange({ chatType: "private", chatId: 5, userId: 5 })).toBe(true);
    expect(await policy.mayChange({ chatType: "supergroup", chatId: -1, userId: 99 })).toBe(true);
    expect(await policy.mayChange({ chatType: "supergroup", chatId: -1, userId: 1087968824, senderChatId: -1 })).toBe(true);
    expect(await policy.mayChange({ chatType: "supergroup", chatId: -1, userId: 10 })).toBe(true);
    expect(await policy.mayChange({ chatType: "supergroup", chatId: -1, userId: 11 })).toBe(false);
    const open = createSettingsPolicy({ by: "everyone", isBotAdmin: () => false, chatAdmins });
    expect(await open.mayChange({ chatType: "group", chatId: -1, userId: 11 })).toBe(true);
  });
});

describe("daily limits", () => {
  const repo = (charged: { messages: number; tokens: number }) => {
    const read = vi.fn(async () => ({ ...charged, audioSeconds: 0, told: false }));
    const repository = {
      ofUser: async () => ({ today: none, month: none }),
      everyone: async () => [],
      charged: read,
      markTold: async () => false,
      reserve: async () => ({ ok: true as const, day: "2026-11-23", tokens: 0 }),
      settle: async () => undefined,
      recordAudio: async () => undefined,
    } satisfies UsageRepository;
    return { repository, read };
  };
  const none = { messages: 0, promptTokens: 0, completionTokens: 0, audioSeconds: 0 };
  const noon = new Date("2026-11-23T12:00:00Z");
  const at = { now: () => noon };

  test("over the message or token limit: refused until the next UTC midnight; admins and unlimited setups cost no query", async () => {
    const { repository, read } = repo({ messages: 10, tokens: 1000 });
    expect(await createUsageService(repository, { dailyMessages: 10, dailyTokens: null }, at).check(1)).toEqual({
      ok: false,
      limit: "daily_messages",
      max: 10,
      resetsAt: new Date("2026-11-24T00:00:00Z"),
      tell: true,
    });
    expect(await createUsageService(repository, { dailyMessages: 11, dailyTokens: 1000 }, at).check(1)).toMatchObject({ ok: false, limit: "daily_tokens" });
    expect(await createUsageService(repository, { dailyMessages: 11, dailyTokens: 1001 }, at).check(1)).toEqual({ ok: true });
    const calls = read.mock.calls.length;
    expect(await createUsageService(repository, { dailyMessages: 1, dailyTokens: 1 }, { ...at, isBotAdmin: () => true }).check(1)).toEqual({ ok: true });
    expect(await createUsageService(repository, { dailyMessages: null, dailyTokens: null }, at).check(1)).toEqual({ ok: true });
    expect(read.mock.calls.length).toBe(calls);
  });

  test("the reset time is told as the user would read it", () => {
    expect(nextUtcMidnight(new Date("2026-12-31T23:59:00Z"))).toEqual(new Date("2027-01-01T00:00:00Z"));
    const { textsFor } = createLanguages();
    const resetIn = (now: string, language = "en") => textsFor(language).overLimit({ limit: "daily_messages", max: 20, resetsAt: new Date("2026-11-24T00:00:00Z") }, new Date(now));
    expect(resetIn("2026-11-23T20:48:30Z")).toBe("You've reached today's limit of 20 messages. It resets at 00:00 UTC, in 3 h 12 min.");
    expect(resetIn("2026-11-23T23:59:59Z")).toMatch(/in 1 min\.$/);
    expect(resetIn("2026-11-23T22:00:00Z")).toMatch(/in 2 h\.$/);
    expect(resetIn("2026-11-23T20:48:30Z", "ru")).toBe("Вы исчерпали дневной лимит: 20 сообщений. Он обновится в 00:00 UTC, через 3 ч 12 мин.");
  });
});

describe("retention", () => {
  test("purges in batches until a batch comes back short, then waits for the next run", async () => {
    vi.useFakeTimers();
    try {
      const left = [1000, 1000, 300];
      const purgeDeleted = vi.fn(async (_days: number, limit: number) => Math.min(limit, left.shift() ?? 0));
      const retention = createRetention({ repository: { purgeDeleted }, days: 30, logger, batchSize: 1000, everyMs: 60_000, firstAfterMs: 1_000 });
      retention.start();
      expect(purgeDeleted).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1_000 + 200);
      expect(purgeDeleted.mock.calls).toEqual([[30, 1000], [30, 1000], [30, 1000]]);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(purgeDeleted).toHaveBeenCalledTimes(4);
      await retention.stop();
      await vi.advanceTimersByTimeAsync(120_000);
      expect(purgeDeleted).toHaveBeenCalledTimes(4);
    } finally {
      vi.useRealTimers();
    }
  });

  test("a failed run is logged and tried again at the next one", async () => {
    vi.useFakeTimers();
    try {
      const purgeDeleted = vi.fn().mockRejectedValueOnce(new Error("database gone")).mockResolvedValue(0);
      const retention = createRetention({ repository: { purgeDeleted }, days: 7, logger, everyMs: 10_000, firstAfterMs: 0 });
      retention.start();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(purgeDeleted).toHaveBeenCalledTimes(2);
      await retention.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
