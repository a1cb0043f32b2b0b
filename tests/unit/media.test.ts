import { pino } from "pino";
import { describe, expect, test } from "vitest";
import type { Message } from "grammy/types";
import type { Attachment } from "../../src/domain/messages.ts";
import { FileDownloadError } from "../../src/media/download.ts";
import { createMediaService } from "../../src/media/media.service.ts";
import { attachmentOf, pickPhotoSize } from "../../src/telegram/attachments.ts";
import { runJob } from "../../src/media/box/jobs.ts";
import { makePdf } from "../helpers/pdf.ts";

const logger = pino({ level: "silent" });
const size = (width: number, height: number) => ({ file_id: `f${width}`, file_unique_id: `u${width}`, width, height });
const base = { message_id: 1, date: 0, chat: { id: 1, type: "private" as const, first_name: "A" } };

describe("which file a message carries", () => {
  test("a photo: the largest size within the limit, or the smallest if none is", () => {
    const sizes = [size(90, 60), size(800, 600), size(1280, 960), size(2560, 1920)];
    expect(pickPhotoSize(sizes, 1280)?.width).toBe(1280);
    expect(pickPhotoSize(sizes, 1000)?.width).toBe(800);
    expect(pickPhotoSize(sizes, 50)?.width).toBe(90);
    expect(attachmentOf({ ...base, photo: sizes } as Message, 1280)).toMatchObject({ kind: "photo", fileId: "f1280", width: 1280, height: 960, mimeType: "image/jpeg" });
  });

  test("an image sent as a file is a photo if a model can take its type; other files are documents; sounds and video notes are theirs", () => {
    const doc = (mime_type: string, file_name: string) => ({ ...base, document: { file_id: "d", file_unique_id: "du", mime_type, file_name, file_size: 10 } }) as Message;
    expect(attachmentOf(doc("image/png", "shot.png"), 1280)).toMatchObject({ kind: "photo", mimeType: "image/png", fileName: "shot.png" });
    expect(attachmentOf(doc("image/svg+xml", "logo.svg"), 1280)).toMatchObject({ kind: "document" });
    expect(attachmentOf({ ...base, voice: { file_id: "v", file_unique_id: "vu", duration: 3, mime_type: "audio/ogg" } } as Message, 1280)).toMatchObject({ kind: "voice", duration: 3 });
    expect(attachmentOf({ ...base, video_note: { file_id: "n", file_unique_id: "nu", length: 240, duration: 5 } } as Message, 1280)).toMatchObject({ kind: "video_note", width: 240 });
    expect(attachmentOf({ ...base, sticker: {} } as Message, 1280)).toBeNull();
  });
});

describe("a file's text", () => {
  const file = (over: Partial<Attachment>): Attachment => ({ kind: "document", fileId: "x", fileUniqueId: "y", mimeType: null, fileSize: 10, width: null, height: null, duration: null, fileName: null, ...over });
  const service = (bytes: Buffer | Error, transcribe?: (b: Buffer) => string) =>
    createMediaService({
      download: async () => {
        if (bytes instanceof Error) throw bytes;
        return bytes;
      },
      transcriber: transcribe ? { server: "s", model: "whisper-test", transcribe: async (b) => transcribe(b) } : null,
      box: { run: runJob }, // the jobs in this process: the box itself is tested in file-box.test.ts
      documentMaxChars: 20,
      logger,
    });

  test("text files by type or by name; binary content or unknown types are not read", async () => {
    expect(await service(Buffer.from("\uFEFFa,b\n1,2")).prepare(file({ fileName: "data.csv" }), "")).toEqual({ ok: true, text: "📄 data.csv\n\na,b\n1,2" });
    expect(await service(Buffer.from("print(1)")).prepare(file({ fileName: "Main.PY" }), "run?")).toMatchObject({ ok: true, text: "📄 Main.PY\n\nprint(1)\n\nrun?" });
    expect(await service(Buffer.from([0x00, 0xff, 0xfe])).prepare(file({ mimeType: "text/plain", fileName: "a.txt" }), "")).toEqual({ ok: false, failure: "unsupported_file" });
    expect(await service(Buffer.from("x")).prepare(file({ mimeType: "application/zip", fileName: "a.zip" }), "")).toEqual({ ok: false, failure: "unsupported_file" });
    expect(await service(Buffer.from("y".repeat(30))).prepare(file({ fileName: "long.md" }), "")).toMatchObject({ ok: true, cut: { read: 20, total: 30 } });
  });

  test("PDFs: their text; one without text is unreadable; a download failure or a file too big says which", async () => {
    expect(await service(makePdf(["Hello PDF"])).prepare(file({ mimeType: "application/pdf", fileName: "a.pdf" }), "")).toEqual({ ok: true, text: "📄 a.pdf\n\nHello PDF" });
    expect(await service(makePdf([])).prepare(file({ fileName: "scan.pdf" }), "")).toEqual({ ok: false, failure: "unreadable_file" });
    expect(await service(Buffer.from("not a pdf")).prepare(file({ fileName: "bad.pdf" }), "")).toEqual({ ok: false, failure: "unreadable_file" });
    expect(await service(new FileDownloadError("too_big", "x")).prepare(file({ fileName: "a.txt" }), "")).toEqual({ ok: false, failure: "too_big" });
    expect(await service(new Error("socket hang up")).prepare(file({ fileName: "a.txt" }), "")).toEqual({ ok: false, failure: "download_failed" });
  });

  test("voice: the transcript (and what was heard); silence, or no speech recognition, says so", async () => {
    const voice = file({ kind: "voice", mimeType: "audio/ogg" });
    expect(await service(Buffer.from("hi"), () => "Hello there").prepare(voice, "")).toEqual({ ok: true, text: "Hello there", heard: "Hello there" });
    expect(await service(Buffer.from("hi"), () => "").prepare(voice, "")).toEqual({ ok: false, failure: "nothing_heard" });
    expect(await service(Buffer.from("hi")).prepare(voice, "")).toEqual({ ok: false, failure: "transcription_failed" });
  });

  test("a transcript is cut like a document, and speech is charged before it is sent (refused over the daily limit, nothing downloaded)", async () => {
    const voice = file({ kind: "voice", mimeType: "audio/ogg", duration: 95 });
    const long = await service(Buffer.from("hi"), () => "word ".repeat(100)).prepare(voice, "");
    expect(long).toMatchObject({ ok: true, cut: { read: 20, total: 500 } });
    expect((long as { text: string }).text).toMatch(/^word word word word \n\[… the rest of the recording \(480 more characters\) was cut\]$/);
    const charged: Array<[number, string]> = [];
    const ok = await service(Buffer.from("hi"), () => "Hi").prepare(voice, "", { chargeAudio: async (s, m) => (charged.push([s, m]), { ok: true }) });
    expect(ok).toMatchObject({ ok: true, text: "Hi" });
    expect(charged).toEqual([[95, "whisper-test"]]);
    let downloaded = false;
    const refusing = createMediaService({ download: async () => ((downloaded = true), Buffer.from("x")), transcriber: { server: "s", model: "w", transcribe: async () => "never" }, box: { run: runJob }, documentMaxChars: 20, logger });
    const verdict = { ok: false as const, limit: "daily_audio" as const, max: 60, resetsAt: new Date(), tell: true };
    expect(await refusing.prepare(voice, "", { chargeAudio: async () => verdict })).toEqual({ ok: false, failure: "over_limit", verdict });
    expect(downloaded).toBe(false);
  });
});
