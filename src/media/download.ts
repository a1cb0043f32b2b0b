/** Why a file could not be had: too big for the Bot API (20 MB), or the download failed. */
export class FileDownloadError extends Error {
  readonly reason: "too_big" | "failed";
  constructor(reason: "too_big" | "failed", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FileDownloadError";
    this.reason = reason;
  }
}

/** Downloads a file by its Telegram file_id (throws FileDownloadError); `knownSize` lets a too-big file fail at once. */
export type DownloadFile = (fileId: string, knownSize?: number | null) => Promise<Buffer>;
