import type { Message, UserFromGetMe } from "grammy/types";
import { describe, expect, test } from "vitest";
import { addressedText, mediaPromptOf, promptOf } from "../../src/telegram/prompt.ts";
import { cleanText } from "../../src/lib/text.ts";

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

test("cleanText removes what PostgreSQL text cannot hold", () => {
  expect(cleanText("a\u0000b")).toBe("ab");
  expect(cleanText("broken \ud800 pair")).toBe("broken \ufffd pair");
  expect(cleanText("Привет 👋")).toBe("Привет 👋");
});

describe("promptOf", () => {
  const privateText = (text: string, extra: Record<string, unknown> = {}) =>
    ({ message_id: 2, date: 0, chat: { id: 5, type: "private", first_name: "A" }, text, ...extra }) as unknown as Message;
  const ann = { id: 7, is_bot: false, first_name: "Ann" };

  test("a caption is a prompt, marked with what it came with when the bot does not read that (a video); a file's own caption is its prompt", () => {
    const video = { message_id: 2, date: 0, chat: { id: 5, type: "private" }, video: {}, caption: "what is this?" } as unknown as Message;
    expect(promptOf(video, me, false)).toBe("[video] what is this?");
    const doc = { message_id: 2, date: 0, chat: { id: -1, type: "group" }, document: {}, caption: "@parley_bot summarize", caption_entities: [{ type: "mention", offset: 0, length: 11 }] } as unknown as Message;
    expect(mediaPromptOf(doc, me, true)).toBe("summarize");
    const unaddressed = { ...doc, caption: "for the team", caption_entities: [] } as unknown as Message;
    expect(mediaPromptOf(unaddressed, me, true)).toBeNull();
    expect(mediaPromptOf({ ...unaddressed, caption: undefined, reply_to_message: { from: { id: me.id } } } as unknown as Message, me, true)).toBe("");
    expect(mediaPromptOf({ ...unaddressed, caption: undefined } as unknown as Message, me, false)).toBe("");
  });

  test("a reply carries the text replied to as a quote: the selected part, else the whole message, never the bot's own", () => {
    const replyToAnn = { message_id: 1, date: 0, chat: { id: 5, type: "private" }, from: ann, text: "line one\nline two" };
    expect(promptOf(privateText("is this right?", { reply_to_message: replyToAnn }), me, false)).toBe("> line one\n> line two\n\nis this right?");
    expect(promptOf(privateText("why?", { reply_to_message: replyToAnn, quote: { text: "line two", position: 9 } }), me, false)).toBe("> line two\n\nwhy?");
    const replyToBot = { message_id: 1, date: 0, chat: { id: 5, type: "private" }, from: me, text: "my answer" };
    expect(promptOf(privateText("more", { reply_to_message: replyToBot }), me, false)).toBe("more");
    expect(promptOf(privateText("this bit", { reply_to_message: replyToBot, quote: { text: "answer", position: 3 } }), me, false)).toBe("> answer\n\nthis bit");
    const long = { ...replyToAnn, text: "x".repeat(5_000) };
    expect(promptOf(privateText("tl;dr", { reply_to_message: long }), me, false)).toBe(`> ${"x".repeat(1_000)}…\n\ntl;dr`);
  });
});
