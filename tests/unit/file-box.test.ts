/**
 * The file box: a PDF or an image is read in a child process that is killed past its time or
 * memory, and refused unread past its inflated bytes or pixels. Real child processes.
 */
import { pino } from "pino";
import sharp from "sharp";
import { describe, expect, test } from "vitest";
import { createFileBox } from "../../src/media/box/box.ts";
import { inflatedSize } from "../../src/media/box/jobs.ts";
import { deflateBombPdf, greyPng, manyPagesPdf, sharedStreamPdf } from "../corpus/files.ts";
import { makePdf } from "../helpers/pdf.ts";

const logger = pino({ level: "silent" });
const box = (over: Partial<Parameters<typeof createFileBox>[0]> = {}) => createFileBox({ timeoutMs: 20_000, memoryMb: 512, logger, ...over });
const pdfJob = (bytes: Buffer, over: { maxChars?: number; maxPages?: number; maxInflatedBytes?: number } = {}) => ({
  kind: "pdf" as const,
  bytes,
  maxChars: 1_000,
  maxPages: 100,
  maxInflatedBytes: 64 * 1024 * 1024,
  ...over,
});

describe("PDFs in the box", () => {
  test("a PDF's text comes back; reading stops at DOCUMENT_MAX_CHARS and at DOCUMENT_MAX_PAGES, saying how far it got", async () => {
    const files = box();
    expect(await files.run(pdfJob(makePdf(["Hello from a PDF"])))).toMatchObject({ ok: true, kind: "pdf", text: expect.stringContaining("Hello from a PDF"), pagesRead: 1, pages: 1, cut: false });
    const long = await files.run(pdfJob(manyPagesPdf(2_000), { maxChars: 200 }));
    expect(long).toMatchObject({ ok: true, pages: 2_000, cut: true });
    expect((long as { pagesRead: number }).pagesRead).toBeLessThan(10);
    expect(await files.run(pdfJob(manyPagesPdf(50), { maxChars: 100_000, maxPages: 5 }))).toMatchObject({ ok: true, pagesRead: 5, pages: 50, cut: true });
  });

  test("a deflate bomb is refused before pdf.js reads it", async () => {
    const bomb = deflateBombPdf(100 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(200_000);
    expect(inflatedSize(bomb, 64 * 1024 * 1024)).toBe("over");
    expect(await box().run(pdfJob(bomb))).toEqual({ ok: false, failure: "too_complex", limit: "inflated" });
  });

  test("pages that share one large stream are stopped at the time bound, and the box is free again", async () => {
    // 5 s: the next job (a new child: Node and pdf.js loading) must fit in the bound on a busy
    // machine too (with 1 s it did not, once, beside other tests). The slow PDF must not: 10 pages
    // took 16 s of CPU on a slow day and under 5 s on a quick one, so it has 60 (6× the work).
    const files = box({ timeoutMs: 5_000, concurrency: 1 });
    const slow = sharedStreamPdf(60, 5 * 1024 * 1024);
    expect(slow.length).toBeLessThan(100_000);
    expect(await files.run(pdfJob(slow, { maxChars: 10_000_000 }))).toEqual({ ok: false, failure: "too_complex", limit: "time" });
    expect(await files.run(pdfJob(makePdf(["next"])))).toMatchObject({ ok: true, text: expect.stringContaining("next") });
  });

  test("a box past its memory is killed", async () => {
    // A bare Node process is bigger than 24 MB: the watch kills it as soon as it reads its size.
    expect(await box({ memoryMb: 24, watchEveryMs: 20 }).run(pdfJob(makePdf(["x"])))).toEqual({ ok: false, failure: "too_complex", limit: "memory" });
  });

  test("not a PDF: unreadable, said as such", async () => {
    expect(await box().run(pdfJob(Buffer.from("not a pdf at all")))).toMatchObject({ ok: false, failure: "unreadable" });
  });
});

describe("images in the box", () => {
  test("an image sent as a file is scaled to IMAGE_MAX_SIDE, as JPEG", async () => {
    const big = await sharp({ create: { width: 4_000, height: 3_000, channels: 3, background: "#336699" } }).png().toBuffer();
    const result = await box().run({ kind: "image", bytes: big, maxSide: 1_280, maxPixels: 50_000_000 });
    expect(result).toMatchObject({ ok: true, kind: "image", width: 1_280, height: 960 });
    const meta = await sharp((result as { jpeg: Uint8Array }).jpeg).metadata();
    expect(meta).toMatchObject({ format: "jpeg", width: 1_280, height: 960 });
  });

  test("an image of more pixels than any memory holds is refused before it is decoded", async () => {
    const bomb = greyPng(60_000, 60_000, 1);
    expect(bomb.length).toBeLessThan(10_000);
    expect(await box().run({ kind: "image", bytes: bomb, maxSide: 1_280, maxPixels: 50_000_000 })).toEqual({ ok: false, failure: "too_complex", limit: "pixels" });
  });
});
