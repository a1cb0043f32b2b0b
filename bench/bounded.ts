/**
 * Bounded work (issue 17): what hostile answers, files and floods cost, against goals. Rendering
 * in this process; the rest against the real bot process and the fakes, the fake Bot API
 * enforcing Telegram's flood limits.
 */
import { sql } from "kysely";
import { createInboxRepository } from "../src/db/inbox.repository.ts";
import { formatAnswer, splitRichMarkdown } from "../src/telegram/markdown/render.ts";
import { lastUserText } from "../tests/fakes/openai-server.ts";
import { HOSTILE_ANSWERS } from "../tests/corpus/answers.ts";
import { sharedStreamPdf } from "../tests/corpus/files.ts";
import { migrate } from "../tests/helpers/audit.ts";
import type { BotProcess } from "../tests/helpers/bot-process.ts";
import type { STORES } from "../tests/helpers/stores.ts";
import { createTempPostgres, openMigrated } from "../tests/helpers/stores.ts";
import { createWorld, person } from "../tests/helpers/world.ts";
import type { Figure } from "./durable.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (samples: number[], p: number) => [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]!;

/** Every corpus answer, rich and classic: the longest the event loop waited meanwhile, and the memory it took. */
export async function benchRendering(): Promise<Figure[]> {
  await splitRichMarkdown("# warm-up\n\n**a**");
  await formatAnswer("**warm-up**");
  let worst = 0;
  let worstName = "";
  let peakMb = 0;
  const baseMb = process.memoryUsage().rss / 2 ** 20;
  for (const [name, markdown] of Object.entries(HOSTILE_ANSWERS)) {
    // A timer every millisecond: how late each fires is how long the loop was held.
    let last = performance.now();
    let longest = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      peakMb = Math.max(peakMb, process.memoryUsage().rss / 2 ** 20);
    }, 1);
    for (let round = 0; round < 3; round++) {
      await splitRichMarkdown(markdown);
      await formatAnswer(markdown);
    }
    await sleep(5);
    clearInterval(tick);
    if (longest > worst) [worst, worstName] = [longest, name];
  }
  return [
    { what: `rendering every hostile corpus answer (${Object.keys(HOSTILE_ANSWERS).length}, ≤ 32 000 characters), rich and classic: worst event-loop block (${worstName})`, value: worst, unit: "ms", goal: { op: "≤", limit: 50 }, digits: 1 },
    { what: "rendering every hostile corpus answer: resident memory it adds, at most", value: Math.max(0, peakMb - baseMb), unit: "MB", digits: 0 },
  ];
}

/** The claim query with 100 000 updates waiting in one chat, against an empty inbox (and one waiting update). */
export async function benchClaim(kind: (typeof STORES)[number]): Promise<Figure[]> {
  const { db, close } = await openMigrated(kind);
  try {
    const inbox = createInboxRepository(db);
    const time = async () => {
      const samples: number[] = [];
      for (let i = 0; i < 60; i++) {
        const started = performance.now();
        const rows = await inbox.claim("bench", 100, 1);
        samples.push(performance.now() - started);
        // Put back what it took, by primary key: a reset that looked for the lease owner read all
        // 100 000 rows after every claim, and the next claim paid for that scan (1.8× on PostgreSQL,
        // 2× on PGlite; 1.16× and 0.7× with this reset).
        const taken = rows.map((r) => r.updateId);
        if (taken.length > 0) await db.updateTable("inbox").set({ lease_owner: null, lease_until: null, state: "received" }).where("update_id", "in", taken).execute();
      }
      return percentile(samples, 50);
    };
    // Each state is warmed up first and measured after a vacuum, as autovacuum leaves a table: the
    // first claims after inserting 100 000 rows set their hint bits (writes that belong to the insert).
    const settled = async () => {
      await sql`vacuum analyze inbox`.execute(db);
      await time();
      return time();
    };
    for (let i = 0; i < 2; i++) await time(); // warm-up
    const empty = await settled();
    await sql`insert into inbox (update_id, chat_id, payload) values (1, 1, '{}'::jsonb)`.execute(db);
    const one = await settled();
    await sql`insert into inbox (update_id, chat_id, payload) select g, 1, '{}'::jsonb from generate_series(2, 100000) g`.execute(db);
    const full = await settled();
    return [
      { what: `${kind.name}: claim with 100 000 updates waiting in one chat, p50`, value: full, unit: "ms" },
      // The goal is on the like-for-like ratio: a claim of an empty inbox takes nothing and writes
      // nothing (no row, no WAL, no commit to flush), so beside it any claim that takes a row is slower.
      { what: `${kind.name}: claim with 100 000 updates waiting in one chat ÷ claim with one waiting (both take a row)`, value: full / one, unit: "×", goal: { op: "≤", limit: 1.2 } },
      { what: `${kind.name}: claim with 100 000 updates waiting in one chat ÷ claim of an empty inbox (which writes nothing)`, value: full / empty, unit: "×" },
    ];
  } finally {
    await close();
  }
}

/**
 * While one chat's model answers with 32 000 characters of hostile Markdown and another sends a
 * PDF that would take minutes: /healthz's latency, and how soon a third chat is answered.
 */
export async function benchHostileTurns(): Promise<Figure[]> {
  const world = await createWorld();
  try {
    const bot: BotProcess = await world.startBot({ LOG_LEVEL: "info" });
    world.ai.respondWith((request) => ({ kind: "answer", chunks: lastUserText(request) === "echo it" ? [HOSTILE_ANSWERS["open links"]!] : ["ok"] }));
    const [hostile, filer, other] = [person("Hostile"), person("Filer"), person("Bystander")];
    const health: number[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const started = performance.now();
        await fetch(`${bot.httpBase()}/healthz`);
        health.push(performance.now() - started);
        await sleep(20);
      }
    })();
    const answered: number[] = [];
    for (let round = 0; round < 3; round++) {
      const pdf = world.tg.addFile(sharedStreamPdf(10, 5 * 1024 * 1024));
      world.tg.userSendsOther(filer.chat, filer.user, { document: { ...pdf, file_name: `slow ${round}.pdf`, mime_type: "application/pdf" } });
      world.tg.userSends(hostile.chat, hostile.user, "echo it");
      await sleep(200); // both at work
      const before = world.tg.messagesIn(other.chat.id).length;
      const sent = performance.now();
      world.tg.userSends(other.chat, other.user, `hello ${round}`);
      await world.tg.waitFor(() => world.tg.messagesIn(other.chat.id).length > before, "the bystander's answer", 30_000);
      answered.push(performance.now() - sent);
      await world.tg.waitFor(() => world.tg.messagesIn(filer.chat.id).length > round, "the PDF's reply", 30_000);
      await sleep(3_500); // Telegram's pace for the next round in these chats
    }
    probing = false;
    await probe;
    return [
      { what: "/healthz while a hostile PDF and a hostile answer are processed, p99", value: percentile(health, 99), unit: "ms", goal: { op: "≤", limit: 100 }, digits: 0 },
      { what: "another chat answered while a hostile PDF and a hostile answer are processed (instant model), worst of 3", value: Math.max(...answered), unit: "ms", goal: { op: "≤", limit: 1_000 }, digits: 0 },
    ];
  } finally {
    await world.close();
  }
}

/** USER_DAILY_MESSAGES=1, a user writing in 8 groups at once, two instances on PostgreSQL: answers past 1. */
export async function benchOvershoot(): Promise<Figure[]> {
  const world = await createWorld();
  const store = await createTempPostgres();
  try {
    await migrate(store.config);
    const env = {
      DATABASE_URL: (store.config as { url: string }).url,
      TELEGRAM_WEBHOOK_URL: "https://parley.example.com/hook",
      TELEGRAM_WEBHOOK_SECRET: "bench_overshoot",
      USER_DAILY_MESSAGES: "1",
      LOG_LEVEL: "info",
    };
    const bots = [await world.startBot(env), await world.startBot(env)];
    world.tg.routeWebhookTo(bots.map((b) => b.webhookTarget()));
    world.ai.respondWith(() => ({ kind: "answer", chunks: ["Answered"], latencyMs: 200 }));
    let overshoot = 0;
    const users = 10;
    for (let u = 0; u < users; u++) {
      const { user } = person(`Over${u}`);
      const groups = Array.from({ length: 8 }, (_, i) => ({ id: -7_000_000 - u * 10 - i, type: "group" as const, title: `G${i}` }));
      for (const group of groups) world.tg.userSends(group, user, "@parley_test_bot hello");
      for (const group of groups) world.tg.userSends(group, user, "/usage@parley_test_bot");
      for (const group of groups) await world.tg.waitFor(() => world.tg.messagesIn(group.id).some((m) => m.text.startsWith("Your usage")), "usage", 60_000);
      const answers = groups.flatMap((g) => world.tg.messagesIn(g.id)).filter((m) => m.text === "Answered").length;
      overshoot += Math.max(0, answers - 1);
    }
    return [{ what: `USER_DAILY_MESSAGES=1, 8 groups at once over 2 instances (PostgreSQL), ${users} users: answers past the limit`, value: overshoot, unit: "", goal: { op: "≤", limit: 0 }, digits: 0 }];
  } finally {
    await world.close();
    await store.drop();
  }
}

/**
 * 1 000 chats write at once to a model that takes 1 s, against a Bot API that refuses more than 30
 * sends a second (with 429 and a retry_after that grows): how long all the answers take against the
 * floor (1 000 / 30 s + the model's second), and the share of sends refused.
 */
export async function benchTelegramBudget(kind: "pglite" | "postgres"): Promise<Figure[]> {
  const world = await createWorld();
  const store = kind === "postgres" ? await createTempPostgres() : undefined;
  try {
    const env: Record<string, string> = { LOG_LEVEL: "info", ...(process.env.BUDGET_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BUDGET_PROF}` } : {}) };
    if (store) {
      await migrate(store.config);
      env.DATABASE_URL = (store.config as { url: string }).url;
    }
    const bot = await world.startBot(env);
    const chats = Array.from({ length: 1_000 }, (_, i) => person(`Budget${i}`));
    const modelSeconds = 1;
    world.ai.respondWith((request) => ({ kind: "answer", chunks: [`Re: ${lastUserText(request)}`], latencyMs: modelSeconds * 1_000 }));
    await sleep(1_500); // the bot's own start-up sends are out of the window
    const counted = world.tg.floodCounted;
    const refused = world.tg.floodRefused;
    const started = performance.now();
    for (const { chat, user } of chats) world.tg.userSends(chat, user, "hello");
    const answered = () => chats.filter(({ chat }) => world.tg.messagesIn(chat.id).length === 1).length;
    // A run that does not finish is a figure too (how many were answered in 3 minutes), not a crash.
    const finished = await world.tg.waitFor(() => answered() === chats.length, "1 000 answers", 180_000).then(
      () => true,
      () => false,
    );
    const seconds = (performance.now() - started) / 1000;
    // BUDGET_TRACE=1: when the model calls and the sends went (s after the wave); BUDGET_PROF=dir:
    // a CPU profile of the bot (it is stopped gracefully to write it).
    if (process.env.BUDGET_TRACE) {
      const t0 = Date.now() - (performance.now() - started);
      const sendsAt = world.tg.calls.filter((c) => /^send(?!ChatAction)/.test(c.method) && c.at >= t0).map((c) => ((c.at - t0) / 1000).toFixed(2));
      const methods = new Map<string, number>();
      for (const c of world.tg.calls) if (c.at >= t0) methods.set(c.method, (methods.get(c.method) ?? 0) + 1);
      const modelAt = world.ai.requests.map((r) => r.receivedAt).filter((t) => t >= t0).map((t) => ((t - t0) / 1000).toFixed(2));
      console.log("model requests: first", modelAt[0], "100th", modelAt[99], "500th", modelAt[499], "last", modelAt.at(-1));
      console.log(kind, [...methods], "first", sendsAt[0], "100th", sendsAt[99], "500th", sendsAt[499], "last", sendsAt.at(-1), sendsAt.length);
      const perSecond = Array.from({ length: 10 }, (_, s) => sendsAt.filter((t) => Number(t) >= s && Number(t) < s + 1).length);
      console.log("sends in each of the first 10 s:", perSecond.join(" "));
    }
    if (process.env.BUDGET_PROF) await bot.stop();
    const floor = chats.length / 30 + modelSeconds;
    const sends = world.tg.floodCounted - counted;
    if (!finished) console.log(`${kind}: only ${answered()} of ${chats.length} answered after ${seconds.toFixed(0)} s; ${world.tg.floodRefused - refused} sends refused`);
    return [
      { what: `${kind}: 1 000 chats at once against Telegram's ~30 sends/s (1 s model): all answered after (× the floor, ${floor.toFixed(1)} s)`, value: finished ? seconds / floor : Number.POSITIVE_INFINITY, unit: "×", goal: { op: "≤", limit: 1.1 } },
      { what: `${kind}: … sends Telegram refused (429), share of the sends`, value: (100 * (world.tg.floodRefused - refused)) / sends, unit: "%", goal: { op: "≤", limit: 5 }, digits: 1 },
    ];
  } finally {
    await world.close();
    await store?.drop();
  }
}
