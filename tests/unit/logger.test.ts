import { Writable } from "node:stream";
import { expect, test } from "vitest";
import { createLogger } from "../../src/logger.ts";

test("secrets are scrubbed from every log line, wherever they hide", () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
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
