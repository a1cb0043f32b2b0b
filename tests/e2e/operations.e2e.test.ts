/**
 * What operators watch: /healthz, /readyz and /metrics on the bot's HTTP server (polling mode,
 * embedded store), against the fake Telegram and model servers.
 */
import { afterEach, expect, test } from "vitest";
import type { BotProcess } from "../helpers/bot-process.ts";
import { createWorld, person, type World } from "../helpers/world.ts";

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const get = async (bot: BotProcess, path: string, method = "GET") => {
  const response = await fetch(`${bot.httpBase()}${path}`, { method });
  return { status: response.status, type: response.headers.get("content-type") ?? "", body: await response.text() };
};

/** The value of one sample line of the Prometheus text (`name{labels} value`), or undefined. */
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test("/healthz and /readyz: alive, and ready when the database, its schema, Telegram and the model server are", async () => {
  world = await createWorld();
  const bot = await world.startBot();
  expect(await get(bot, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
  // The model server is looked at once the bot runs: its check shows a moment later.
  await expect.poll(async () => JSON.parse((await get(bot, "/readyz")).body).checks.model).toBe("ok");
  const ready = await get(bot, "/readyz");
  expect(ready.status).toBe(200);
  expect(JSON.parse(ready.body)).toEqual({ ready: true, checks: { database: "ok", schema: "ok", telegram: "ok", model: "ok" } });
  expect((await get(bot, "/nowhere")).status).toBe(404);
  expect((await get(bot, "/healthz", "POST")).status).toBe(405);
  // No ALLOWED_USERS: it says so at start-up, as a warning.
  expect(bot.stdout).toMatch(/"level":40,[^\n]*"msg":"ALLOWED_USERS is not set: anyone on Telegram can use this bot/);
  expect((await bot.stop()).code).toBe(0);
});

test("an operator who allows everyone on purpose (ALLOWED_USERS=*) gets no warning", async () => {
  world = await createWorld();
  const bot = await world.startBot({ ALLOWED_USERS: "*" });
  expect(bot.stdout).not.toContain("ALLOWED_USERS is not set");
  const { chat, user } = person("Anyone");
  world.tg.userSends(chat, user, "hello");
  await world.tg.waitForChat(chat.id, (ms) => ms.some((m) => m.text === "Echo: hello"), "the answer");
  expect((await bot.stop()).code).toBe(0);
});

test("/readyz turns 503 while Telegram cannot be reached, and back to 200 when it can", async () => {
  world = await createWorld();
  const w = world;
  const bot = await w.startBot({ LOG_LEVEL: "info" });
  w.tg.setNetworkDown(true);
  await bot.waitForOutput(/"msg":"Telegram unreachable; retrying"/);
  const down = await get(bot, "/readyz");
  expect(down.status).toBe(503);
  expect(JSON.parse(down.body).checks).toMatchObject({ database: "ok", schema: "ok", telegram: "unreachable" });
  // A long poll only returns (and shows Telegram back) when there is something to return.
  const { chat, user } = person("Waiting");
  w.tg.userSends(chat, user, "are you there?");
  w.tg.setNetworkDown(false);
  await bot.waitForOutput(/Telegram reachable again after/);
  expect((await get(bot, "/readyz")).status).toBe(200);
  expect((await bot.stop()).code).toBe(0);
});

test("/metrics: updates, turns by outcome, model timings, Telegram errors by method and code, the inbox", async () => {
  world = await createWorld();
  const w = world;
  const bot = await w.startBot();
  const { chat, user } = person("Counted");
  // The typing indicator of the first turn is refused; the answer still arrives.
  w.tg.failNext("sendChatAction", { error_code: 400, description: "Bad Request: chat not found" });
  w.tg.userSends(chat, user, "one");
  await w.tg.waitForChat(chat.id, (m) => m.length === 1, "the first answer");
  w.ai.respondWith(() => ({ kind: "error", status: 503, message: "overloaded" }));
  w.tg.userSends(chat, user, "two");
  await w.tg.waitForChat(chat.id, (m) => m.length === 2, "the failure notice");

  const metrics = await get(bot, "/metrics");
  expect(metrics.status).toBe(200);
  expect(metrics.type).toContain("text/plain");
  const text = metrics.body;
  expect(sample(text, "parley_updates_received_total")).toBe(2);
  expect(sample(text, 'parley_turns_total{outcome="answered",reason=""}')).toBe(1);
  expect(sample(text, 'parley_turns_total{outcome="failed",reason="unavailable"}')).toBe(1);
  expect(sample(text, "parley_model_call_seconds_count")).toBe(1);
  expect(sample(text, "parley_model_first_text_seconds_count")).toBe(1);
  expect(sample(text, 'parley_telegram_api_errors_total{method="sendChatAction",code="400"}')).toBe(1);
  expect(sample(text, "parley_inbox_oldest_waiting_seconds")).toBeGreaterThanOrEqual(0);
  expect(text).toMatch(/^parley_inbox_waiting_turns [01]$/m); // the second turn may still be ending
  expect(text).toContain("parley_process_resident_memory_bytes");
  expect((await bot.stop()).code).toBe(0);
});

test("a wrong model setting shows at start: one warning naming the setting, and /readyz says so; the bot still runs", async () => {
  world = await createWorld();
  const w = world;
  const bot = await w.startBot({ LOG_LEVEL: "info", OPENAI_MODEL: "gpt-4o-mini" });
  await bot.waitForOutput(/does not offer \\"gpt-4o-mini\\": check OPENAI_MODEL and OPENAI_MODELS \(it offers fake-model, fake-model-large\)/);
  const ready = await get(bot, "/readyz");
  expect(ready.status).toBe(503);
  expect(JSON.parse(ready.body).checks.model).toBe("unknown model: gpt-4o-mini");
  expect(bot.stdout.split("\n").filter((line) => line.includes("does not offer"))).toHaveLength(1);
  expect((await bot.stop()).code).toBe(0);

  // A key the server refuses names OPENAI_API_KEY; a server that is down names OPENAI_BASE_URL.
  w.ai.models = { status: 401 };
  const refused = await w.startBot({ LOG_LEVEL: "info" });
  await refused.waitForOutput(/refused the key \([^)]*\): check OPENAI_API_KEY/);
  expect((await refused.stop()).code).toBe(0);
  const down = await w.startBot({ LOG_LEVEL: "info", OPENAI_BASE_URL: "http://127.0.0.1:9/v1" });
  await down.waitForOutput(/did not answer \([^)]*\): check OPENAI_BASE_URL/);
  expect(JSON.parse((await get(down, "/readyz")).body).checks.model).toBe("unreachable");
  expect((await down.stop()).code).toBe(0);
});
