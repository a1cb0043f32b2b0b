/**
 * Usage: the answers, tokens and speech a user was counted for (what /usage shows, for one user
 * or everyone), and what a turn charges against the daily limits, and those limits.
 */

export interface UsageTotals {
  messages: number;
  promptTokens: number;
  completionTokens: number;
  /** Speech transcribed, in seconds. */
  audioSeconds: number;
}

export interface UserUsage {
  today: UsageTotals;
  month: UsageTotals;
}

export interface UsageRow extends UserUsage {
  userId: bigint;
  username: string | null;
  firstName: string | null;
}

/** What one turn (or one transcription) charges against a user's daily limits. */
export interface Charge {
  messages: number;
  tokens: number;
  audioSeconds: number;
}

/** Daily limits; null: unlimited. */
export interface LedgerLimits {
  messages: number | null;
  tokens: number | null;
  audioSeconds: number | null;
}
