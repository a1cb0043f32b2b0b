/**
 * Files in the conversation: a photo the model sees, a voice note it hears, a PDF it
 * reads, and the files it cannot take, on each store. The fake Bot API serves getFile and the
 * downloads; the fake model server takes image parts and audio/transcriptions (it "hears" an
 * audio file's bytes read as text).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { lastUserText } from "../fakes/openai-server.ts";
import { BOT_USER, type BotMessage, type TgChat, type TgUser } from "../fakes/telegram-server.ts";
import { makePdf } from "../helpers/pdf.ts";
import { queryPostgres } from "../helpers/stores.ts";
import { E2E_STORES, person } from "../helpers/world.ts";
import { createInProcessWorld, type InProcessBot, type InProcessWorld } from "./world.ts";


const JPEG = Buffer.from("ffd8ffe000104a46494600010100000100010000ffd9", "hex"); // the bytes only need to round-trip

describe.each(E2E_STORES)("on %s", (store) => {
  let world: InProcessWorld;
  let bot: InProcessBot;
  beforeAll(async () => {
    world = await createInProcessWorld(store);
    bot = await world.startBot();
  });
  afterAll(async () => world?.close());

  /** The user sends a message with these fields and waits for the bot's finished reply. */
  async function send(chat: TgChat, user: TgUser, content: Record<string, unknown>, done: (m: BotMessage) => boolean = () => true): Promise<BotMessage> {
    const before = world.tg.messagesIn(chat.id).length;
    // Text goes as Telegram sends it (a command with its entity); anything else as given.
    if (typeof content.text === "string") world.tg.userSends(chat, user, content.text);
    else world.tg.userSendsOther(chat, user, content);
    const messages = await world.tg.waitForChat(chat.id, (ms) => ms.length > before && done(ms[before]!), "the bot's reply");
    return messages[before]!;
  }
  const photoSizes = (bytes: Buffer) => {
    // Telegram offers several sizes; the bot takes the largest within IMAGE_MAX_SIDE (1280).
    const [small, medium, large] = [world.tg.addFile(Buffer.from("small")), world.tg.addFile(bytes), world.tg.addFile(Buffer.from("large"))];
    return [
      { ...small, width: 90, height: 60 },
      { ...medium, width: 800, height: 600 },
      { ...large, width: 2560, height: 1920 },
    ];
  };

  test("a photo with a caption: the model sees the image (the size within the limit) and the caption, and later turns still do", async () => {
    const { chat, user } = person("Pho");
    const answer = await send(chat, user, { photo: photoSizes(JPEG), caption: "What is on this picture?" }, (m) => m.text.startsWith("Echo"));
    expect(answer.text).toBe("Echo: What is on this picture?");
    const asked = world.ai.requestsAbout("What is on this picture?")[0]!.messages.at(-1)!;
    expect(asked.images).toEqual([`data:image/jpeg;base64,${JPEG.toString("base64")}`]);

    await send(chat, user, { text: "And the colours?" }, (m) => m.text.startsWith("Echo: And"));
    const followUp = world.ai.requestsAbout("And the colours?")[0]!.messages;
    expect(followUp.map((m) => [m.role, m.content, m.images?.length ?? 0])).toEqual([
      ["system", expect.any(String), 0],
      ["user", "What is on this picture?", 1], // the photo again, downloaded by file_id
      ["assistant", "Echo: What is on this picture?", 0],
      ["user", "And the colours?", 0],
    ]);

    // /export names the file; after /clear the photo is gone from the conversation with its message.
    world.tg.userSends(chat, user, "/export");
    await world.tg.waitFor(() => world.tg.documents.some((d) => d.chatId === chat.id), "the export");
    const markdown = world.tg.documents.filter((d) => d.chatId === chat.id)[0]!.content.toString("utf8");
    expect(markdown).toMatch(/\*\[photo: 800×600, .*file_unique_id uniq-\d+\]\*/);
    if (world.databaseUrl) {
      // What was stored: the caption as the turn, the file by reference (the size within the limit).
      const rows = await queryPostgres(world.databaseUrl, "select m.kind, m.content, m.char_length, a.width, a.height, a.file_id from messages m join attachments a on a.message_id = m.id where m.content = 'What is on this picture?'");
      expect(rows).toEqual([{ kind: "photo", content: "What is on this picture?", char_length: 24, width: 800, height: 600, file_id: expect.stringMatching(/^file-/) }]);
    }
    await send(chat, user, { text: "/clear" });
    await send(chat, user, { text: "Fresh start?" }, (m) => m.text.startsWith("Echo"));
    expect(world.ai.requestsAbout("Fresh start?")[0]!.messages.slice(1).map((m) => m.content)).toEqual(["Fresh start?"]);
  });

  test("a voice note is transcribed: the transcript is the turn, and the reply quotes what was heard", async () => {
    const { chat, user } = person("Vox");
    const voice = world.tg.addFile(Buffer.from("what is the capital of France"));
    const answer = await send(chat, user, { voice: { ...voice, duration: 2, mime_type: "audio/ogg" } }, (m) => m.text.includes("Echo"));
    expect(answer.text).toBe("> 🎤 what is the capital of France\n\nEcho: [voice message] what is the capital of France");
    expect(world.ai.transcriptions.at(-1)).toMatchObject({ model: "whisper-1", fileName: "voice.ogg" });
    await send(chat, user, { text: "Why?" }, (m) => m.text.startsWith("Echo: Why"));
    expect(world.ai.requestsAbout("Why?")[0]!.messages[1]!.content).toBe("[voice message] what is the capital of France");

    // Speech recognition down: a short reply; the model is not asked.
    world.ai.transcribe = () => ({ status: 503 });
    const failed = await send(chat, user, { voice: { ...world.tg.addFile(Buffer.from("lost words")), duration: 1 } });
    expect(failed.text).toBe("I couldn't listen to that: speech recognition isn't working right now. Please type your message instead.");
    world.ai.reset();
    expect(world.ai.requests.some((r) => lastUserText(r).includes("lost words"))).toBe(false);
  });

  test("a PDF becomes the turn's text, under its name; a later question is answered with it", async () => {
    const { chat, user } = person("Doc");
    const pdf = world.tg.addFile(makePdf(["Quarterly report", "Revenue grew 12%"]));
    const answer = await send(chat, user, { document: { ...pdf, file_name: "report.pdf", mime_type: "application/pdf" }, caption: "Summarise this" }, (m) => m.text.startsWith("Echo"));
    expect(answer.text).toBe("Echo: 📄 report.pdf\n\nQuarterly report\nRevenue grew 12%\n\nSummarise this");
    // Remembered across a restart.
    await bot.stop();
    bot = await world.startBot();
    await send(chat, user, { text: "How much did revenue grow?" }, (m) => m.text.startsWith("Echo: How"));
    expect(world.ai.requestsAbout("How much did revenue grow?")[0]!.messages[1]!.content).toContain("Revenue grew 12%");
  });

  test("a long text file is cut to DOCUMENT_MAX_CHARS with a note; an unknown kind of file and one over 20 MB get a clear reply and no model call", async () => {
    const { chat, user } = person("Big");
    const long = world.tg.addFile(Buffer.from("x".repeat(12_500)));
    const cut = await send(chat, user, { document: { ...long, file_name: "notes.txt", mime_type: "text/plain" } }, (m) => m.text.includes("Echo"));
    expect(cut.text).toMatch(/^_notes\.txt is long: I read its first 12,000 of 12,500 characters\._\n\nEcho: 📄 notes\.txt\n\nx{12000}\n\[… the rest of the file \(500 more characters\) was cut\]$/);

    const requests = world.ai.requests.length;
    const zip = world.tg.addFile(Buffer.from("PK\u0003\u0004"));
    expect((await send(chat, user, { document: { ...zip, file_name: "a.zip", mime_type: "application/zip" } })).text).toMatch(/^I can't read this kind of file/);
    const huge = world.tg.addFile(Buffer.from("too big"), { size: 25 * 1024 * 1024 });
    expect((await send(chat, user, { document: { ...huge, file_name: "film.txt", mime_type: "text/plain" } })).text).toBe(
      "That file is too big for me: Telegram lets bots download files of up to 20 MB.",
    );
    expect(world.ai.requests.length).toBe(requests);
    expect(world.tg.callsOf("getFile").filter((c) => c.params.file_id === huge.file_id)).toEqual([]); // its size says so: not even asked for
    // Both turns are kept, out of the model's context: the next question does not carry them.
    await send(chat, user, { text: "Anything else?" }, (m) => m.text.startsWith("Echo: Any"));
    expect(world.ai.requestsAbout("Anything else?")[0]!.messages.map((m) => m.content).join("\n")).not.toMatch(/a\.zip|film\.txt/);
  });

  test("a model without vision: the photo's caption alone is answered, and the chat is told so once", async () => {
    // A bot of its own: what it learns about its model (no images) must not reach the other tests.
    const main = world;
    world = await createInProcessWorld(store);
    await world.startBot();
    const { chat, user } = person("Iris");
    world.ai.vision = false;
    try {
      const first = await send(chat, user, { photo: photoSizes(JPEG), caption: "Describe it" }, (m) => m.text.includes("Echo"));
      expect(first.text).toBe("_(This model can't see images: I only read the caption.)_\n\nEcho: [photo] Describe it");
      const second = await send(chat, user, { photo: photoSizes(JPEG), caption: "And this one?" }, (m) => m.text.includes("Echo"));
      expect(second.text).toBe("Echo: [photo] And this one?");
      expect(world.ai.requestsAbout("And this one?").every((r) => r.messages.every((m) => !m.images))).toBe(true); // not even tried again
    } finally {
      await world.close();
      world = main;
    }
  });

  test("in a group, a file is for the bot when its caption mentions it or it replies to the bot", async () => {
    const group: TgChat = { id: -100_7700 - (store === "postgres" ? 1 : 0), type: "supergroup", title: "Files" };
    const { user } = person("Gia");
    const requests = world.ai.requests.length;
    world.tg.userSendsOther(group, user, { voice: { ...world.tg.addFile(Buffer.from("just chatting")), duration: 1 } });
    const answer = await send(group, user, { photo: photoSizes(JPEG), caption: `@${BOT_USER.username} what is this?`, caption_entities: [{ type: "mention", offset: 0, length: BOT_USER.username!.length + 1 }] }, (m) => m.text.includes("Echo"));
    expect(answer.text).toBe("Echo: Gia: what is this?");
    expect(world.ai.requests.length).toBe(requests + 1); // the voice note was not for the bot
    expect(world.ai.transcriptions.some((t) => t.bytes.toString() === "just chatting")).toBe(false);
  });
});
