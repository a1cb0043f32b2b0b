import DataLoader from "dataloader";

export interface BatchOptions {
  /** Statements of this kind running at once; requests made meanwhile wait and go together. */
  maxInFlight: number;
  maxBatchSize: number;
  /**
   * Collect for this long before sending (instead of the end of the event loop's turn): for
   * statements nobody waits on, whose requests arrive spread out (a turn's end comes after its
   * paced delivery, 1/n s after the previous one's), so each would otherwise go alone.
   */
  collectMs?: number;
}

/**
 * After the callbacks of this turn of the event loop: model replies and Telegram responses that
 * came in together each run their own callback, so waiting only for the promise jobs (what
 * DataLoader does) sent one statement per turn. On the embedded store a statement runs on this
 * thread and nothing else can arrive while it runs, so without this wait nothing ever went
 * together: 1 000 turns were 1 000 statements of each kind; now about a dozen (doc/benchmarks.md).
 */
const soon = (fn: () => void) => void setImmediate(fn);

/**
 * Group commit for one kind of statement: a request made while the store is idle goes out at
 * the end of the event loop's turn (no timer), with the others made in that turn, and the
 * requests made while `maxInFlight` statements are running wait for one to end and then go out
 * together, as one statement. Under load (a burst of turns)
 * that turns hundreds of round trips into a few, and spares the database and the event loop
 * the same amount of work. DataLoader does the collecting and the fan-out of results; this
 * only decides when a collected batch is sent.
 *
 * `run` gets the requests in order and returns one result per request, in the same order.
 */
export function batchWhileBusy<Request, Result>(
  run: (requests: readonly Request[]) => Promise<Result[]>,
  options: BatchOptions,
): (request: Request) => Promise<Result> {
  let busy = 0; // batches sent or about to be
  const waiting: Array<() => void> = [];
  const loader = new DataLoader<Request, Result>(
    async (requests) => {
      try {
        return await run(requests);
      } finally {
        // The slot passes to the oldest waiting batch, which has been collecting meanwhile.
        const next = waiting.shift();
        if (next) soon(next);
        else busy--;
      }
    },
    {
      cache: false,
      maxBatchSize: options.maxBatchSize,
      // Called once per new batch: send it after the current burst (DataLoader's own collecting window)
      // if there is room, or when a running statement ends.
      batchScheduleFn: (send) => {
        if (busy < options.maxInFlight) {
          busy++;
          if (options.collectMs) setTimeout(send, options.collectMs);
          else soon(send);
        } else {
          waiting.push(send);
        }
      },
    },
  );
  return (request) => loader.load(request);
}
