import type { Transformer } from "grammy";
import type { Metrics } from "../ops/metrics.ts";

export interface ApiObserver {
  /** Installed on every Bot API client: counts failed calls by method and code. */
  transformer: Transformer;
  /** Whether the last Bot API call reached Telegram (any answer, even an error, is reaching it). */
  reachable(): boolean;
}

export function observeApi(metrics: Metrics): ApiObserver {
  let reachable = true; // start-up's getMe got through, or the app would not be running
  const transformer: Transformer = async (prev, method, payload, signal) => {
    try {
      const result = await prev(method, payload, signal);
      reachable = true;
      if (!result.ok) metrics.telegramError(method, result.error_code);
      return result;
    } catch (error) {
      if (!signal?.aborted) {
        // Our own abort (a stop, a long poll ended) is not Telegram being away.
        reachable = false;
        metrics.telegramError(method, "network");
      }
      throw error;
    }
  };
  return { transformer, reachable: () => reachable };
}
