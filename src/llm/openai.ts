/**
 * The one way Parley makes an OpenAI-compatible client, for chat completions and transcription
 * alike (which may be two servers): the key, the server's /v1 URL, the timeout and the SDK's own
 * retries, all from the configuration.
 */
import OpenAI from "openai";

export interface ServerOptions {
  apiKey: string;
  /** The server's /v1 URL. */
  baseURL: string;
  timeoutMs: number;
  maxRetries: number;
}

export const createOpenAi = ({ apiKey, baseURL, timeoutMs, maxRetries }: ServerOptions): OpenAI => new OpenAI({ apiKey, baseURL, timeout: timeoutMs, maxRetries });
