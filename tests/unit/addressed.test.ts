import type { Message, UserFromGetMe } from "grammy/types";
import { describe, expect, test } from "vitest";
import { addressedText, sanitizeText } from "../../src/telegram/features/chat.ts";

const me = { id: 42, is_bot: true, first_name: "Parley", username: "parley_bot" } as UserFromGetMe;
const message = (text: string, extra: Partial<Message.TextMessage> = {}) =>
  ({
    message_id: 1,
    date: 0,
    chat: { id: -1, type: "group", title: "g" },
    text,
    entities: [...text.matchAll(/@\w+/g)].map((m) => ({ type: "mention" as const, offset: m.index, length: m[0].length })),
    ...extra,
  }) as Message.TextMessage;

describe("addressedText", () => {
  test("ignores group chatter that is not for the bot", () => {
    expect(addressedText(message("hello everyone"), me)).toBeNull();
    expect(addressedText(message("ask @someone_else"), me)).toBeNull();
  });

  test("takes a mention anywhere, case-insensitively, and removes it", () => {
    expect(addressedText(message("@Parley_Bot what time is it?"), me)).toBe("what time is it?");
    expect(addressedText(message("so, @parley_bot, thoughts?"), me)).toBe("so, Parley, thoughts?");
    expect(addressedText(message("@parley_bot, hi"), me)).toBe("hi");
  });

  test("takes a reply to one of the bot's messages", () => {
    const reply = message("and then?", { reply_to_message: { from: me } as unknown as Message.TextMessage["reply_to_message"] });
    expect(addressedText(reply, me)).toBe("and then?");
  });

  test("a bare mention is an empty request", () => {
    expect(addressedText(message("@parley_bot"), me)).toBe("");
  });
});

test("sanitizeText removes what PostgreSQL text cannot hold", () => {
  expect(sanitizeText("a\u0000b")).toBe("ab");
  expect(sanitizeText("broken \ud800 pair")).toBe("broken \ufffd pair");
  expect(sanitizeText("Привет 👋")).toBe("Привет 👋");
});
