import type { Update } from "grammy/types";
import { describe, expect, test } from "vitest";
import { createGenerationStops, parseStopRequest, stopRequestOf, type StopRequest } from "../../src/inbox/stops.ts";

describe("stop requests", () => {
  test("the draft's stop button names its draft; /cancel (to this bot) its chat and topic; anything else nothing", () => {
    const message = (text: string, extra: object = {}) =>
      ({ update_id: 1, message: { message_id: 1, date: 0, chat: { id: -5, type: "supergroup", title: "g" }, from: { id: 9, is_bot: false, first_name: "B", username: "bee" }, text, ...extra } }) as unknown as Update;
    expect(stopRequestOf({ update_id: 1, stopped_message_generation: { chat: { id: 7, type: "private", first_name: "A" }, draft_id: 3 } } as Update, "parley_bot")).toEqual({
      chatId: 7,
      topicId: undefined,
      user: { id: 7, username: undefined },
      draftId: 3,
    });
    expect(stopRequestOf(message("/cancel"), "parley_bot")).toEqual({ chatId: -5, topicId: undefined, user: { id: 9, username: "bee" }, senderChatId: undefined });
    expect(stopRequestOf(message("/cancel@Parley_Bot", { is_topic_message: true, message_thread_id: 4 }), "parley_bot")?.topicId).toBe(4);
    // A reply in the general topic carries a thread id too, but is not in a topic.
    expect(stopRequestOf(message("/cancel", { message_thread_id: 4 }), "parley_bot")?.topicId).toBeUndefined();
    expect(stopRequestOf(message("/cancel@other_bot"), "parley_bot")).toBeNull();
    expect(stopRequestOf(message("/cancellation"), "parley_bot")).toBeNull();
    expect(stopRequestOf(message("please /cancel"), "parley_bot")).toBeNull();
  });

  test("a request names only the answers of its chat and topic, or its one draft", () => {
    const stops = createGenerationStops();
    stops.register({ chatId: -5, authorId: 1 });
    stops.register({ chatId: -5, topicId: 4, authorId: 2 });
    stops.register({ chatId: 7, authorId: 7, draftId: 11 });
    const ask = (request: Partial<StopRequest>) => stops.named({ chatId: -5, user: { id: 1 }, ...request }).map((a) => a.authorId);
    expect(ask({})).toEqual([1]);
    expect(ask({ topicId: 4 })).toEqual([2]);
    expect(ask({ chatId: 8 })).toEqual([]);
    // A stale stop button (an earlier draft) names nothing that runs now.
    expect(ask({ chatId: 7, draftId: 10 })).toEqual([]);
    expect(ask({ chatId: 7, draftId: 11 })).toEqual([7]);
  });

  test("a stop aborts a running answer once; a released one is not stopped", () => {
    const stops = createGenerationStops();
    const first = stops.register({ chatId: 1, authorId: 1 });
    const [running] = stops.named({ chatId: 1, user: { id: 1 } });
    expect(stops.stop(running!)).toBe(true);
    expect(first.signal.aborted).toBe(true);
    expect(stops.stop(running!)).toBe(false);
    const second = stops.register({ chatId: 1, authorId: 1 });
    second.release();
    expect(stops.named({ chatId: 1, user: { id: 1 } })).toEqual([]);
    expect(second.signal.aborted).toBe(false);
  });

  test("a request passed between instances is read back, and anything else is refused", () => {
    const request: StopRequest = { chatId: -5, topicId: 4, user: { id: 9, username: "bee" }, senderChatId: -5 };
    expect(parseStopRequest(JSON.stringify(request))).toEqual({ ...request, draftId: undefined });
    expect(parseStopRequest("-5")).toBeNull();
    expect(parseStopRequest("{")).toBeNull();
    expect(parseStopRequest(JSON.stringify({ chatId: "x", user: { id: 1 } }))).toBeNull();
    expect(parseStopRequest(JSON.stringify({ chatId: 1, user: { id: 1 }, draftId: 1.5 }))).toBeNull();
  });
});
