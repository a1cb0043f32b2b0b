import { describe, expect, test } from "vitest";
import { createButtons, DATA_MAX_BYTES } from "../../src/telegram/buttons.ts";

describe("signed buttons", () => {
  const buttons = createButtons("123456:bot-token");

  test("a button made for a chat is read back there, within Telegram's 64 bytes", () => {
    const data = buttons.sign(-1001, "undo:1733400000123456");
    expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
    expect(buttons.verify(-1001, data)).toBe("undo:1733400000123456");
    expect(Buffer.byteLength(buttons.sign(-1001, "x".repeat(DATA_MAX_BYTES)))).toBe(64);
  });

  test("changed data, a made-up MAC, another chat or another bot's key: refused", () => {
    const data = buttons.sign(-1001, "forget:yes:42");
    expect(buttons.verify(-1001, data.replace("42", "43"))).toBeNull();
    expect(buttons.verify(-1001, "forget:yes:43~AAAAAAAAAAAA")).toBeNull();
    expect(buttons.verify(-1001, "forget:yes:42")).toBeNull();
    expect(buttons.verify(-1002, data)).toBeNull();
    expect(createButtons("123456:other-token").verify(-1001, data)).toBeNull();
  });

  test("data too long for Telegram, or with the separator, is a bug: it throws", () => {
    expect(() => buttons.sign(1, "x".repeat(DATA_MAX_BYTES + 1))).toThrow();
    expect(() => buttons.sign(1, "a~b")).toThrow();
  });
});
