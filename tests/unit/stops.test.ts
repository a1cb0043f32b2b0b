import type { Update } from "grammy/types";
import { describe, expect, test } from "vitest";
import { createGenerationStops, stopRequestOf } from "../../src/inbox/stops.ts";

describe("stop requests", () => {
  test("the draft's stop button and /cancel (to this bot) name their chat; anything else does not", () => {
    const message = (text: string) => ({ update_id: 1, message: { message_id: 1, date: 0, chat: { id: -5, type: "group", title: "g" }, text } }) as unknown as Update;
    expect(stopRequestOf({ update_id: 1, stopped_message_generation: { chat: { id: 7, type: "private", first_name: "A" }, draft_id: 3 } } as Update, "parley_bot")).toBe(7);
    expect(stopRequestOf(message("/cancel"), "parley_bot")).toBe(-5);
    expect(stopRequestOf(message("/cancel@Parley_Bot"), "parley_bot")).toBe(-5);
    expect(stopRequestOf(message("/cancel@other_bot"), "parley_bot")).toBeNull();
    expect(stopRequestOf(message("/cancellation"), "parley_bot")).toBeNull();
    expect(stopRequestOf(message("please /cancel"), "parley_bot")).toBeNull();
  });

  test("a stop aborts the chat's running generation once; a finished one is not stopped", () => {
    const stops = createGenerationStops();
    const first = stops.register(1);
    expect(stops.stop(2)).toBe(false);
    expect(stops.stop(1)).toBe(true);
    expect(first.signal.aborted).toBe(true);
    expect(stops.stop(1)).toBe(false);
    const second = stops.register(1);
    second.release();
    expect(stops.stop(1)).toBe(false);
    expect(second.signal.aborted).toBe(false);
    // An old registration's release does not unregister a newer generation of the chat.
    const third = stops.register(1);
    first.release();
    expect(stops.stop(1)).toBe(true);
    expect(third.signal.aborted).toBe(true);
  });
});
