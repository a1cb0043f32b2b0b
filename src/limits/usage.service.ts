import type { UsageRepository } from "../db/usage.repository.ts";
import type { Charge, UsageRow, UserUsage } from "../domain/usage.ts";

export interface DailyLimits {
  dailyMessages: number | null;
  dailyTokens: number | null;
  dailyAudioSeconds?: number | null;
}

/** Which limit refused a turn. "turn_tokens": this turn alone needs more tokens than are left today. */
export type LimitName = "daily_messages" | "daily_tokens" | "daily_audio" | "turn_tokens";

export type LimitVerdict =
  | { ok: true }
  | {
      ok: false;
      limit: LimitName;
      max: number;
      resetsAt: Date;
      /** Tokens left today (turn_tokens), and what the turn needed. */
      left?: number;
      needed?: number;
      /** Tell the user: the first refusal of the day (a turn too big for what is left: every time). */
      tell: boolean;
    };

/** A charge taken: the day it is on (to settle it), and the tokens left after it (Infinity: no token limit). */
export type Admission = { ok: true; day: string | null; tokensLeft: number } | Extract<LimitVerdict, { ok: false }>;

export interface UsageService {
  readonly limits: DailyLimits;
  /** Whether daily limits apply to this user at all (admins are exempt, and an unlimited setup has none). */
  applies(userId: number): boolean;
  /** Whether the user's tokens are limited: only then are requests counted before they are sent. */
  tokensLimited(userId: number): boolean;
  /** May this user have another answer today (nothing left: refused)? Admins and unlimited setups cost no query. */
  check(userId: number): Promise<LimitVerdict>;
  /** Charges a turn (one answer, `tokens` of request) before the model is called, atomically; or refuses it. */
  admit(userId: number, tokens: number): Promise<Admission>;
  /** Corrects an admitted turn's charge once the model has answered (or not). */
  settle(userId: number, day: string | null, delta: { messages: number; tokens: number }): Promise<void>;
  /** Charges speech to transcribe (seconds) before it is sent, and counts it for /usage. */
  chargeAudio(userId: number, seconds: number, model: string): Promise<LimitVerdict>;
  ofUser(userId: number): Promise<UserUsage>;
  everyone(): Promise<UsageRow[]>;
}

/** The next midnight, UTC: when daily counts start again. */
export function nextUtcMidnight(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

export function createUsageService(
  repository: UsageRepository,
  limits: DailyLimits,
  options: { isBotAdmin?: (userId: number) => boolean; now?: () => Date } = {},
): UsageService {
  const isBotAdmin = options.isBotAdmin ?? (() => false);
  const now = options.now ?? (() => new Date());
  const ledger = { messages: limits.dailyMessages, tokens: limits.dailyTokens, audioSeconds: limits.dailyAudioSeconds ?? null };
  const limited = ledger.messages !== null || ledger.tokens !== null || ledger.audioSeconds !== null;
  const applies = (userId: number) => limited && !isBotAdmin(userId);

  /** Why `charge` does not fit beside `before`, and whether to say so. */
  const refusal = (before: Charge, charge: Charge, toldBefore: boolean): Extract<LimitVerdict, { ok: false }> => {
    const resetsAt = nextUtcMidnight(now());
    if (ledger.messages !== null && before.messages + charge.messages > ledger.messages) {
      return { ok: false, limit: "daily_messages", max: ledger.messages, resetsAt, tell: !toldBefore };
    }
    if (ledger.tokens !== null && before.tokens + charge.tokens > ledger.tokens) {
      // Tokens left, but fewer than this turn needs: say how many, whenever it happens.
      if (before.tokens < ledger.tokens && charge.tokens > 0) {
        return { ok: false, limit: "turn_tokens", max: ledger.tokens, resetsAt, left: ledger.tokens - before.tokens, needed: charge.tokens, tell: true };
      }
      return { ok: false, limit: "daily_tokens", max: ledger.tokens, resetsAt, tell: !toldBefore };
    }
    return { ok: false, limit: "daily_audio", max: ledger.audioSeconds ?? 0, resetsAt, tell: !toldBefore };
  };

  return {
    limits,
    applies,
    tokensLimited: (userId) => ledger.tokens !== null && !isBotAdmin(userId),

    async check(userId) {
      if (!applies(userId)) return { ok: true };
      // Counted in the database (reservations of turns still running included), so the answer holds
      // whichever instance asks.
      const charged = await repository.charged(userId);
      const fits = (ledger.messages === null || charged.messages + 1 <= ledger.messages) && (ledger.tokens === null || charged.tokens + 1 <= ledger.tokens);
      if (fits) return { ok: true };
      return refusal(charged, { messages: 1, tokens: 1, audioSeconds: 0 }, charged.told || (await repository.markTold(userId)));
    },

    async admit(userId, tokens) {
      if (!applies(userId)) return { ok: true, day: null, tokensLeft: Number.POSITIVE_INFINITY };
      const charge = { messages: 1, tokens, audioSeconds: 0 };
      const taken = await repository.reserve(userId, charge, ledger);
      if (!taken.ok) return refusal(taken.before, charge, taken.toldBefore);
      return { ok: true, day: taken.day, tokensLeft: ledger.tokens === null ? Number.POSITIVE_INFINITY : ledger.tokens - taken.tokens };
    },

    async settle(userId, day, delta) {
      if (day === null) return;
      await repository.settle(userId, day, delta);
    },

    async chargeAudio(userId, seconds, model) {
      if (applies(userId) && ledger.audioSeconds !== null) {
        const charge = { messages: 0, tokens: 0, audioSeconds: seconds };
        const taken = await repository.reserve(userId, charge, { messages: null, tokens: null, audioSeconds: ledger.audioSeconds });
        if (!taken.ok) return refusal(taken.before, charge, taken.toldBefore);
      }
      await repository.recordAudio(userId, model, seconds);
      return { ok: true };
    },

    ofUser: (userId) => repository.ofUser(userId),
    everyone: () => repository.everyone(50),
  };
}
