/**
 * End to end in webhook mode: the bot sets its webhook, the fake Telegram posts updates to it,
 * and the HTTP server refuses what Telegram would never send, without storing it or crashing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { lastUserText } from "../fakes/openai-server.ts";
import type { BotProcess } from "../helpers/bot-process.ts";
import { createWorld, person, type World } from "../helpers/world.ts";

const PUBLIC_URL = "https://parley.example.com/telegram/hook";
const SECRET = "webhook_Secret-42";

describe("webhook mode", () => {
  let world: World;
  let bot: BotProcess;
  let target: string;

  beforeAll(async () => {
    world = await createWorld();
    bot = await world.startBot({ TELEGRAM_WEBHOOK_URL: PUBLIC_URL, TELEGRAM_WEBHOOK_SECRET: SECRET, HTTP_PORT: "0" });
    target = bot.webhookTarget();
    world.tg.routeWebhookTo([target]);
  });
  afterAll(async () => world?.close());
  beforeEach(() => world.ai.reset());

  test("sets the webhook with its secret, the update kinds it handles and max_connections, and answers through it", async () => {
    expect(world.tg.webhook).toEqual({ url: PUBLIC_URL, secret_token: SECRET, allowed_updates: ["message", "edited_message", "callback_query", "stopped_message_generation"], max_connections: 40 });
    expect(new URL(target).pathname).toBe("/telegram/hook");
    expect(bot.stdout).not.toContain(SECRET); // a secret never reaches the logs
    const { chat, user } = person("Hooked");
    world.tg.userSends(chat, user, "Hello over the webhook");
    const [answer] = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the answer");
    expect(answer!.text).toBe("Echo: Hello over the webhook");
    expect(world.tg.webhookDeliveries.filter((d) => d.status === 200).length).toBeGreaterThanOrEqual(1);
    // Polling is off: nothing called getUpdates (the fake would answer 409).
    expect(world.tg.polls).toEqual([]);
  });

  test("the public listener has the webhook, /healthz and a bare /readyz; /metrics and the checks are on the loopback ops listener", async () => {
    const publicBase = bot.httpBase();
    expect((await fetch(`${publicBase}/metrics`)).status).toBe(404);
    const ready = await fetch(`${publicBase}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true }]);
    expect((await fetch(`${publicBase}/healthz`)).status).toBe(200);
    const ops = bot.opsBase();
    expect(new URL(ops).hostname).toBe("127.0.0.1");
    expect(new URL(ops).port).not.toBe(new URL(publicBase).port);
    expect(await (await fetch(`${ops}/readyz`)).json()).toMatchObject({ ready: true, checks: { database: "ok", schema: "ok", telegram: "ok" } });
    expect(await (await fetch(`${ops}/metrics`)).text()).toContain("parley_updates_received_total");
    expect((await fetch(`${ops}${new URL(target).pathname}`, { method: "POST", body: "{}" })).status).toBe(404);
  });

  test("a call without the right secret gets 401 and stores nothing", async () => {
    const { chat, user } = person("Intruder");
    const forged = world.tg.messageUpdate(chat, user, "forged message");
    expect(await world.tg.post(target, forged, { secret: "wrong-secret" })).toBe(401);
    expect(await world.tg.post(target, forged, { secret: null })).toBe(401);
    // Had the forged update been stored, it would be answered before this later one of its chat.
    world.tg.userSends(chat, user, "a real message");
    const messages = await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the real answer");
    expect(messages.map((m) => m.text)).toEqual(["Echo: a real message"]);
    expect(world.ai.requestsAbout("forged message")).toHaveLength(0);
    expect(bot.stdout).toMatch(/webhook call without the right secret token; refused/);
  });

  test("a malformed, oversized or non-update body gets 400, and the bot goes on", async () => {
    expect(await world.tg.post(target, null, { raw: '{"update_id": 5, "message": ' })).toBe(400);
    expect(await world.tg.post(target, null, { raw: JSON.stringify({ hello: "world" }) })).toBe(400);
    expect(await world.tg.post(target, null, { raw: JSON.stringify([{ update_id: 1 }]) })).toBe(400);
    expect(await world.tg.post(target, null, { raw: JSON.stringify({ update_id: 9, pad: "x".repeat(2 * 1024 * 1024) }) })).toBe(400);
    const { chat, user } = person("AfterJunk");
    world.tg.userSends(chat, user, "still there?");
    await world.tg.waitForChat(chat.id, (m) => m[0]?.text === "Echo: still there?", "an answer after the junk");
  });

  test("an update delivered twice (Telegram retried) is answered once", async () => {
    const { chat, user } = person("Twice");
    const update = world.tg.messageUpdate(chat, user, "only once please");
    expect(await world.tg.post(target, update)).toBe(200);
    expect(await world.tg.post(target, update)).toBe(200);
    world.tg.userSends(chat, user, "next");
    const messages = await world.tg.waitForChat(chat.id, (m) => m.length === 2, "two answers");
    expect(messages.map((m) => m.text)).toEqual(["Echo: only once please", "Echo: next"]);
    expect(world.ai.requestsAbout("only once please")).toHaveLength(1);
  });

  test("a slow model does not hold the webhook call: 200 comes back as soon as the update is stored", async () => {
    world.ai.respondWith((request) => ({ kind: "answer", chunks: [`Slow: ${lastUserText(request)}`], latencyMs: 3_000 }));
    const { chat, user } = person("Patient");
    const update = world.tg.messageUpdate(chat, user, "take your time");
    const answered = world.tg.nextBotMessage(chat.id);
    expect(await world.tg.post(target, update)).toBe(200);
    // The 200 came back while the model was still thinking: no answer exists yet.
    expect(world.tg.messagesIn(chat.id)).toEqual([]);
    expect((await answered).text).toBe("Slow: take your time");
  });

  test("other paths and methods are refused; SIGTERM stops the bot cleanly", async () => {
    const base = new URL(target);
    expect((await fetch(new URL("/elsewhere", base), { method: "POST" })).status).toBe(404);
    expect((await fetch(target)).status).toBe(405);
    expect((await bot.stop()).code).toBe(0);
  });
});
