import { toFile } from "openai";
import { classifyLlmError } from "./client.ts";
import { createOpenAi, type ServerOptions } from "./openai.ts";

/** The server (OPENAI_TRANSCRIBE_BASE_URL, else OPENAI_BASE_URL) and the model. */
export interface TranscriberOptions extends ServerOptions {
  model: string;
}

export interface Transcriber {
  readonly server: string;
  /** The transcription model (what /usage counts the seconds under). */
  readonly model: string;
  /** The speech in an audio file, as text. Throws LlmError (classified as for the chat model). */
  transcribe(audio: Buffer, fileName: string, mimeType: string | undefined, signal?: AbortSignal): Promise<string>;
}

/** Speech to text through the OpenAI-compatible audio/transcriptions endpoint (Whisper and the like). */
export function createTranscriber(options: TranscriberOptions): Transcriber {
  const openai = createOpenAi(options);
  return {
    server: new URL(options.baseURL).host,
    model: options.model,
    async transcribe(audio, fileName, mimeType, signal) {
      try {
        const file = await toFile(audio, fileName, mimeType ? { type: mimeType } : undefined);
        const result = await openai.audio.transcriptions.create({ file, model: options.model, response_format: "json" }, { signal });
        return result.text.trim();
      } catch (error) {
        throw classifyLlmError(error);
      }
    },
  };
}
