import { Writable } from "node:stream";
import { expect, test } from "vitest";
import { createLogContext, createLogger } from "../../src/logger.ts";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, destination };
}

test("secrets are scrubbed from every log line, wherever they hide", () => {
  const { lines, destination } = capture();
  const token = "123456:AAHsecret-token-value";
  const logger = createLogger({ level: "info", secrets: [token, "sk-live-apikey-123"], destination });
  logger.error({ err: new Error(`request to https://api.telegram.org/bot${token}/getUpdates failed`) }, "network");
  logger.info({ config: { openai: { apiKey: "sk-live-apikey-123" } } }, "settings");
  logger.info(`the key sk-live-apikey-123 in a message`);
  expect(lines).toHaveLength(3);
  const all = lines.join("");
  expect(all).not.toContain("secret-token-value");
  expect(all).not.toContain("sk-live-apikey-123");
  expect(all).toContain("[REDACTED]");
  expect(all).toContain("getUpdates failed");
});

test("a secret with quotes and backslashes is scrubbed as JSON escapes it, and as a URL encodes it", () => {
  const { lines, destination } = capture();
  const password = 'pa"ss\\word%!';
  const logger = createLogger({ level: "info", secrets: [password], destination });
  logger.error({ reason: `password ${password} rejected` }, "database");
  logger.error(`connect postgres://parley:${encodeURIComponent(password)}@db/parley failed`);
  const all = lines.join("");
  expect(all).not.toContain("ss\\\\word");
  expect(all).not.toContain(encodeURIComponent(password));
  expect(all.match(/\[REDACTED\]/g)).toHaveLength(2);
  expect(JSON.parse(lines[0]!).reason).toBe("password [REDACTED] rejected");
});

test("every line written inside a log context carries its fields, from child loggers and later callbacks too", async () => {
  const { lines, destination } = capture();
  const context = createLogContext();
  const logger = createLogger({ level: "info", secrets: [], destination, context });
  const child = logger.child({ chatId: 7 });
  await context.run({ updateId: 42 }, async () => {
    logger.info("start");
    await new Promise((resolve) => setTimeout(resolve, 1));
    child.warn("later, from a child");
  });
  logger.info("outside");
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(parsed.map((l) => [l.msg, l.updateId, l.chatId])).toEqual([
    ["start", 42, undefined],
    ["later, from a child", 42, 7],
    ["outside", undefined, undefined],
  ]);
  // One key, not two: JSON with a repeated key would confuse log tools.
  expect(lines[1]!.match(/"updateId"/g)).toHaveLength(1);
});
