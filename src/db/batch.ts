import DataLoader from "dataloader";

export interface BatchOptions {
  /** Statements of this kind running at once; requests made meanwhile wait and go together. */
  maxInFlight: number;
  maxBatchSize: number;
}

/** After the promise jobs queued now: what DataLoader itself waits for, so one burst goes together. */
const soon = (fn: () => void) => void Promise.resolve().then(() => process.nextTick(fn));

/**
 * Group commit for one kind of statement: a request made while the store is idle goes out at
 * once (no added latency), and the requests made while `maxInFlight` statements are running
 * wait for one to end and then go out together, as one statement. Under load (a burst of turns)
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
          soon(send);
        } else {
          waiting.push(send);
        }
      },
    },
  );
  return (request) => loader.load(request);
}
