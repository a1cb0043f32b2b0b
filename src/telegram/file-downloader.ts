import type { Api } from "grammy";
import { FileDownloadError, type DownloadFile } from "../media/download.ts";

/** Telegram lets a bot download files of up to 20 MB (getFile). */
export const TELEGRAM_DOWNLOAD_MAX_BYTES = 20 * 1024 * 1024;


/**
 * Downloads a file by its file_id: getFile, then the file URL (which holds the token, so neither
 * it nor the path is ever put in an error message or a log line).
 */
export function createFileDownloader({ api, token, apiRoot }: { api: Api; token: string; apiRoot: string }): DownloadFile {
  return async (fileId, knownSize) => {
    if (knownSize !== undefined && knownSize !== null && knownSize > TELEGRAM_DOWNLOAD_MAX_BYTES) {
      throw new FileDownloadError("too_big", `the file has ${knownSize} bytes; bots may download at most 20 MB`);
    }
    let path: string | undefined;
    try {
      path = (await api.getFile(fileId)).file_path;
    } catch (error) {
      // Telegram refuses a file over the limit with "file is too big".
      if (error instanceof Error && /too big/i.test(error.message)) throw new FileDownloadError("too_big", "Telegram says the file is too big to download");
      throw new FileDownloadError("failed", `getFile failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!path) throw new FileDownloadError("failed", "getFile gave no file_path");
    let response: Response;
    try {
      response = await fetch(`${apiRoot}/file/bot${token}/${path}`, { signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      throw new FileDownloadError("failed", `the download failed: ${error instanceof Error ? error.name : "error"}`);
    }
    if (!response.ok) throw new FileDownloadError("failed", `the download failed with HTTP ${response.status}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > TELEGRAM_DOWNLOAD_MAX_BYTES) throw new FileDownloadError("too_big", "the file is over 20 MB");
    return bytes;
  };
}
