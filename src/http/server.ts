/**
 * Parley's HTTP servers. For operators: GET /healthz (the process lives), /readyz (it can do its
 * work: which check fails, never an error's text) and /metrics, on HTTP_HOST:HTTP_PORT. In
 * webhook mode that listener is public (Telegram calls it, often through a proxy that forwards
 * every path): it takes the webhook (each update committed to the inbox and answered 200 at once,
 * never after the model), /healthz, and /readyz as ready or not; /metrics and /readyz's checks
 * are served only on a listener of their own (OPS_HOST:OPS_PORT, loopback by default).
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Update } from "grammy/types";
import { isUpdate } from "../inbox/updates.ts";
import type { Logger } from "../logger.ts";

export interface WebhookRoute {
  /** The path of TELEGRAM_WEBHOOK_URL. */
  path: string;
  /** TELEGRAM_WEBHOOK_SECRET: Telegram sends it in X-Telegram-Bot-Api-Secret-Token. */
  secret: string;
  /** Commits the update to the inbox; throws if it could not. */
  ingest(update: Update): Promise<void>;
}

export interface Readiness {
  ready: boolean;
  /** Each check by name: "ok", or what is wrong. */
  checks: Record<string, string>;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  /** Only in webhook mode. */
  webhook?: WebhookRoute | undefined;
  /** Serves /metrics and the checks of /readyz (false: the public listener of webhook mode). */
  ops: boolean;
  /** GET /readyz: whether this instance can do its work now. */
  readiness(): Promise<Readiness>;
  /** GET /metrics. */
  metrics: { contentType: string; render(): Promise<string> };
  logger: Logger;
  /** Larger bodies are refused (real updates are a few kilobytes). */
  maxBodyBytes?: number;
  /** Bounds on slow or many clients (defaults: HTTP_LIMITS). */
  limits?: Partial<typeof HTTP_LIMITS>;
}

/**
 * What one client can hold of the server: a connection that has not sent its headers within
 * headersMs, or its whole request within requestMs, is closed; an idle keep-alive connection
 * after keepAliveMs; past maxConnections new ones are refused. Node checks the first two every
 * checkMs (its default, 30 s, let a slow-headers client hold a connection for over a minute).
 * Telegram opens at most TELEGRAM_WEBHOOK_MAX_CONNECTIONS (≤ 100) webhook connections.
 */
export const HTTP_LIMITS = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000, checkMs: 1_000, maxConnections: 256 };

export interface HttpServer {
  /** Starts listening; resolves with the port (useful with port 0). */
  listen(): Promise<number>;
  /** Stops accepting connections and waits for the requests in progress. */
  close(): Promise<void>;
}

const SECRET_HEADER = "x-telegram-bot-api-secret-token";

function sameSecret(given: string | string[] | undefined, expected: Buffer): boolean {
  if (typeof given !== "string") return false;
  const buffer = Buffer.from(given);
  return buffer.length === expected.length && timingSafeEqual(buffer, expected);
}

class BodyTooLarge extends Error {}

/** A refused body is still read (and dropped) up to this many times the limit; beyond, the connection is cut. */
const DRAIN_FACTOR = 16;

/**
 * The request's body, or BodyTooLarge past `limit` bytes. A body too large is read to its end all
 * the same (and dropped), so the sender gets the 400: closing a socket with unread data resets
 * it, and a client still sending would see a network error instead. One far too large (more than
 * DRAIN_FACTOR times the limit) gets its connection cut.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > DRAIN_FACTOR * limit) {
    req.destroy();
    throw new BodyTooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > DRAIN_FACTOR * limit) break; // leaving the loop destroys the request
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) throw new BodyTooLarge();
  return Buffer.concat(chunks);
}

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { webhook, logger } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const secret = Buffer.from(webhook?.secret ?? "");

  const send = (res: ServerResponse, status: number, body = "", contentType = "text/plain; charset=utf-8") => {
    if (res.headersSent) return;
    res.writeHead(status, { "content-type": contentType, connection: status === 200 ? "keep-alive" : "close" });
    res.end(body);
  };

  const onReady = async (res: ServerResponse) => {
    const readiness = await options.readiness();
    const body = options.ops ? readiness : { ready: readiness.ready };
    send(res, readiness.ready ? 200 : 503, `${JSON.stringify(body)}\n`, "application/json");
  };

  const onMetrics = async (res: ServerResponse) => send(res, 200, await options.metrics.render(), options.metrics.contentType);

  const onWebhook = async (req: IncomingMessage, res: ServerResponse, webhook: WebhookRoute) => {
    if (!sameSecret(req.headers[SECRET_HEADER], secret)) {
      logger.warn({ remote: req.socket.remoteAddress }, "webhook call without the right secret token; refused");
      return send(res, 401, "unauthorized");
    }
    let update: unknown;
    try {
      update = JSON.parse((await readBody(req, maxBodyBytes)).toString("utf8"));
    } catch (error) {
      const reason = error instanceof BodyTooLarge ? "body too large" : "malformed JSON";
      logger.warn({ reason }, "webhook call refused");
      return send(res, 400, reason);
    }
    if (!isUpdate(update)) {
      logger.warn("webhook call refused: not a Telegram update");
      return send(res, 400, "not an update");
    }
    try {
      await webhook.ingest(update);
    } catch (error) {
      // Telegram sends the update again later: nothing is lost.
      logger.warn({ err: error, updateId: update.update_id }, "could not store a webhook update; asking Telegram to retry");
      return send(res, 503, "try again later");
    }
    send(res, 200);
  };

  const routes = new Map<string, { method: string; handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void }>([
    ["/healthz", { method: "GET", handle: (_req, res) => send(res, 200, "ok\n") }],
    ["/readyz", { method: "GET", handle: (_req, res) => onReady(res) }],
  ]);
  if (options.ops) routes.set("/metrics", { method: "GET", handle: (_req, res) => onMetrics(res) });
  if (webhook) routes.set(webhook.path, { method: "POST", handle: (req, res) => onWebhook(req, res, webhook) });

  const limits = { ...HTTP_LIMITS, ...options.limits };
  const server = createServer({
    headersTimeout: limits.headersMs,
    requestTimeout: limits.requestMs,
    keepAliveTimeout: limits.keepAliveMs,
    connectionsCheckingInterval: limits.checkMs,
  }, (req, res) => {
    const route = routes.get((req.url ?? "/").split("?")[0]!);
    const handled = !route
      ? send(res, 404, "not found")
      : req.method !== route.method && !(route.method === "GET" && req.method === "HEAD")
        ? send(res, 405, "method not allowed")
        : route.handle(req, res);
    Promise.resolve(handled).catch((error: unknown) => {
      logger.error({ err: error }, "HTTP request failed");
      send(res, 500);
    });
  });
  server.maxConnections = limits.maxConnections;
  server.on("clientError", (_error, socket) => socket.destroy());

  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port, options.host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
