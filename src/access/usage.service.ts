import type { UsageRepository, UsageRow, UserUsage } from "../db/usage.repository.ts";

export interface DailyLimits {
  dailyMessages: number | null;
  dailyTokens: number | null;
}

export type LimitVerdict =
  | { ok: true }
  | { ok: false; limit: "daily_messages" | "daily_tokens"; max: number; resetsAt: Date };

export interface UsageService {
  readonly limits: DailyLimits;
  /** May this user have another answer today? Admins and unlimited setups cost no query. */
  check(userId: number, isAdmin: boolean): Promise<LimitVerdict>;
  ofUser(userId: number): Promise<UserUsage>;
  everyone(): Promise<UsageRow[]>;
}

/** The next midnight, UTC: when daily counts start again. */
export function nextUtcMidnight(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

export function createUsageService(repository: UsageRepository, limits: DailyLimits, now: () => Date = () => new Date()): UsageService {
  const limited = limits.dailyMessages !== null || limits.dailyTokens !== null;
  return {
    limits,
    async check(userId, isAdmin) {
      if (!limited || isAdmin) return { ok: true };
      // Counted in the database, so the limit holds whichever instance answers. Turns of one user
      // in several chats at once can each pass this check: the overshoot is at most those turns.
      const { today } = await repository.ofUser(userId);
      const resetsAt = nextUtcMidnight(now());
      if (limits.dailyMessages !== null && today.messages >= limits.dailyMessages) {
        return { ok: false, limit: "daily_messages", max: limits.dailyMessages, resetsAt };
      }
      if (limits.dailyTokens !== null && today.promptTokens + today.completionTokens >= limits.dailyTokens) {
        return { ok: false, limit: "daily_tokens", max: limits.dailyTokens, resetsAt };
      }
      return { ok: true };
    },
    ofUser: (userId) => repository.ofUser(userId),
    everyone: () => repository.everyone(50),
  };
}
