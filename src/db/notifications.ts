import pg from "pg";
import type { Logger } from "../logger.ts";

export interface Listener {
  close(): Promise<void>;
}

/**
 * LISTEN on channels over one connection of its own (a pooled one cannot hold a LISTEN), and
 * reconnect when it drops. A missed notification only costs latency: workers also look on a timer.
 * After each (re)connect every handler is called once with "" (look now: something may have been
 * sent while not listening).
 */
export function listen(url: string, channels: Record<string, (payload: string) => void>, logger: Logger): Listener {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async () => {
    const current = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    client = current;
    current.on("notification", (message) => channels[message.channel]?.(message.payload ?? ""));
    current.on("error", (error) => {
      logger.debug({ err: error }, "notification connection lost; reconnecting");
      reconnect(current);
    });
    try {
      await current.connect();
      for (const channel of Object.keys(channels)) await current.query(`listen ${channel}`);
      for (const onNotify of Object.values(channels)) onNotify(""); // anything sent while not listening is looked for now
    } catch (error) {
      logger.debug({ err: error }, "could not listen for notifications; retrying");
      reconnect(current);
    }
  };
  const reconnect = (failed: pg.Client) => {
    if (closed || client !== failed || retry) return;
    failed.end().catch(() => undefined);
    retry = setTimeout(() => {
      retry = undefined;
      if (!closed) void connect();
    }, 1_000);
  };

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
