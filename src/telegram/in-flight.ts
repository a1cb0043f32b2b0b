import type { Context, MiddlewareFn } from "grammy";

/**
 * Tracks the updates being handled, so shutdown can wait for them. (@grammyjs/runner's stop()
 * only ends polling: its concurrent sink does not wait for running middleware.)
 */
export interface InFlightTracker {
  middleware: MiddlewareFn<Context>;
  /** Resolves when every update being handled (or queued behind one of its chat) is done. */
  drain(): Promise<void>;
  size(): number;
}

export function createInFlightTracker(): InFlightTracker {
  const running = new Set<Promise<void>>();
  return {
    middleware: (_ctx, next) => {
      const handling = next();
      running.add(handling);
      handling.then(
        () => running.delete(handling),
        () => running.delete(handling), // the error itself goes to bot.catch
      );
      return handling;
    },
    async drain() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    size: () => running.size,
  };
}
