/**
 * What the model gets from a file a user sent: a photo's image (downloaded again by file_id when
 * needed), a voice note's transcript, a document's text. The bytes are never stored.
 */
import path from "node:path";
import type { Attachment } from "../domain/messages.ts";
import type { Logger } from "../logger.ts";
import type { LimitVerdict } from "../limits/usage.service.ts";
import type { Transcriber } from "../llm/transcribe.ts";
import { cleanText, cutText } from "../lib/text.ts";
import { LRUCache } from "lru-cache";
import { FileDownloadError, type DownloadFile } from "./download.ts";
import type { FileBox } from "./box/box.ts";

/** Why a file could not become part of the conversation; each gets its own short reply. */
export type MediaFailure = "too_big" | "download_failed" | "transcription_failed" | "nothing_heard" | "unsupported_file" | "unreadable_file" | "too_complex";

export type Prepared =
  /** Refused before the work was done: the user's daily speech is used up (see PrepareOptions). */
  | { ok: false; failure: "over_limit"; verdict: Extract<LimitVerdict, { ok: false }> }
  | {
      ok: true;
      /** The turn's text as stored and sent: the caption, the transcript, or the document's text. */
      text: string;
      /** A voice note's transcript, to show the user what was heard. */
      heard?: string;
      /**
       * A document or transcript longer than DOCUMENT_MAX_CHARS: how much of it was kept (total:
       * null when reading stopped before the end; pages: a PDF read in part).
       */
      cut?: { read: number; total: number | null; pages?: { read: number; total: number } };
    }
  | { ok: false; failure: MediaFailure };

/** What a file costs the user who sent it, charged before the work is done. */
export interface PrepareOptions {
  /** Speech to transcribe (seconds, by transcription model): charged, or refused over the daily limit. */
  chargeAudio?(seconds: number, model: string): Promise<LimitVerdict>;
}

export interface MediaService {
  /** The text a turn with this file stands for (photos: the caption; their image goes at model time). */
  prepare(attachment: Attachment, caption: string, options?: PrepareOptions): Promise<Prepared>;
  /** The image as a data: URL for the model. Throws FileDownloadError. */
  imageUrl(attachment: Attachment): Promise<string>;
}

export interface MediaDependencies {
  download: DownloadFile;
  /** Where PDFs are read and images sent as files are scaled: a child process with bounds (box/box.ts). */
  box: FileBox;
  /** A PDF is read up to this many pages (DOCUMENT_MAX_PAGES). */
  documentMaxPages?: number;
  /** Images sent as files are scaled to this (IMAGE_MAX_SIDE), like photos. */
  imageMaxSide?: number;
  /** Speech to text; without one, voice notes get "can't listen". */
  transcriber: Transcriber | null;
  /** A document's text is cut to this many characters (with a note). */
  documentMaxChars: number;
  logger: Logger;
}

/** Text formats read as they are: by MIME type, or else by file name. */
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-yaml|yaml|x-sh|sql|toml|x-toml|csv|x-ndjson|ld\+json|x-python|x-typescript))/;
const TEXT_EXTENSIONS = new Set(
  ("txt md markdown csv tsv json jsonl ndjson xml yaml yml toml ini cfg conf log sql sh bash zsh ps1 bat " +
    "js mjs cjs ts tsx jsx py rb go rs java kt kts swift c h cc cpp hpp cs php pl lua r m scala dart vue svelte " +
    "html htm css scss less tex rst adoc org env properties gradle dockerfile makefile").split(" "),
);
const isPdf = (a: Attachment) => a.mimeType === "application/pdf" || /\.pdf$/i.test(a.fileName ?? "");
const isText = (a: Attachment) => {
  if (a.mimeType && TEXT_TYPES.test(a.mimeType)) return true;
  const name = (a.fileName ?? "").toLowerCase();
  const extension = path.extname(name).slice(1) || name; // "Makefile", "Dockerfile"
  return TEXT_EXTENSIONS.has(extension);
};

/** Bytes as UTF-8 text, or null for what is not text (invalid UTF-8, NUL bytes). `partial`: the bytes are the file's start (a character may be cut at their end). */
function decodeText(bytes: Buffer, partial = false): string | null {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: partial });
    return text.includes("\u0000") ? null : text.replace(/^\uFEFF/, "");
  } catch {
    return null;
  }
}

/** Flate streams of a PDF may inflate to this much in all; past it the file is refused unread. */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;
/** An image sent as a file may decode to this many pixels (a 50-megapixel photo); past it, refused. */
const MAX_IMAGE_PIXELS = 50_000_000;
/** Images for the model, kept by file for later turns (a history photo is not downloaded again each turn). */
const IMAGE_CACHE_BYTES = 16 * 1024 * 1024;

export function createMediaService(deps: MediaDependencies): MediaService {
  const { download, logger } = deps;
  const images = new LRUCache<string, string>({ maxSize: IMAGE_CACHE_BYTES, sizeCalculation: (url) => url.length, ttl: 3_600_000 });
  const fetchFile = async (attachment: Attachment): Promise<Buffer | MediaFailure> => {
    try {
      return await download(attachment.fileId, attachment.fileSize);
    } catch (error) {
      if (error instanceof FileDownloadError && error.reason === "too_big") return "too_big";
      logger.warn({ reason: error instanceof Error ? error.message : String(error), kind: attachment.kind }, "could not download a file");
      return "download_failed";
    }
  };

  const readDocument = async (attachment: Attachment, caption: string): Promise<Prepared> => {
    const pdf = isPdf(attachment);
    if (!pdf && !isText(attachment)) return { ok: false, failure: "unsupported_file" };
    const bytes = await fetchFile(attachment);
    if (typeof bytes === "string") return { ok: false, failure: bytes };
    let text: string;
    let pages: { read: number; total: number } | undefined;
    let stoppedEarly = false;
    if (pdf) {
      // In the box: a PDF is a program of its sender's, and pdf.js runs it.
      const result = await deps.box.run({ kind: "pdf", bytes, maxChars: deps.documentMaxChars, maxPages: deps.documentMaxPages ?? 100, maxInflatedBytes: MAX_INFLATED_BYTES });
      if (!result.ok) {
        logger.info({ failure: result.failure, ...(result.failure === "too_complex" ? { limit: result.limit } : { reason: result.reason }) }, "a PDF could not be read");
        return { ok: false, failure: result.failure === "too_complex" ? "too_complex" : "unreadable_file" };
      }
      if (result.kind !== "pdf") return { ok: false, failure: "unreadable_file" };
      text = result.text;
      if (result.cut) pages = { read: result.pagesRead, total: result.pages };
    } else {
      // Only as much as can be kept is decoded: DOCUMENT_MAX_CHARS characters are at most 4 bytes each.
      const prefix = bytes.subarray(0, deps.documentMaxChars * 4 + 4);
      const decoded = decodeText(prefix, prefix.length < bytes.length);
      if (decoded === null) return { ok: false, failure: "unsupported_file" };
      text = decoded;
      stoppedEarly = prefix.length < bytes.length;
    }
    text = cleanText(text).trim();
    if (text === "") return { ok: false, failure: "unreadable_file" }; // a scanned PDF, an empty file
    const capping = capped(text, "file");
    let body = capping.body;
    let cut: { read: number; total: number | null; pages?: { read: number; total: number } } | undefined = capping.cut;
    if (stoppedEarly || pages) cut = { read: Math.min(text.length, deps.documentMaxChars), total: stoppedEarly || !cut ? null : cut.total, ...(pages ? { pages } : {}) };
    if ((stoppedEarly || pages) && !body.includes("[… the rest of the file")) body += "\n[… the rest of the file was not read]";
    const header = `📄 ${attachment.fileName ?? "document"}`;
    return { ok: true, text: `${header}\n\n${body}${caption ? `\n\n${caption}` : ""}`, ...(cut ? { cut } : {}) };
  };

  /** A file's text (a document's, a transcript) cut at DOCUMENT_MAX_CHARS, with a note for the model. */
  const capped = (text: string, what: "file" | "recording") => {
    const total = text.length;
    const max = deps.documentMaxChars;
    if (total <= max) return { body: text, cut: undefined };
    return { body: `${cutText(text, max)}\n[… the rest of the ${what} (${total - max} more characters) was cut]`, cut: { read: max, total } };
  };

  const listen = async (attachment: Attachment, caption: string, options: PrepareOptions): Promise<Prepared> => {
    const transcriber = deps.transcriber;
    if (!transcriber) return { ok: false, failure: "transcription_failed" };
    // Telegram gives every voice note, audio and video note its duration: charged before the call.
    const verdict = await options.chargeAudio?.(Math.max(1, attachment.duration ?? 1), transcriber.model);
    if (verdict && !verdict.ok) return { ok: false, failure: "over_limit", verdict };
    const bytes = await fetchFile(attachment);
    if (typeof bytes === "string") return { ok: false, failure: bytes };
    let heard: string;
    try {
      const name = attachment.fileName ?? `${attachment.kind}.${attachment.kind === "video_note" ? "mp4" : "ogg"}`;
      heard = cleanText(await transcriber.transcribe(bytes, name, attachment.mimeType ?? undefined));
    } catch (error) {
      logger.warn({ reason: error instanceof Error ? error.message : String(error), server: transcriber.server }, "transcription failed");
      return { ok: false, failure: "transcription_failed" };
    }
    if (heard === "") return { ok: false, failure: "nothing_heard" };
    // A transcript is cut like a document: a long recording must not fill the model's context.
    const { body, cut } = capped(heard, "recording");
    return { ok: true, text: caption ? `${body}\n\n${caption}` : body, heard: cut ? `${cutText(heard, 1_000)}…` : heard, ...(cut ? { cut } : {}) };
  };

  return {
    async prepare(attachment, caption, options = {}) {
      switch (attachment.kind) {
        case "photo":
          return { ok: true, text: caption };
        case "voice":
        case "audio":
        case "video_note":
          return listen(attachment, caption, options);
        case "document":
          return readDocument(attachment, caption);
      }
    },

    async imageUrl(attachment) {
      const key = `${attachment.fileUniqueId}:${deps.imageMaxSide ?? 0}`;
      const cached = images.get(key);
      if (cached) return cached;
      const bytes = await download(attachment.fileId, attachment.fileSize);
      let url: string;
      if (attachment.fileName === null && attachment.width !== null) {
        // A photo: Telegram already gives it in the size asked for (attachments.ts picks it).
        url = `data:${attachment.mimeType ?? "image/jpeg"};base64,${bytes.toString("base64")}`;
      } else {
        // An image sent as a file: any size, any pixels. Scaled in the box like a photo.
        const result = await deps.box.run({ kind: "image", bytes, maxSide: deps.imageMaxSide ?? 1280, maxPixels: MAX_IMAGE_PIXELS });
        if (!result.ok || result.kind !== "image") {
          throw new FileDownloadError("failed", `the image could not be read: ${result.ok ? "not an image" : result.failure}`);
        }
        url = `data:image/jpeg;base64,${Buffer.from(result.jpeg).toString("base64")}`;
      }
      images.set(key, url);
      return url;
    },
  };
}
