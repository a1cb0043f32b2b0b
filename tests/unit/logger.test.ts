import { Writable } from "node:stream";
import { GrammyError } from "grammy";
import OpenAI from "openai";
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
  const logger = createLogger({ level: "info", secrets: [], passwords: [password], destination });
  logger.error({ reason: `password ${password} rejected` }, "database");
  logger.error(`connect postgres://parley:${encodeURIComponent(password)}@db/parley failed`);
  const all = lines.join("");
  expect(all).not.toContain("ss\\\\word");
  expect(all).not.toContain(encodeURIComponent(password));
  expect(all.match(/\[REDACTED\]/g)).toHaveLength(2);
  expect(JSON.parse(lines[0]!).reason).toBe("password [REDACTED] rejected");
});

test("a database password that is a word (the compose file's \"parley\") is scrubbed only where it stands as a password", () => {
  const { lines, destination } = capture();
  const logger = createLogger({ level: "info", secrets: [], passwords: ["parley"], destination });
  logger.error("connect postgres://parley:parley@postgres:5432/parley failed");
  const line = JSON.parse(lines[0]!) as { app: string; msg: string };
  expect(line.app).toBe("parley");
  expect(line.msg).toBe("connect postgres://parley:[REDACTED]@postgres:5432/parley failed");
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

test("a line's fields are its own: they never reach a later line, with or without a log context", () => {
  const { lines, destination } = capture();
  const context = createLogContext();
  const logger = createLogger({ level: "info", secrets: [], destination, context });
  const child = logger.child({ chatId: 7 });
  logger.info({ receiving: "long polling", memoryProfile: "lean" }, "Parley is running");
  logger.info({ migration: "20261122000000_initial_schema" }, "migration applied");
  child.info({ answerChars: 12 }, "answered");
  context.run({ updateId: 1 }, () => {
    logger.warn({ err: new Error("boom"), reason: "refused" }, "inside");
    logger.info({ answerChars: 3 }, "answered");
  });
  logger.info("stopped");
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const own = (l: Record<string, unknown>) => Object.keys(l).filter((k) => !["level", "time", "app", "msg"].includes(k));
  expect(parsed.map((l) => [l.msg, own(l)])).toEqual([
    ["Parley is running", ["receiving", "memoryProfile"]],
    ["migration applied", ["migration"]],
    ["answered", ["chatId", "answerChars"]],
    ["inside", ["updateId", "err", "reason"]],
    ["answered", ["updateId", "answerChars"]],
    ["stopped", []],
  ]);
});

test("a log context's fields are on the lines written inside `run` and not after; the fields given to `run` are not changed", async () => {
  const { lines, destination } = capture();
  const context = createLogContext();
  const logger = createLogger({ level: "info", secrets: [], destination, context });
  const fields = { updateId: 9 };
  await context.run(fields, async () => {
    logger.info({ stored: true }, "a message was edited");
    await new Promise((resolve) => setTimeout(resolve, 1));
    logger.info("answered");
    expect(context.fields()).toEqual({ updateId: 9 });
  });
  logger.info("after");
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(parsed.map((l) => [l.msg, l.updateId, l.stored])).toEqual([
    ["a message was edited", 9, true],
    ["answered", 9, undefined],
    ["after", undefined, undefined],
  ]);
  expect(fields).toEqual({ updateId: 9 });
  expect(context.fields()).toEqual({});
});

const ANSWER = "the answer so far: Uquokka's secret plan";

test("a Telegram error logged as err shows what failed and why, never the request's payload", () => {
  const { lines, destination } = capture();
  const logger = createLogger({ level: "info", secrets: [], destination });
  const error = new GrammyError(
    "Call to 'sendMessageDraft' failed!",
    { ok: false, error_code: 429, description: "Too Many Requests: retry after 3", parameters: { retry_after: 3 } },
    "sendMessageDraft",
    { chat_id: 5, draft_id: 1, text: ANSWER },
  );
  logger.warn({ err: error }, "could not update the answer preview");
  logger.info({ answerChars: ANSWER.length }, "answered");
  expect(lines.join("")).not.toContain("Uquokka");
  const err = (JSON.parse(lines[0]!) as { err: Record<string, unknown> }).err;
  expect(err).toMatchObject({
    type: "GrammyError",
    message: "Call to 'sendMessageDraft' failed! (429: Too Many Requests: retry after 3)",
    method: "sendMessageDraft",
    error_code: 429,
    description: "Too Many Requests: retry after 3",
    parameters: { retry_after: 3 },
  });
  expect(err.stack).toContain("GrammyError");
  expect(err).not.toHaveProperty("payload");
  expect(Object.keys(JSON.parse(lines[1]!) as object)).not.toContain("err");
});

test("an error whose cause carries a payload, a model error with its response body, and an error under another key show no conversation text", () => {
  const { lines, destination } = capture();
  const logger = createLogger({ level: "info", secrets: [], destination });
  const telegram = new GrammyError("Call to 'sendMessage' failed!", { ok: false, error_code: 400, description: "Bad Request: message is too long" }, "sendMessage", {
    chat_id: 5,
    text: ANSWER,
  });
  logger.error({ err: new Error("could not deliver the answer", { cause: telegram }) }, "update failed");
  const model = OpenAI.APIError.generate(
    400,
    { error: { message: "Invalid 'messages'", code: "invalid_value", param: "messages", echoed: ANSWER } },
    undefined,
    new Headers({ "x-request-id": "req_1" }),
  );
  logger.error({ err: new Error("model call failed", { cause: model }) }, "model");
  logger.warn({ error: telegram }, "under error");
  logger.warn({ reason: telegram }, "under another key");
  logger.error(new AggregateError([telegram], "several"));
  expect(lines).toHaveLength(5);
  expect(lines.join("")).not.toContain("Uquokka");
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
  expect(parsed[0]!.err!.cause).toMatchObject({ type: "GrammyError", method: "sendMessage", error_code: 400, description: "Bad Request: message is too long" });
  expect(parsed[1]!.err!.cause).toMatchObject({ type: "BadRequestError", message: "400 Invalid 'messages'", status: 400, code: "invalid_value", param: "messages", requestID: "req_1" });
  expect(parsed[2]!.error).toMatchObject({ type: "GrammyError", description: "Bad Request: message is too long" });
  expect(parsed[3]!.reason).toMatchObject({ type: "GrammyError", description: "Bad Request: message is too long" });
  expect((parsed[4]!.err!.errors as unknown[])[0]).toMatchObject({ type: "GrammyError", method: "sendMessage" });
});
