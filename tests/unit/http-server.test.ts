/**
 * The HTTP server bounds what one client can hold: a connection that dribbles its headers or its
 * body is closed, and past the connection cap new ones are turned away, while /healthz answers.
 */
import net from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, test } from "vitest";
import { createHttpServer, type HttpServer } from "../../src/http/server.ts";

const logger = pino({ level: "silent" });
let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(limits: Parameters<typeof createHttpServer>[0]["limits"], ops = false): Promise<number> {
  server = createHttpServer({
    host: "127.0.0.1",
    port: 0,
    logger,
    readiness: async () => ({ ready: false, checks: { database: "unreachable", telegram: "ok" } }),
    metrics: { contentType: "text/plain", render: async () => "parley_up 1\n" },
    webhook: ops ? undefined : { path: "/hook", secret: "s3cret", ingest: async () => undefined },
    ops,
    limits,
  });
  return server.listen();
}

/** Resolves when the server closes this connection (or rejects after `ms`: the bound did not hold). */
const closedWithin = (socket: net.Socket, ms: number) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the connection was still open after ${ms} ms`)), ms);
    socket.once("close", () => (clearTimeout(timer), resolve()));
  });

const connect = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", () => undefined);
    socket.once("error", reject);
  });

const health = async (port: number) => (await fetch(`http://127.0.0.1:${port}/healthz`)).status;

describe("HTTP bounds", () => {
  test("a client that never finishes its headers is cut off", async () => {
    const port = await start({ headersMs: 300, requestMs: 120_000, checkMs: 50 });
    const socket = await connect(port);
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"); // and never the blank line
    await closedWithin(socket, 10_000);
    expect(await health(port)).toBe(200);
  });

  test("a client that dribbles its body is cut off", async () => {
    const port = await start({ headersMs: 300, requestMs: 600, checkMs: 50 });
    const socket = await connect(port);
    socket.write("POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nX-Telegram-Bot-Api-Secret-Token: s3cret\r\n\r\n{");
    const drip = setInterval(() => socket.writable && socket.write(" "), 50);
    try {
      await closedWithin(socket, 10_000);
    } finally {
      clearInterval(drip);
    }
  });

  test("past the connection cap a new connection is closed at once; those within it are served", async () => {
    const port = await start({ maxConnections: 3 });
    const held = await Promise.all([connect(port), connect(port), connect(port)]);
    const extra = await connect(port);
    await closedWithin(extra, 10_000);
    // A connection within the cap is served all the while.
    const answer = new Promise<string>((resolve) => held[0]!.once("data", (data: Buffer) => resolve(data.toString())));
    held[0]!.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    held.forEach((s) => s.destroy());
  });
});

describe("ops endpoints", () => {
  const get = async (port: number, path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, body: await response.text() };
  };

  test("the webhook's public listener says only whether it is ready, and has no /metrics", async () => {
    const port = await start({});
    expect(await get(port, "/readyz")).toEqual({ status: 503, body: '{"ready":false}\n' });
    expect((await get(port, "/metrics")).status).toBe(404);
    expect((await get(port, "/healthz")).status).toBe(200);
  });

  test("the ops listener says which check fails, and serves /metrics", async () => {
    const port = await start({}, true);
    expect(JSON.parse((await get(port, "/readyz")).body)).toEqual({ ready: false, checks: { database: "unreachable", telegram: "ok" } });
    expect(await get(port, "/metrics")).toEqual({ status: 200, body: "parley_up 1\n" });
    expect((await get(port, "/hook")).status).toBe(404);
  });
});
