import OpenAI from "openai";
import { createOpenAi, type ServerOptions } from "./openai.ts";

/** A part of a user message the model reads: text, or an image (a data: URL). */
export type ContentPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };

/** One message of the conversation as the model reads it (chat completions). */
export interface ModelMessage {
  role: "system" | "user" | "assistant";
  content: string | ContentPart[];
}

/** The text of a turn, images left out. */
export const textOf = (content: ModelMessage["content"]) =>
  typeof content === "string" ? content : content.map((p) => (p.type === "text" ? p.text : "")).join("\n");

export type LlmFailure =
  | "timeout"
  | "rate_limited"
  | "unavailable"
  | "context_too_long"
  | "misconfigured"
  | "rejected"
  /** The model does not take images (a text-only model asked with a photo). */
  | "images_unsupported"
  | "cancelled"
  | "unknown";

/** A model call that failed, classified by what the user and the operator should be told. */
export class LlmError extends Error {
  readonly failure: LlmFailure;
  readonly status: number | undefined;
  constructor(failure: LlmFailure, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "LlmError";
    this.failure = failure;
    this.status = options.status;
  }
}

/** What an answer cost, as the server reported it at the end of the stream. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface LlmClient {
  /** The model server's host (and port), for logs: the operator must see which server failed. */
  readonly server: string;
  /** The model asked for. */
  readonly model: string;
  /**
   * Streams the answer as text deltas. Throws LlmError. `onUsage` gets the server's token count
   * when it reports one (asked for with stream_options.include_usage).
   */
  stream(turns: ModelMessage[], signal?: AbortSignal, onUsage?: (usage: TokenUsage) => void, model?: string): AsyncIterable<string>;
}

/**
 * A token count for a server that reports none: about four characters a token for English text,
 * plus a few tokens of framing per message (OpenAI's own rule of thumb). Good enough for budgets.
 */
export function estimateUsage(turns: readonly ModelMessage[], answer: string): TokenUsage {
  const tokens = (text: string) => Math.ceil([...text].length / 4);
  // An image costs what a low-detail one does on OpenAI's models (85 tokens): a floor, not a price.
  const images = (content: ModelMessage["content"]) => (typeof content === "string" ? 0 : content.filter((p) => p.type === "image_url").length * 85);
  return {
    promptTokens: turns.reduce((sum, t) => sum + 4 + tokens(textOf(t.content)) + images(t.content), 3),
    completionTokens: tokens(answer),
  };
}

/** A server that does not know stream_options (older OpenAI-compatible servers) says so in a 400. */
const REJECTS_STREAM_OPTIONS = /stream_options|include_usage/i;

/** The server (its timeout applies to the connection and to every pause between two streamed chunks) and the default model. */
export interface LlmOptions extends ServerOptions {
  model: string;
}

/** How servers say a model takes no images (OpenAI, vLLM, Ollama, LiteLLM word it differently). */
const IMAGES_UNSUPPORTED = /image|vision|multi-?modal/i;

const CONTEXT_TOO_LONG = /context[_ ]length|context window|maximum context|too many tokens|prompt is too long|reduce the length/i;

export function classifyLlmError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new LlmError("timeout", "The model did not answer in time", { cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new LlmError("unavailable", "Could not connect to the model server", { cause: error });
  }
  if (error instanceof OpenAI.APIError) {
    const status = error.status;
    const text = `${error.code ?? ""} ${error.message}`;
    const make = (failure: LlmFailure) => new LlmError(failure, error.message, { status, cause: error });
    if (status === 413 || CONTEXT_TOO_LONG.test(text)) return make("context_too_long");
    if (status === 429) return make("rate_limited");
    if (status === 408) return make("timeout");
    if (status === 401 || status === 403 || status === 404) return make("misconfigured");
    if (status !== undefined && status >= 500) return make("unavailable");
    if ((status === 400 || status === 422) && IMAGES_UNSUPPORTED.test(text)) return make("images_unsupported");
    if (status !== undefined && status >= 400) return make("rejected");
    return make("unavailable"); // an error event inside the stream
  }
  if (error instanceof TypeError && /terminated|fetch failed|socket|ECONNRESET/i.test(error.message)) {
    // undici's way of saying the connection broke while the body was streaming.
    return new LlmError("unavailable", `The connection to the model broke: ${error.message}`, { cause: error });
  }
  if (error instanceof Error && error.name === "AbortError") {
    return new LlmError("timeout", "The model stopped sending", { cause: error });
  }
  return new LlmError("unknown", error instanceof Error ? error.message : String(error), { cause: error });
}

export function createLlmClient(options: LlmOptions): LlmClient {
  const openai = createOpenAi(options);

  // Dropped for the rest of the process once the server refuses it; usage is estimated then.
  let askUsage = true;
  const create = (turns: ModelMessage[], signal: AbortSignal, model: string) =>
    openai.chat.completions.create(
      { model, messages: turns as OpenAI.ChatCompletionMessageParam[], stream: true, ...(askUsage ? { stream_options: { include_usage: true } } : {}) },
      { signal },
    );

  return {
    server: new URL(options.baseURL).host,
    model: options.model,
    async *stream(turns, signal, onUsage, model = options.model) {
      // The SDK's timeout covers the wait for the response; this watchdog covers a stream that stalls.
      const idle = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), options.timeoutMs);
      };
      const combined = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
      try {
        arm();
        let stream;
        try {
          stream = await create(turns, combined, model);
        } catch (error) {
          if (!(askUsage && error instanceof OpenAI.BadRequestError && REJECTS_STREAM_OPTIONS.test(error.message))) throw error;
          askUsage = false;
          stream = await create(turns, combined, model);
        }
        let finished = false;
        for await (const chunk of stream) {
          arm();
          if (chunk.usage) onUsage?.({ promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens });
          const choice = chunk.choices[0];
          if (choice?.delta?.content) yield choice.delta.content;
          if (choice?.finish_reason) finished = true;
        }
        // A stream cut off by a proxy or a crashed server just ends: no finish_reason, no error.
        if (!finished) throw new LlmError("unavailable", "The model's stream ended before the answer was finished");
      } catch (error) {
        if (signal?.aborted) throw new LlmError("cancelled", "The answer was cancelled", { cause: error });
        if (idle.signal.aborted) {
          throw new LlmError("timeout", `No data from the model for ${options.timeoutMs} ms`, { cause: error });
        }
        throw classifyLlmError(error);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
