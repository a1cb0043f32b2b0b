import { AsyncLocalStorage } from "node:async_hooks";
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.ts";

export type { Logger };

const REDACTED = "[REDACTED]";

/**
 * Fields every log line written inside `run` carries, whoever writes it (the turn's update id
 * on every line of a turn, down to the database retries and Telegram errors).
 */
export interface LogContext {
  run<T>(fields: Record<string, unknown>, fn: () => T): T;
  fields(): Record<string, unknown>;
}

export function createLogContext(): LogContext {
  const storage = new AsyncLocalStorage<Record<string, unknown>>();
  const none = {};
  return { run: (fields, fn) => storage.run(fields, fn), fields: () => storage.getStore() ?? none };
}

/**
 * Structured JSON logs on stdout. Secrets are scrubbed from every line as it is written, so
 * a token hidden inside an error message (fetch errors carry the full Bot API URL) cannot leak.
 */
export function createLogger(options: {
  level: LogLevel;
  secrets: readonly string[];
  destination?: DestinationStream;
  context?: LogContext;
}): Logger {
  // Very short values would garble ordinary words; real tokens, keys and passwords are longer.
  // A line is JSON, so a secret with a quote or a backslash appears escaped in it; in a URL (a
  // connection string inside an error) it appears percent-encoded. Longest first, so a form that
  // contains another is replaced whole.
  const secrets = [
    ...new Set(options.secrets.filter((s) => s.length >= 6).flatMap((s) => [s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s)])),
  ].sort((a, b) => b.length - a.length);
  const scrub = (line: string) => secrets.reduce((out, secret) => out.replaceAll(secret, REDACTED), line);
  return pino(
    {
      level: options.level,
      base: { app: "parley" },
      redact: { paths: ["token", "apiKey", "*.token", "*.apiKey", "config.telegram.token", "config.openai.apiKey"], censor: REDACTED },
      hooks: { streamWrite: scrub },
      ...(options.context ? { mixin: options.context.fields } : {}),
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/**
 * One warning when something (Telegram, the database) stops answering, and one when it is back,
 * with how long it was gone: never a line per retry.
 */
export interface OutageLog {
  failed(error: unknown): void;
  succeeded(): void;
}

export function createOutageLog(logger: Logger, what: string): OutageLog {
  let since: number | undefined;
  return {
    failed(error) {
      if (since !== undefined) return;
      since = Date.now();
      logger.warn({ err: error }, `${what} unreachable; retrying`);
    },
    succeeded() {
      if (since === undefined) return;
      const outageMs = Date.now() - since;
      since = undefined;
      logger.warn({ outageMs }, `${what} reachable again after ${(outageMs / 1000).toFixed(1)} s`);
    },
  };
}
