/**
 * A turn's charge against its payer's daily limits: admitted in one statement before the model is
 * called (the request counted with a real tokenizer when tokens are limited), the answer counted
 * as it streams when tokens are limited, then settled to what the call cost. Every call that was
 * made is counted: by what the server reported, or else by the count or the estimate.
 */
import type { Logger } from "pino";
import type { AnswerUsage } from "../domain/messages.ts";
import type { LimitVerdict, UsageService } from "../limits/usage.service.ts";
import { estimateUsage, type ModelMessage, type TokenUsage } from "../llm/client.ts";
import { loadTokenCounter, type TokenCounter } from "../llm/tokens.ts";

export interface TurnCharge {
  /** The answer's tokens as they stream, when the payer's tokens are limited: true once they run out. */
  spend(delta: string): boolean;
  /** What the call cost: as the server reported it (`reported`), or else as counted here. */
  usage(turns: ModelMessage[], answer: string, reported: TokenUsage | undefined): AnswerUsage;
  /** Ends the charge: what the call cost instead of what was reserved; no answer, no message. */
  settle(answered: boolean, usage: AnswerUsage): void;
}

export type TurnAdmission = { kind: "admitted"; charge: TurnCharge } | { kind: "refused"; verdict: Extract<LimitVerdict, { ok: false }> };

type Limits = Pick<UsageService, "admit" | "settle" | "tokensLimited">;

/** What a call cost: as the server reported it, else as `counter` counted it (when tokens are limited), else estimated. */
const usageOf =
  (model: string, counter: TokenCounter | undefined, reserved: number): TurnCharge["usage"] =>
  (turns, answer, reported) =>
    reported
      ? { model, ...reported, estimated: false }
      : counter
        ? { model, promptTokens: reserved, completionTokens: counter.count(answer), estimated: true }
        : { model, ...estimateUsage(turns, answer), estimated: true };

/** No limits: nothing reserved, nothing settled. */
const free = (model: string): TurnCharge => ({ spend: () => false, usage: usageOf(model, undefined, 0), settle: () => undefined });

/** Charges the turn before its model call; throws when the database cannot be reached. */
export async function admitTurn(limits: Limits | undefined, payer: number, turns: ModelMessage[], model: string, log: Logger): Promise<TurnAdmission> {
  if (!limits) return { kind: "admitted", charge: free(model) };
  let counter: TokenCounter | undefined;
  let reserved = 0;
  if (limits.tokensLimited(payer)) {
    counter = await loadTokenCounter();
    reserved = counter.countTurns(turns);
  }
  const admission = await limits.admit(payer, reserved);
  if (!admission.ok) return { kind: "refused", verdict: admission };
  const { day, tokensLeft } = admission;
  let spent = 0;
  return {
    kind: "admitted",
    charge: {
      spend(delta) {
        if (!counter || !Number.isFinite(tokensLeft)) return false;
        spent += counter.count(delta);
        return spent >= tokensLeft;
      },
      usage: usageOf(model, counter, reserved),
      settle(answered, usage) {
        if (day === null) return;
        const delta = { messages: answered ? 0 : -1, tokens: usage.promptTokens + usage.completionTokens - reserved };
        limits.settle(payer, day, delta).catch((error: unknown) => log.warn({ err: error }, "could not settle the turn's charge; it stays as reserved"));
      },
    },
  };
}
