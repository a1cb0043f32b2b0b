/**
 * The durable path's figures (issue: no message lost or answered twice): inbox throughput and
 * pick-up latency in-process, and the bot process against the fakes — 1 000 chats at once with a
 * 2 s model, database round trips and bot CPU per turn, both measured from outside the bot.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import pg from "pg";
import { pino } from "pino";
import { createDatabase } from "../src/db/connection.ts";
import { createInboxRepository, INBOX_CHANNEL, type IncomingUpdate } from "../src/db/inbox.repository.ts";
import { listen } from "../src/db/notifications.ts";
import { createInboxWorker } from "../src/inbox/worker.ts";
import { lastUserText } from "../tests/fakes/openai-server.ts";
import { migrate } from "../tests/helpers/audit.ts";
import { createTempPglite, createTempPostgres } from "../tests/helpers/stores.ts";
import { createWorld, person } from "../tests/helpers/world.ts";

export interface Figure {
  what: string;
  value: number;
  unit: string;
  /** The goal: at most (≤) or at least (≥) this; none for figures reported for information. */
  goal?: { op: "≤" | "≥"; limit: number };
  digits?: number;
}

const silent = pino({ level: "silent" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;

const update = (i: number, chats: number): IncomingUpdate => ({
  updateId: i,
  chatId: 1 + (i % chats),
  threadId: null,
  messageId: i,
  payload: { update_id: i, message: { message_id: i, chat: { id: 1 + (i % chats), type: "private" }, text: "hi" } },
});

/** Ingest → claim → finish with a handler that does nothing else, and the pick-up latency. */
export async function benchInbox(kind: "pglite" | "postgres"): Promise<Figure[]> {
  const store = kind === "postgres" ? await createTempPostgres() : createTempPglite();
  await migrate(store.config);
  const db = createDatabase(store.config);
  const inbox = createInboxRepository(db);
  const figures: Figure[] = [];
  try {
    // Throughput: 5 000 updates over 1 000 chats, ingested in Telegram's batches of 100.
    const total = 5_000;
    let finished = 0;
    let allDone!: () => void;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    const worker = createInboxWorker({
      inbox,
      owner: "bench",
      leaseMs: 30_000,
      maxConcurrent: 1_000,
      logger: silent,
      handle: async (row) => {
        await inbox.finish(row.updateId, "bench", "done");
        if (++finished === total) allDone();
      },
    });
    worker.start();
    const started = performance.now();
    for (let i = 1; i <= total; i += 100) {
      await inbox.ingest(Array.from({ length: 100 }, (_, k) => update(i + k, 1_000)));
      worker.wake();
    }
    await done;
    const seconds = (performance.now() - started) / 1000;
    await worker.stop();
    figures.push({ what: `${kind}: inbox throughput (ingest → claim → finish, no model), 1 000 chats`, value: total / seconds, unit: "turns/s", goal: kind === "postgres" ? { op: "≥", limit: 1_000 } : undefined, digits: 0 });

    // Pick-up latency: one update at a time into an idle worker. On PostgreSQL the update comes
    // from another connection (another instance) and the worker learns of it by LISTEN/NOTIFY.
    const samples: number[] = [];
    let picked: (() => void) | undefined;
    const latencyWorker = createInboxWorker({
      inbox,
      owner: "bench-latency",
      leaseMs: 30_000,
      maxConcurrent: 1_000,
      logger: silent,
      handle: async (row) => {
        picked?.();
        await inbox.finish(row.updateId, "bench-latency", "done");
      },
    });
    latencyWorker.start();
    const other = kind === "postgres" ? createDatabase(store.config) : undefined; // its own pool
    const listener = kind === "postgres" ? listen((store.config as { url: string }).url, { [INBOX_CHANNEL]: () => latencyWorker.wake() }, silent) : undefined;
    await sleep(500); // the LISTEN connection is up
    const ingester = createInboxRepository(other ?? db);
    for (let i = 0; i < 200; i++) {
      const seen = new Promise<number>((resolve) => (picked = () => resolve(performance.now())));
      await ingester.ingest([update(100_000 + i, 1_000_000)]);
      const committed = performance.now();
      if (!other) latencyWorker.wake(); // in one process, the ingest wakes the worker directly
      samples.push((await seen) - committed);
      await sleep(5);
    }
    await latencyWorker.stop();
    await listener?.close();
    await other?.destroy();
    figures.push({ what: `${kind}: pick-up latency, inbox commit → turn starts${kind === "postgres" ? " (another instance, LISTEN/NOTIFY)" : ""}, p50`, value: median(samples), unit: "ms", goal: { op: "≤", limit: 20 } });
  } finally {
    await db.destroy();
    await store.drop();
  }
  return figures;
}

/**
 * A TCP proxy in front of PostgreSQL that counts the bot's round trips: each Sync (the end of an
 * extended-protocol query) and each simple Query the client sends is one.
 */
async function countingProxy(target: URL): Promise<{ url(dbUrl: string): string; roundTrips(): number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let buffer = Buffer.alloc(0);
    let started = false;
    client.on("data", (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        if (!started) {
          if (buffer.length < 4) break;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) break;
          buffer = buffer.subarray(length);
          started = true;
          continue;
        }
        if (buffer.length < 5) break;
        const length = buffer.readInt32BE(1);
        if (buffer.length < length + 1) break;
        const type = String.fromCharCode(buffer[0]!);
        if (type === "S" || type === "Q") count++;
        buffer = buffer.subarray(length + 1);
      }
      upstream.write(data);
    });
    upstream.on("data", (data) => client.write(data));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url(dbUrl) {
      const url = new URL(dbUrl);
      url.hostname = "127.0.0.1";
      url.port = String(port);
      return url.toString();
    },
    roundTrips: () => count,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** utime + stime of a process, in ms (from /proc, i.e. from outside the process). */
/** A process's resident memory (or, with "VmHWM", its peak so far), from /proc: measured from outside. */
export function residentMb(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // fields 14 and 15, USER_HZ = 100
}

/**
 * The bot process on a store, its own work (Telegram's limits off: bench/bounded.ts has them),
 * warmed up by 50 turns: 1 000 new chats write at once to a model that
 * takes 2 s. Then, started again behind the counting proxy (which would slow the first wave down, being
 * in this process), 1 000 more to an instant model for CPU and round trips per turn, and turns of
 * one chat at a time for the round trips of a turn that shares no statement.
 */
export async function benchBotTurns(kind: "pglite" | "postgres"): Promise<Figure[]> {
  const world = await createWorld();
  // The bot's own work, not Telegram's limits (bench/bounded.ts measures those): a fake without
  // flood limits, and a budget of sends that never binds.
  world.tg.floodLimits = null;
  const store = kind === "postgres" ? await createTempPostgres() : undefined;
  const figures: Figure[] = [];
  let proxy: Awaited<ReturnType<typeof countingProxy>> | undefined;
  // Straight to the database, past the proxy: the bench's own queries do not count.
  const admin = store ? new pg.Client({ connectionString: (store.config as { url: string }).url }) : undefined;
  try {
    const env: Record<string, string> = { LOG_LEVEL: "info", TELEGRAM_SENDS_PER_SECOND: "1000" }; // as operators run it, Telegram's limits aside
    if (store) {
      await migrate(store.config);
      env.DATABASE_URL = (store.config as { url: string }).url;
      await admin!.connect();
    }
    /** Until every turn is recorded as ended (PGlite, locked by the bot, cannot be asked: a pause). */
    const drained = async () => {
      if (!admin) return sleep(1_500);
      for (;;) {
        const { rows } = await admin.query<{ n: number }>("select count(*)::int as n from inbox where state in ('received', 'working', 'answered')");
        if (rows[0]!.n === 0) return;
        await sleep(50);
      }
    };
    const chats = Array.from({ length: 1_000 }, (_, i) => person(`Load${i}`));
    const answeredAll = (round: number) => chats.every(({ chat }) => world.tg.messagesIn(chat.id).length === round);

    let bot = await world.startBot(env);
    // A bot that has been up for a moment (its code compiled by V8), not one in its first second.
    const warmUp = Array.from({ length: 50 }, (_, i) => person(`Warm${i}`));
    world.ai.respondWith((request) => ({ kind: "answer", chunks: [`Re: ${lastUserText(request)}`], latencyMs: 200 }));
    for (const { chat, user } of warmUp) world.tg.userSends(chat, user, "warm-up");
    await world.tg.waitFor(() => warmUp.every(({ chat }) => world.tg.messagesIn(chat.id).length === 1), "50 warm-up answers", 60_000);
    await drained();
    world.ai.reset(); // counts from here
    world.ai.respondWith((request) => ({ kind: "answer", chunks: [`Re: ${lastUserText(request)}`], latencyMs: 2_000 }));
    const started = performance.now();
    for (const { chat, user } of chats) world.tg.userSends(chat, user, "first");
    await world.tg.waitFor(() => answeredAll(1), "1 000 answers", 120_000);
    const slowSeconds = (performance.now() - started) / 1000;
    figures.push({ what: `${kind}: 1 000 chats at once, 2 s model: all answered after (× model latency)`, value: slowSeconds / 2, unit: "×", goal: kind === "postgres" ? { op: "≤", limit: 1.5 } : undefined });
    figures.push({ what: `${kind}: model calls in flight at most (1 000 chats at once)`, value: world.ai.maxInFlight, unit: "calls", digits: 0 });
    figures.push({
      what: `${kind}: bot process after 1 000 concurrent turns, resident memory`,
      value: residentMb(bot.pid!),
      unit: "MB",
      digits: 0,
      goal: kind === "pglite" ? { op: "≤", limit: 250 } : undefined,
    });
    await drained(); // the first wave's last deliveries are recorded: they do not count below
    await bot.stop();

    if (store) {
      proxy = await countingProxy(new URL(env.DATABASE_URL!));
      env.DATABASE_URL = proxy.url(env.DATABASE_URL!);
    }
    bot = await world.startBot(env);
    world.ai.respondWith((request) => ({ kind: "answer", chunks: [`Re: ${lastUserText(request)}`] }));
    const cpuBefore = cpuMs(bot.pid!);
    const tripsBefore = proxy?.roundTrips() ?? 0;
    const fastStarted = performance.now();
    for (const { chat, user } of chats) world.tg.userSends(chat, user, "second");
    await world.tg.waitFor(() => answeredAll(2), "1 000 more answers", 120_000);
    await drained();
    const fastSeconds = (performance.now() - fastStarted) / 1000;
    figures.push({ what: `${kind}: bot CPU per turn (instant model, 1 000 chats)`, value: (cpuMs(bot.pid!) - cpuBefore) / 1_000, unit: "ms", goal: { op: "≤", limit: kind === "postgres" ? 2 : 4 } });
    figures.push({ what: `${kind}: end-to-end turns with an instant model (1 000 chats)`, value: 1_000 / fastSeconds, unit: "turns/s", digits: 0 });

    if (proxy) {
      figures.push({ what: `${kind}: database round trips per turn (1 000 chats at once, counted on the wire)`, value: (proxy.roundTrips() - tripsBefore) / 1_000, unit: "", goal: { op: "≤", limit: 4 } });
      // One turn at a time: nothing to share a statement with.
      const alone = chats.slice(0, 50);
      const aloneBefore = proxy.roundTrips();
      for (const { chat, user } of alone) {
        world.tg.userSends(chat, user, "third");
        await world.tg.waitFor(() => world.tg.messagesIn(chat.id).length === 3, "an answer", 10_000);
        await drained();
      }
      figures.push({ what: `${kind}: database round trips per turn (one turn at a time)`, value: (proxy.roundTrips() - aloneBefore) / alone.length, unit: "" });
    }
    // Many turns later: 8 more waves of 1 000 chats at once (10 050 turns in all with the first ones).
    const answersNow = () => new Map(chats.map(({ chat }) => [chat.id, world.tg.messagesIn(chat.id).length]));
    const oneMoreEach = (before: Map<number, number>, who = chats) => () => who.every(({ chat }) => world.tg.messagesIn(chat.id).length === before.get(chat.id)! + 1);
    for (let round = 3; round <= 10; round++) {
      const before = answersNow();
      for (const { chat, user } of chats) world.tg.userSends(chat, user, `round ${round}`);
      await world.tg.waitFor(oneMoreEach(before), `wave ${round}`, 300_000);
    }
    await drained();
    figures.push({ what: `${kind}: bot process right after 10 000 turns (1 000 chats at once), resident memory`, value: residentMb(bot.pid!), unit: "MB", digits: 0 });
    // Much of that is garbage V8 has not collected yet: its memory reducer does once the process
    // has allocated little for a while (about 20 s here).
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    figures.push({ what: `${kind}: bot process 30 s after 10 000 turns (1 000 chats at once), resident memory`, value: residentMb(bot.pid!), unit: "MB", digits: 0, goal: { op: "≤", limit: kind === "pglite" ? 250 : 200 } });

    // A new update while 200 answers are being written (a model streaming a chunk every 100 ms for
    // about 2 s): how soon its turn starts, i.e. its model request arrives.
    world.ai.respondWith((request) =>
      lastUserText(request).startsWith("busy") ? { kind: "answer", chunks: Array.from({ length: 20 }, (_, i) => `part ${i} `), chunkDelayMs: 100 } : { kind: "answer", chunks: ["ok"] },
    );
    const pickUps: number[] = [];
    for (let sample = 0; sample < 5; sample++) {
      const busy = chats.slice(0, 200);
      const before = answersNow();
      for (const { chat, user } of busy) world.tg.userSends(chat, user, `busy ${sample}`);
      await world.tg.waitFor(() => world.ai.inFlight >= 200, "200 answers being written", 60_000);
      const probe = person(`Probe${sample}`);
      const asked = world.ai.nextRequest();
      const sent = Date.now();
      world.tg.userSends(probe.chat, probe.user, `probe ${sample}`);
      pickUps.push((await asked).receivedAt - sent);
      await world.tg.waitFor(oneMoreEach(before, busy), "the busy answers", 120_000);
      await drained();
    }
    pickUps.sort((a, b) => a - b);
    figures.push({ what: `${kind}: a new update while 200 answers are written: its turn starts after, p50 of 5`, value: pickUps[2]!, unit: "ms", digits: 0, goal: kind === "pglite" ? { op: "≤", limit: 50 } : undefined });
    await bot.stop();
  } finally {
    await admin?.end();
    await world.close();
    await proxy?.close();
    await store?.drop();
  }
  return figures;
}
