/**
 * The work done on a user's file: a PDF's text, an image scaled for the model. It runs in a
 * child process of its own (box.ts), never on the bot's thread: a file is built by whoever sent
 * it, and pdf.js or an image decoder can be made to spend minutes and gigabytes on a few
 * kilobytes. Each job also bounds itself where it can: pages read, bytes inflated, characters
 * kept, pixels decoded.
 */
import { constants, inflateSync } from "node:zlib";

export type BoxJob =
  | { kind: "pdf"; bytes: Uint8Array; maxChars: number; maxPages: number; maxInflatedBytes: number }
  | { kind: "image"; bytes: Uint8Array; maxSide: number; maxPixels: number };

/** Why a job gave up: a bound of the box, or a file that is not what it says. */
export type BoxLimit = "time" | "memory" | "inflated" | "pixels";

export type BoxResult =
  | { ok: true; kind: "pdf"; text: string; pagesRead: number; pages: number; cut: boolean }
  | { ok: true; kind: "image"; jpeg: Uint8Array; width: number; height: number }
  | { ok: false; failure: "too_complex"; limit: BoxLimit }
  | { ok: false; failure: "unreadable"; reason: string };

/**
 * Inflates every Flate stream of a PDF, up to `max` bytes in all, without keeping any: a file
 * whose streams inflate past that (a deflate bomb: 20 KB can hold 20 MB) is refused before pdf.js
 * sees it. Streams pdf.js would read again for each page are counted once: the time bound covers
 * that.
 */
export function inflatedSize(bytes: Uint8Array, max: number): number | "over" {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let total = 0;
  for (let at = buffer.indexOf("stream"); at >= 0; at = buffer.indexOf("stream", at + 6)) {
    // "stream" then CRLF or LF starts a stream's data; "endstream" is its end.
    let start = at + 6;
    if (buffer[start] === 0x0d) start++;
    if (buffer[start] !== 0x0a || (at >= 3 && buffer.subarray(at - 3, at).toString("latin1") === "end")) continue;
    start++;
    const end = buffer.indexOf("endstream", start);
    if (end < 0) break;
    try {
      total += inflateSync(buffer.subarray(start, end), { maxOutputLength: max - total + 1, finishFlush: constants.Z_SYNC_FLUSH }).length;
    } catch (error) {
      if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return "over";
      // not a Flate stream (an image, an encrypted one): pdf.js decides what it is
    }
    if (total > max) return "over";
    at = end;
  }
  return total;
}

async function pdfText(job: Extract<BoxJob, { kind: "pdf" }>): Promise<BoxResult> {
  if (inflatedSize(job.bytes, job.maxInflatedBytes) === "over") return { ok: false, failure: "too_complex", limit: "inflated" };
  const { getDocumentProxy } = await import("unpdf");
  let document;
  try {
    document = await getDocumentProxy(new Uint8Array(job.bytes));
  } catch (error) {
    return { ok: false, failure: "unreadable", reason: error instanceof Error ? error.message : String(error) };
  }
  const pages = document.numPages;
  const texts: string[] = [];
  let chars = 0;
  let pagesRead = 0;
  // Page by page, and no further than needed: reading stops at DOCUMENT_MAX_CHARS.
  while (pagesRead < Math.min(pages, job.maxPages) && chars <= job.maxChars) {
    const page = await document.getPage(pagesRead + 1);
    const content = await page.getTextContent();
    const text = content.items.map((item) => ("str" in item ? item.str + (item.hasEOL ? "\n" : "") : "")).join("");
    page.cleanup();
    texts.push(text);
    chars += text.length + 1;
    pagesRead++;
  }
  // The process ends with the job: nothing to free.
  return { ok: true, kind: "pdf", text: texts.join("\n"), pagesRead, pages, cut: pagesRead < pages };
}

async function scaledImage(job: Extract<BoxJob, { kind: "image" }>): Promise<BoxResult> {
  const { default: sharp } = await import("sharp");
  sharp.cache(false);
  sharp.concurrency(1);
  try {
    const { data, info } = await sharp(job.bytes, { limitInputPixels: job.maxPixels, animated: false, failOn: "error" })
      .rotate() // as the camera held it
      .resize({ width: job.maxSide, height: job.maxSide, fit: "inside", withoutEnlargement: true })
      .flatten({ background: "#ffffff" })
      .jpeg({ quality: 85 })
      .toBuffer({ resolveWithObject: true });
    return { ok: true, kind: "image", jpeg: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/pixel limit/i.test(message)) return { ok: false, failure: "too_complex", limit: "pixels" };
    return { ok: false, failure: "unreadable", reason: message };
  }
}

export function runJob(job: BoxJob): Promise<BoxResult> {
  return job.kind === "pdf" ? pdfText(job) : scaledImage(job);
}
