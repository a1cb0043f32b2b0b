import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.ts";

export type { Logger };

const REDACTED = "[REDACTED]";

/**
 * Structured JSON logs on stdout. Secrets are scrubbed from every line as it is written, so
 * a token hidden inside an error message (fetch errors carry the full Bot API URL) cannot leak.
 */
export function createLogger(options: {
  level: LogLevel;
  secrets: readonly string[];
  destination?: DestinationStream;
}): Logger {
  // Very short values would garble ordinary words; real tokens, keys and passwords are longer.
  const secrets = options.secrets.filter((s) => s.length >= 6);
  const scrub = (line: string) => secrets.reduce((out, secret) => out.replaceAll(secret, REDACTED), line);
  return pino(
    {
      level: options.level,
      base: { app: "parley" },
      redact: { paths: ["token", "apiKey", "*.token", "*.apiKey", "config.telegram.token", "config.openai.apiKey"], censor: REDACTED },
      hooks: { streamWrite: scrub },
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
