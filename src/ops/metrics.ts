/**
 * What operators watch, in Prometheus' format (prom-client), on GET /metrics. One registry per
 * app (no global default registry), so tests and several apps in one process do not share counts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  /** New updates committed to the inbox. */
  updatesReceived(count: number): void;
  /** A turn that reached the model ended: answered, or failed with a reason. */
  turnEnded(outcome: "answered" | "failed", reason?: string): void;
  /** One model call that answered: its whole time, and the time to its first text. */
  modelCall(seconds: number, firstTextSeconds: number | undefined): void;
  /** Tokens an answer cost (estimated where the server reported none). */
  tokensUsed(model: string, prompt: number, completion: number): void;
  /** A turn refused before the model: the user is not allowed, or over a daily limit. */
  turnRefused(reason: "not_allowed" | "rate" | "daily_messages" | "daily_tokens" | "daily_audio" | "turn_tokens"): void;
  /** A Bot API call that failed: Telegram's error code, or "network" when it could not be reached. */
  telegramError(method: string, code: number | "network"): void;
  /** Read at each scrape: turns waiting in the inbox and the age of the oldest. */
  watchInbox(read: () => Promise<{ unfinished: number; oldestMs: number | null }>): void;
  /** Read at each scrape: database connections in use and requests waiting for one. */
  watchPool(read: () => { inUse: number; waiting: number }): void;
  readonly contentType: string;
  render(): Promise<string>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "parley_" });
  let readInbox: (() => Promise<{ unfinished: number; oldestMs: number | null }>) | undefined;
  let readPool: (() => { inUse: number; waiting: number }) | undefined;

  const updates = new Counter({ name: "parley_updates_received_total", help: "New updates committed to the inbox", registers: [registry] });
  const turns = new Counter({
    name: "parley_turns_total",
    help: "Turns that reached the model, by outcome (answered, failed) and failure reason",
    labelNames: ["outcome", "reason"] as const,
    registers: [registry],
  });
  const buckets = [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];
  const modelSeconds = new Histogram({ name: "parley_model_call_seconds", help: "Model call, request to last token", buckets, registers: [registry] });
  const firstText = new Histogram({ name: "parley_model_first_text_seconds", help: "Model call, request to first text", buckets, registers: [registry] });
  const tokens = new Counter({
    name: "parley_tokens_total",
    help: "Model tokens used by answers, by model and kind (prompt, completion)",
    labelNames: ["model", "kind"] as const,
    registers: [registry],
  });
  const refused = new Counter({
    name: "parley_turns_refused_total",
    help: "Messages refused before the model, by reason (not_allowed, daily_messages, daily_tokens)",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const telegramErrors = new Counter({
    name: "parley_telegram_api_errors_total",
    help: "Bot API calls that failed, by method and error code (network: Telegram unreachable)",
    labelNames: ["method", "code"] as const,
    registers: [registry],
  });
  const waiting = new Gauge({ name: "parley_inbox_waiting_turns", help: "Updates in the inbox not finished yet", registers: [registry] });
  const oldest = new Gauge({ name: "parley_inbox_oldest_waiting_seconds", help: "Age of the oldest unfinished update (0 when none)", registers: [registry] });
  const poolInUse = new Gauge({ name: "parley_db_pool_in_use", help: "Database connections in use (PostgreSQL store)", registers: [registry] });
  const poolWaiting = new Gauge({ name: "parley_db_pool_waiting", help: "Queries waiting for a database connection", registers: [registry] });

  return {
    updatesReceived: (count) => updates.inc(count),
    turnEnded: (outcome, reason) => turns.inc({ outcome, reason: reason ?? "" }),
    modelCall(seconds, firstTextSeconds) {
      modelSeconds.observe(seconds);
      if (firstTextSeconds !== undefined) firstText.observe(firstTextSeconds);
    },
    tokensUsed(model, prompt, completion) {
      tokens.inc({ model, kind: "prompt" }, prompt);
      tokens.inc({ model, kind: "completion" }, completion);
    },
    turnRefused: (reason) => refused.inc({ reason }),
    telegramError: (method, code) => telegramErrors.inc({ method, code: String(code) }),
    watchInbox: (read) => (readInbox = read),
    watchPool: (read) => (readPool = read),
    contentType: registry.contentType,
    async render() {
      // Gauges read at scrape time: a database that does not answer leaves them as they were.
      if (readInbox) {
        const backlog = await readInbox().catch(() => undefined);
        if (backlog) {
          waiting.set(backlog.unfinished);
          oldest.set((backlog.oldestMs ?? 0) / 1000);
        }
      }
      if (readPool) {
        const pool = readPool();
        poolInUse.set(pool.inUse);
        poolWaiting.set(pool.waiting);
      }
      return registry.metrics();
    },
  };
}
