/**
 * A fake OpenAI-compatible server (POST /v1/chat/completions, streaming or not). Each test
 * scripts what the "model" does: answer in chunks, wait, fail with a status, or drop the connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseMultipart } from "./telegram-server.ts";

export interface ChatMessage {
  role: string;
  /** The text (a message sent as parts: its text parts, one per line). */
  content: string;
  /** The images of a message sent as parts (their URLs, data: URLs here). */
  images?: string[];
}

/** A message as the client sends it: text, or parts (text and images). */
type WireContent = string | Array<{ type: string; text?: string; image_url?: { url?: string } }>;

/** What OpenAI refuses in a message's parts, or undefined. */
function invalidContent(content: WireContent): string | undefined {
  if (typeof content === "string") return undefined;
  if (!Array.isArray(content) || content.length === 0) return "Invalid type for 'messages.content': expected a string or a non-empty array.";
  for (const part of content) {
    if (part.type === "text" && typeof part.text === "string") continue;
    if (part.type === "image_url" && typeof part.image_url?.url === "string") {
      const url = part.image_url.url;
      if (/^https?:\/\//.test(url) || /^data:image\/(jpeg|png|webp|gif);base64,[A-Za-z0-9+/]+=*$/.test(url)) continue;
      return "Invalid image URL: expected a URL or a base64 data URL of a JPEG, PNG, WebP or GIF image.";
    }
    return `Invalid content part: ${JSON.stringify(part).slice(0, 80)}`;
  }
  return undefined;
}

export interface CompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  receivedAt: number;
}

export type Script =
  /** Streams `chunks`, after `latencyMs` and `chunkDelayMs` between chunks. */
  | { kind: "answer"; chunks: string[]; latencyMs?: number; chunkDelayMs?: number }
  | { kind: "error"; status: number; message: string; code?: string }
  /** Sends these chunks, then cuts the connection. */
  | { kind: "drop"; chunks?: string[] };

export type Handler = (request: CompletionRequest) => Script;

/** The default model: repeats the last user message, so tests can tell answers apart. */
export const echo: Handler = (request) => ({
  kind: "answer",
  chunks: ["Echo: ", request.messages.at(-1)?.content ?? ""],
});

/** The last user message of a request (what a chat's answer is about). */
export const lastUserText = (request: CompletionRequest) =>
  [...request.messages].reverse().find((m) => m.role === "user")?.content ?? "";

export class FakeOpenAI {
  readonly requests: CompletionRequest[] = [];
  url = "";
  port = 0;
  inFlight = 0;
  maxInFlight = 0;
  /**
   * How the server treats stream_options.include_usage: "report" (OpenAI: a last chunk with the
   * usage), "ignore" (many local servers: no usage), "reject" (older servers: 400).
   */
  usage: "report" | "ignore" | "reject" = "report";
  /** GET /v1/models: the models offered; "unlisted": 404 (a server without a list); a status: that error. */
  models: string[] | "unlisted" | { status: number } = ["fake-model", "fake-model-large"];
  /** A model without vision: a request with an image is refused (400), as OpenAI's text models do. */
  vision = true;
  /** Transcriptions asked for (audio/transcriptions): the model, the file name and its bytes. */
  readonly transcriptions: Array<{ model: string; fileName: string; bytes: Buffer }> = [];
  /** What the speech recognizer hears; default: the audio's bytes read as text. A status fails it. */
  transcribe: (bytes: Buffer) => string | { status: number } = (bytes) => bytes.toString("utf8");
  /** Runs after each streamed chunk is written: a test can kill the bot mid-stream here. */
  afterChunk?: (request: CompletionRequest, index: number) => Promise<void> | void;
  /** Requests whose connection the client closed before the answer was complete (an abort). */
  readonly closedEarly: CompletionRequest[] = [];
  private closeWaiters: Array<{ check: (r: CompletionRequest) => boolean; resolve: () => void }> = [];
  private handler: Handler = echo;
  private requestWaiters: Array<(request: CompletionRequest) => void> = [];
  private readonly server = createServer((req, res) => void this.handle(req, res));

  /** Listens on `host` (127.0.0.1; the container smoke test needs 0.0.0.0); `url` is the local one. */
  async start(host = "127.0.0.1"): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}/v1`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The fake's token count, one token per character, so tests can predict it. */
  static usageOf(request: Pick<CompletionRequest, "messages">, answer: string): { prompt_tokens: number; completion_tokens: number } {
    return { prompt_tokens: request.messages.reduce((sum, m) => sum + m.content.length, 0), completion_tokens: answer.length };
  }

  respondWith(handler: Handler): void {
    this.handler = handler;
  }

  /** The next request gets `script`, later ones the current handler again. */
  respondOnceWith(script: Script): void {
    const previous = this.handler;
    this.handler = () => {
      this.handler = previous;
      return script;
    };
  }

  reset(): void {
    this.handler = echo;
    this.vision = true;
    this.transcribe = (bytes) => bytes.toString("utf8");
    this.afterChunk = undefined;
    this.maxInFlight = 0;
    this.usage = "report";
  }

  /** Resolves with the next request the model receives. */
  nextRequest(): Promise<CompletionRequest> {
    return new Promise((resolve) => this.requestWaiters.push(resolve));
  }

  /** Resolves when the client closes a request about `text` before its answer was complete. */
  closedEarlyAbout(text: string): Promise<void> {
    const check = (r: CompletionRequest) => lastUserText(r).includes(text);
    if (this.closedEarly.some(check)) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push({ check, resolve }));
  }

  /** Requests whose last user message contains `text`. */
  requestsAbout(text: string): CompletionRequest[] {
    return this.requests.filter((r) => lastUserText(r).includes(text));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method === "POST" && req.url?.endsWith("/audio/transcriptions")) return this.handleTranscription(req, Buffer.concat(chunks), res);
    if (req.method === "GET" && req.url?.endsWith("/models")) {
      const status = this.models === "unlisted" ? 404 : Array.isArray(this.models) ? 200 : this.models.status;
      const body = Array.isArray(this.models) ? { object: "list", data: this.models.map((id) => ({ id, object: "model", created: 0, owned_by: "fake" })) } : { error: { message: status === 401 ? "Incorrect API key provided" : "Not found", type: "invalid_request_error" } };
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
      return;
    }
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    const wire = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Omit<CompletionRequest, "messages"> & { messages: Array<{ role: string; content: WireContent }> };
    const refuse = (message: string, param = "stream_options") => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message, type: "invalid_request_error", param, code: null } }));
    };
    for (const m of wire.messages) {
      const problem = invalidContent(m.content);
      if (problem) return refuse(problem, "messages");
      if (!this.vision && typeof m.content !== "string" && m.content.some((p) => p.type === "image_url")) {
        return refuse("Invalid content type. image_url is only supported by certain models.", "messages");
      }
    }
    const request: CompletionRequest = {
      ...wire,
      messages: wire.messages.map((m) =>
        typeof m.content === "string"
          ? { role: m.role, content: m.content }
          : {
              role: m.role,
              content: m.content.filter((p) => p.type === "text").map((p) => p.text).join("\n"),
              images: m.content.filter((p) => p.type === "image_url").map((p) => p.image_url!.url!),
            },
      ),
      receivedAt: Date.now(),
    };
    // What OpenAI itself refuses, and what an older server refuses.
    if (request.stream_options && !request.stream) return refuse("The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    if (request.stream_options && this.usage === "reject") return refuse("Unrecognized request argument supplied: stream_options");
    this.requests.push(request);
    for (const wake of this.requestWaiters.splice(0)) wake(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.once("close", () => {
      if (res.writableEnded) return;
      this.closedEarly.push(request);
      for (const waiter of this.closeWaiters.filter((w) => w.check(request))) {
        this.closeWaiters.splice(this.closeWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
    try {
      await this.play(this.handler(request), request, res);
    } finally {
      this.inFlight--;
    }
  }

  /** POST audio/transcriptions: multipart with the audio file and the model, as the SDK sends it. */
  private handleTranscription(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const reply = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    const { params, files } = parseMultipart(body, req.headers["content-type"] ?? "");
    const file = files.get("file");
    if (!file || typeof params.model !== "string") return reply(400, { error: { message: "'file' and 'model' are required", type: "invalid_request_error" } });
    this.transcriptions.push({ model: params.model, fileName: file.fileName, bytes: file.content });
    const heard = this.transcribe(file.content);
    if (typeof heard !== "string") return reply(heard.status, { error: { message: "transcription failed", type: "fake_error" } });
    reply(200, { text: heard });
  }

  private async play(script: Script, request: CompletionRequest, res: ServerResponse): Promise<void> {
    // A pause ends early when the client goes away, as a real server stops generating.
    const pause = (ms = 0) =>
      ms > 0
        ? new Promise<void>((resolve) => {
            const timer = setTimeout(done, ms);
            function done() {
              clearTimeout(timer);
              res.off("close", done);
              resolve();
            }
            res.once("close", done);
          })
        : Promise.resolve();
    if (script.kind === "error") {
      res.writeHead(script.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: script.message, type: "fake_error", code: script.code ?? null } }));
      return;
    }
    const chunk = (content: string | null, finish: string | null) =>
      JSON.stringify({
        id: "chatcmpl-fake",
        object: "chat.completion.chunk",
        created: Math.floor(Date.now() / 1000),
        model: request.model,
        choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
      });
    const parts = script.chunks ?? [];
    if (script.kind === "answer") await pause(script.latencyMs);
    if (!request.stream) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "chatcmpl-fake",
          object: "chat.completion",
          created: Math.floor(Date.now() / 1000),
          model: request.model,
          choices: [{ index: 0, message: { role: "assistant", content: parts.join("") }, finish_reason: "stop" }],
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    for (const [i, part] of parts.entries()) {
      if (i > 0 && script.kind === "answer") await pause(script.chunkDelayMs);
      if (res.destroyed) return;
      // Wait until the chunk is handed to the socket, so a drop below cannot swallow it.
      await new Promise<void>((resolve) => res.write(`data: ${chunk(part, null)}\n\n`, () => resolve()));
      await this.afterChunk?.(request, i);
    }
    if (script.kind === "drop") {
      res.socket?.destroy();
      return;
    }
    res.write(`data: ${chunk(null, "stop")}\n\n`);
    if (request.stream_options?.include_usage && this.usage === "report") {
      const usage = FakeOpenAI.usageOf(request, parts.join(""));
      res.write(`data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 0, model: request.model, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })}\n\n`);
    }
    res.end("data: [DONE]\n\n");
  }
}
