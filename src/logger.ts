import { AsyncLocalStorage } from "node:async_hooks";
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.ts";

export type { Logger };

const REDACTED = "[REDACTED]";
/** A password this long is no ordinary word: scrubbed wherever it appears. */
const PASSWORD_ANYWHERE = 12;

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
  // A fresh object for every line: pino merges a line's own fields into what the mixin returns,
  // and a shared object would carry them on to every later line (and the stored one to the rest
  // of the turn).
  return { run: (fields, fn) => storage.run({ ...fields }, fn), fields: () => ({ ...storage.getStore() }) };
}

/**
 * What is logged of an error: what it is and why (type, message, stack, codes, Telegram's
 * description, the model server's status), never what was being sent or received. grammY's
 * GrammyError carries the request's parameters (`payload`: the answer's text), openai's APIError
 * the response body (`error`) and headers; a BotError its whole update. Only the fields below are
 * kept, and only as plain values; causes (and an AggregateError's errors) are described the same way.
 */
const ERROR_FIELDS = [
  "code",
  "errno",
  "syscall",
  "address",
  "port",
  "method", // the Bot API method that failed
  "error_code",
  "description",
  "status",
  "failure",
  "requestID",
  "param",
  "severity",
  "routine",
  "schema",
  "table",
  "column",
  "constraint",
] as const;
const MAX_ERROR_DEPTH = 5;

function describeError(value: unknown, depth = 0, seen = new Set<unknown>()): unknown {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return value;
  if (seen.has(value) || depth > MAX_ERROR_DEPTH) return "[…]";
  seen.add(value);
  const error = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const type = (value as { constructor?: { name?: unknown } }).constructor?.name;
  out.type = typeof type === "string" && type !== "Object" ? type : typeof error.type === "string" ? error.type : "Object";
  for (const key of ["message", "stack", "name"] as const) {
    if (typeof error[key] === "string") out[key] = error[key];
  }
  for (const key of ERROR_FIELDS) {
    const field = error[key];
    if (typeof field === "string" || typeof field === "number" || typeof field === "boolean") out[key] = field;
  }
  // Telegram's parameters: numbers only (retry_after, migrate_to_chat_id).
  if (typeof error.parameters === "object" && error.parameters !== null) {
    const numbers = Object.entries(error.parameters).filter(([, v]) => typeof v === "number");
    if (numbers.length > 0) out.parameters = Object.fromEntries(numbers);
  }
  // grammY's HttpError wraps the network error as `error`; openai's APIError keeps the response body there.
  if (error.error instanceof Error) out.error = describeError(error.error, depth + 1, seen);
  if (error.cause !== undefined) out.cause = describeError(error.cause, depth + 1, seen);
  if (Array.isArray(error.errors)) out.errors = error.errors.slice(0, 10).map((e) => describeError(e, depth + 1, seen));
  return out;
}

/** An error under any other key of a line is described the same way (never serialized whole). */
const ERROR_KEYS = new Set(["err", "error"]);
const describeErrors = (line: Record<string, unknown>) => {
  let out = line;
  for (const [key, value] of Object.entries(line)) {
    if (value instanceof Error && !ERROR_KEYS.has(key)) {
      if (out === line) out = { ...line };
      out[key] = describeError(value);
    }
  }
  return out;
};

/**
 * Structured JSON logs on stdout. Secrets are scrubbed from every line as it is written, so
 * a token hidden inside an error message (fetch errors carry the full Bot API URL) cannot leak.
 */
export function createLogger(options: {
  level: LogLevel;
  /** Scrubbed wherever they appear (tokens, keys). */
  secrets: readonly string[];
  /**
   * Scrubbed where they stand as a password, in a URL's `user:password@`; anywhere too when at
   * least PASSWORD_ANYWHERE characters long. A short one may be a word: the compose file's database
   * password is "parley", and scrubbing it everywhere turned every line's "app" into [REDACTED].
   */
  passwords?: readonly string[];
  destination?: DestinationStream;
  context?: LogContext;
}): Logger {
  // Very short values would garble ordinary words; real tokens, keys and passwords are longer.
  // A line is JSON, so a secret with a quote or a backslash appears escaped in it; in a URL (a
  // connection string inside an error) it appears percent-encoded. Longest first, so a form that
  // contains another is replaced whole.
  const passwords = options.passwords ?? [];
  const anywhere = [...options.secrets.filter((s) => s.length >= 6), ...passwords.filter((p) => p.length >= PASSWORD_ANYWHERE)];
  const secrets = [...new Set(anywhere.flatMap((s) => [s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s)]))].sort((a, b) => b.length - a.length);
  const inUrls = [...new Set(passwords.flatMap((p) => [p, encodeURIComponent(p)]))].map((p) => `:${JSON.stringify(p).slice(1, -1)}@`);
  const scrub = (line: string) =>
    inUrls.reduce((out, form) => out.replaceAll(form, `:${REDACTED}@`), secrets.reduce((out, secret) => out.replaceAll(secret, REDACTED), line));
  return pino(
    {
      level: options.level,
      base: { app: "parley" },
      redact: { paths: ["token", "apiKey", "*.token", "*.apiKey", "config.telegram.token", "config.openai.apiKey"], censor: REDACTED },
      hooks: { streamWrite: scrub },
      serializers: { err: describeError, error: describeError },
      formatters: { log: describeErrors },
      ...(options.context ? { mixin: options.context.fields } : {}),
      // A new object for each line: neither the context's nor the line's own is written into.
      mixinMergeStrategy: (mergeObject: object, mixinObject: object) => ({ ...mixinObject, ...mergeObject }),
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
