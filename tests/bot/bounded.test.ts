/**
 * Bounded work, on each store: what a hostile user, file or model answer can make the
 * bot (the app in this process) spend gets a bounded, accounted, clear outcome, and other chats go on.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { lastUserText } from "../fakes/openai-server.ts";
import { BOT_USER, type BotMessage, type TgChat, type TgUser } from "../fakes/telegram-server.ts";
import { queryPostgres } from "../helpers/stores.ts";
import { E2E_STORES, person } from "../helpers/world.ts";
import { createInProcessWorld, type InProcessBot, type InProcessWorld } from "./world.ts";
import { HOSTILE_ANSWERS } from "../corpus/answers.ts";
import { sharedStreamPdf } from "../corpus/files.ts";


const mention = `@${BOT_USER.username}`;

describe.each(E2E_STORES)("bounded work on %s", (store) => {
  let world: InProcessWorld;
  let bot: InProcessBot;
  beforeAll(async () => {
    world = await createInProcessWorld(store);
    bot = await world.startBot({ USER_MESSAGES_PER_MINUTE: "6", FILE_TIMEOUT_SECONDS: "2", OPENAI_MAX_RETRIES: "0" });
  });
  afterAll(async () => world?.close());

  /** The user sends this and waits for the bot's first message after it that satisfies `done`. */
  async function send(chat: TgChat, user: TgUser, content: Record<string, unknown> | string, done: (m: BotMessage) => boolean = () => true): Promise<BotMessage> {
    const before = world.tg.messagesIn(chat.id).length;
    if (typeof content === "string") world.tg.userSends(chat, user, content);
    else world.tg.userSendsOther(chat, user, content);
    const messages = await world.tg.waitForChat(chat.id, (ms) => ms.slice(before).some(done), "the bot's reply");
    return messages.slice(before).find(done)!;
  }

  test("an answer with NUL and broken UTF-16 is cleaned, stored and delivered once: one model call", async () => {
    const { chat, user } = person("Nul");
    world.ai.respondWith((r) => ({ kind: "answer", chunks: lastUserText(r) === "break it" ? ["a\u0000b ", "\ud800 c"] : ["Echo: ", lastUserText(r)] }));
    try {
      const answer = await send(chat, user, "break it");
      expect(answer.text).toBe("ab \ufffd c");
      await send(chat, user, "and then?", (m) => m.text.startsWith("Echo"));
      expect(world.ai.requestsAbout("break it")).toHaveLength(1);
      expect(world.ai.requestsAbout("and then?")[0]!.messages.map((m) => m.content)).toContain("ab \ufffd c");
      if (world.databaseUrl) expect(await queryPostgres(world.databaseUrl, "select content from messages where role = 'assistant' and content like 'ab %'")).toEqual([{ content: "ab \ufffd c" }]);
    } finally {
      world.ai.reset();
    }
  });

  test("a hostile Markdown answer is delivered, and another chat is answered meanwhile", async () => {
    const hostile = person("Host");
    const other = person("Other");
    world.ai.respondWith((r) => ({ kind: "answer", chunks: lastUserText(r) === "echo the links" ? [HOSTILE_ANSWERS["open links"]!] : ["Echo: ", lastUserText(r)] }));
    try {
      world.tg.userSends(hostile.chat, hostile.user, "echo the links");
      const answered = await send(other.chat, other.user, "are you there?");
      expect(answered.text).toBe("Echo: are you there?");
      const parts = await world.tg.waitForChat(hostile.chat.id, (m) => m.map((x) => x.text).join("").replace(/\s/g, "").length >= 32_000, "the hostile answer, whole");
      for (const part of parts) expect(Buffer.byteLength(part.text)).toBeLessThanOrEqual(32_768);
      expect((await fetch(`${bot.httpBase()}/healthz`)).status).toBe(200);
    } finally {
      world.ai.reset();
    }
  });

  test("a PDF that would take minutes gets a short reply within seconds, is never tried again, and costs no model call", async () => {
    const { chat, user } = person("Pdf");
    const requests = world.ai.requests.length;
    const file = world.tg.addFile(sharedStreamPdf(10, 5 * 1024 * 1024));
    const started = Date.now();
    const reply = await send(chat, user, { document: { ...file, file_name: "slow.pdf", mime_type: "application/pdf" } });
    expect(reply.text).toMatch(/^That file is too complex for me to read/);
    expect(Date.now() - started).toBeLessThan(15_000); // FILE_TIMEOUT_SECONDS=2, and no retry
    await send(chat, user, "still there?", (m) => m.text.startsWith("Echo"));
    expect(world.tg.fileDownloads.filter((p) => p.endsWith(file.file_id.split("-")[1]!))).toHaveLength(1);
    expect(world.ai.requests.length).toBe(requests + 1);
  });

  test("an image sent as a file reaches the model scaled to IMAGE_MAX_SIDE, and later turns do not download it again", async () => {
    const { chat, user } = person("Png");
    const png = await sharp({ create: { width: 4_000, height: 3_000, channels: 3, background: "#884422" } }).png().toBuffer();
    const file = world.tg.addFile(png);
    await send(chat, user, { document: { ...file, file_name: "scan.png", mime_type: "image/png" }, caption: "What colour?" }, (m) => m.text.startsWith("Echo"));
    const image = world.ai.requestsAbout("What colour?")[0]!.messages.at(-1)!.images![0]!;
    expect(image).toMatch(/^data:image\/jpeg;base64,/);
    expect(await sharp(Buffer.from(image.split(",")[1]!, "base64")).metadata()).toMatchObject({ width: 1_280, height: 960 });
    const downloads = () => world.tg.fileDownloads.filter((p) => p === `documents/file_${file.file_id.split("-")[1]}`).length;
    expect(downloads()).toBe(1);
    for (const question of ["Brighter?", "Darker?"]) await send(chat, user, question, (m) => m.text.startsWith(`Echo: ${question}`));
    expect(world.ai.requestsAbout("Darker?")[0]!.messages.some((m) => m.images?.[0] === image)).toBe(true);
    expect(downloads()).toBe(1);
  });

  test("a transcript is cut like a document; speech is counted in /usage", async () => {
    const { chat, user } = person("Talk");
    world.ai.transcribe = () => "word ".repeat(43_200); // 216 000 characters, as measured
    try {
      const voice = world.tg.addFile(Buffer.from("a long recording"));
      await send(chat, user, { voice: { ...voice, duration: 5_400, mime_type: "audio/ogg" } }, (m) => m.text.includes("Echo"));
      const asked = lastUserText(world.ai.requests.at(-1)!);
      expect(asked.length).toBeLessThan(12_500);
      expect(asked).toContain("[… the rest of the recording");
      const usage = await send(chat, user, "/usage", (m) => m.text.startsWith("Your usage"));
      expect(usage.text).toContain("5,400 seconds of speech");
    } finally {
      world.ai.reset();
    }
  });

  test("failed model calls are counted: their tokens show in /usage, with no answer", async () => {
    const { chat, user } = person("Fail");
    world.ai.respondWith(() => ({ kind: "error", status: 500, message: "the model fell over" }));
    try {
      for (let i = 0; i < 3; i++) await send(chat, user, `attempt ${i} ${"lorem ipsum ".repeat(100)}`);
    } finally {
      world.ai.reset();
    }
    const usage = await send(chat, user, "/usage", (m) => m.text.startsWith("Your usage"));
    const today = /Today: 0 answers, ([\d,]+) tokens/.exec(usage.text);
    expect(today).not.toBeNull();
    expect(Number(today![1]!.replace(/,/g, ""))).toBeGreaterThan(900); // three prompts of ~1 200 characters
  });

  test("past USER_MESSAGES_PER_MINUTE, one notice; the messages are kept, not answered", async () => {
    const { user } = person("Flood");
    const groups: TgChat[] = Array.from({ length: 10 }, (_, i) => ({ id: -5_000_000 - i - (store === "postgres" ? 100 : 0), type: "group", title: `Flood ${i}` }));
    const requests = world.ai.requests.length;
    for (const group of groups) world.tg.userSends(group, user, `${mention} flood message`);
    // A group's updates run in order: a second message behind each shows the first is done.
    for (const group of groups) world.tg.userSends(group, person("Witness").user, `${mention} witness`);
    for (const group of groups) await world.tg.waitForChat(group.id, (m) => m.some((x) => x.text.includes("witness")), `the witness in ${group.title}`);
    const said = groups.flatMap((g) => world.tg.messagesIn(g.id).map((m) => m.text));
    expect(said.filter((t) => t.includes("Flood: flood message"))).toHaveLength(6);
    expect(said.filter((t) => t.startsWith("You're sending messages faster"))).toHaveLength(1);
    expect(world.ai.requests.length - requests).toBe(6 + 10);
    if (world.databaseUrl) {
      const kept = await queryPostgres(world.databaseUrl, "select count(*)::int as n from messages m join users u on u.id = m.user_id where u.first_name = 'Flood' and not m.in_context");
      expect(kept).toEqual([{ n: 4 }]);
    }
  });

  test("messages sent while the previous answer is written are answered together, in one model call", async () => {
    const { chat, user } = person("Burst");
    world.ai.respondWith((r) => ({ kind: "answer", chunks: ["Echo: ", lastUserText(r)], latencyMs: lastUserText(r) === "first" ? 800 : 0 }));
    try {
      const first = world.ai.nextRequest();
      world.tg.userSends(chat, user, "first");
      await first;
      for (const word of ["two", "three", "four"]) world.tg.userSends(chat, user, word);
      const messages = await world.tg.waitForChat(chat.id, (m) => m.length === 2, "two answers");
      expect(messages.map((m) => m.text)).toEqual(["Echo: first", "Echo: two\n\nthree\n\nfour"]);
      expect(world.ai.requests.filter((r) => /two|three|four/.test(lastUserText(r)))).toHaveLength(1);
    } finally {
      world.ai.reset();
    }
  });
});

describe.each(E2E_STORES)("daily token limit on %s", (store) => {
  let world: InProcessWorld;
  beforeAll(async () => {
    world = await createInProcessWorld(store);
    await world.startBot({ USER_DAILY_TOKENS: "500" });
  });
  afterAll(async () => world?.close());

  test("a 12 KB document is refused before the model is called, saying how many tokens it needs and how many are left", async () => {
    const { chat, user } = person("Tok");
    world.tg.userSends(chat, user, "hi");
    await world.tg.waitForChat(chat.id, (m) => m.length === 1, "the first answer");
    const file = world.tg.addFile(Buffer.from("The quick brown fox jumps over the lazy dog. ".repeat(270)));
    world.tg.userSendsOther(chat, user, { document: { ...file, file_name: "notes.txt", mime_type: "text/plain" } });
    const [, refusal] = await world.tg.waitForChat(chat.id, (m) => m.length === 2, "the refusal");
    expect(refusal!.text).toMatch(/^This message needs about [\d,]+ tokens, but only \d+ tokens of your daily limit are left/);
    expect(world.ai.requests).toHaveLength(1);
  });
});
