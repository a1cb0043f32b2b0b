/**
 * Parley's one HTTP server (HTTP_HOST:HTTP_PORT). Today it takes Telegram's webhook calls; each
 * update is committed to the inbox and answered 200 at once, never after the model.
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

export interface HttpServerOptions {
  host: string;
  port: number;
  webhook: WebhookRoute;
  logger: Logger;
  /** Larger bodies are refused (real updates are a few kilobytes). */
  maxBodyBytes?: number;
}

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

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(req.headers["content-length"] ?? 0) > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { webhook, logger } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const secret = Buffer.from(webhook.secret);

  const send = (res: ServerResponse, status: number, body = "") => {
    if (res.headersSent) return;
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: status === 200 ? "keep-alive" : "close" });
    res.end(body);
  };

  const onWebhook = async (req: IncomingMessage, res: ServerResponse) => {
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

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const route =
      path === webhook.path
        ? req.method === "POST"
          ? onWebhook(req, res)
          : Promise.resolve(send(res, 405, "method not allowed"))
        : Promise.resolve(send(res, 404, "not found"));
    route.catch((error: unknown) => {
      logger.error({ err: error }, "HTTP request failed");
      send(res, 500);
    });
  });
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
