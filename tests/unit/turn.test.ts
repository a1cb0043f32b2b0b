/**
 * A leased inbox row as a handler sees it: the turn decides every end of its row. A commit of a
 * failed turn ends it (the statement did, with the message), a lost lease ends it here, an answer
 * leaves it to the delivery; whatever ended says so, so that nothing is written for it again.
 */
import { pino } from "pino";
import { describe, expect, test } from "vitest";
import type { ClaimedUpdate, InboxRepository } from "../../src/db/inbox.repository.ts";
import type { LeasedTurn } from "../../src/db/turn-commit.repository.ts";
import type { TurnRecord } from "../../src/domain/turns.ts";
import { createTurn, type TurnCommits } from "../../src/inbox/turn.ts";

const row: ClaimedUpdate = { updateId: 41n, chatId: 7n, state: "working", attempts: 1, payload: {}, answer: null, delivery: null, lastError: null, chatHasMore: false };
const record = (result: TurnRecord["result"]): TurnRecord => ({
  chat: { id: 7, type: "private", title: null },
  conversation: "",
  user: { id: 7, username: null, firstName: "Ann", lastName: null },
  content: "hi",
  telegramMessageId: 1,
  result,
});

/** A turn whose commits answer `stored`, and what it asked of the inbox and of the worker. */
function turnWith(stored: { answerId: bigint | null } | null) {
  const committed: LeasedTurn[] = [];
  const finished: string[] = [];
  let woken = 0;
  const commits: TurnCommits = {
    commit: async (input) => (committed.push(input), stored),
    commitRetry: async () => stored,
  };
  const inbox = {
    finish: async (_id: bigint, _owner: string, state: string) => (finished.push(state), { held: true, chatHasMore: false }),
  } as unknown as InboxRepository;
  const turn = createTurn(row, inbox, commits, "me", pino({ level: "silent" }), () => woken++);
  return { turn, committed, finished, woken: () => woken };
}

describe("a turn's commits", () => {
  test("go under the row's lease; the dialogue's key is the update", async () => {
    const { turn, committed } = turnWith({ answerId: 5n });
    expect(turn.key).toBe("41");
    expect(await turn.commit(record({ answer: "hello" }))).toEqual({ kind: "committed", answerId: 5n });
    expect(committed[0]).toMatchObject({ updateId: 41n, owner: "me", content: "hi" });
  });

  test("an answer committed leaves the row to its delivery", async () => {
    const { turn, finished } = turnWith({ answerId: 5n });
    await turn.commit(record({ answer: "hello" }));
    expect(turn.ended).toBe(false);
    await turn.delivered();
    expect(finished).toEqual(["delivered"]);
  });

  test("a failed turn's commit ends the row: nothing more is written for it, and the chat's next update may run", async () => {
    const { turn, woken } = turnWith({ answerId: null });
    expect(await turn.commit(record({ failed: "timeout" }))).toEqual({ kind: "committed", answerId: null });
    expect(turn.ended).toBe(true);
    expect(woken()).toBe(1);
  });

  test("a lost lease ends the turn here, without waking anything", async () => {
    const { turn, woken } = turnWith(null);
    expect(await turn.commit(record({ answer: "late" }))).toEqual({ kind: "lease_lost" });
    expect(turn.ended).toBe(true);
    expect(woken()).toBe(0);
    expect(await turn.commitRetry({ turn: { questionId: 1n, answerId: 2n, kind: "text", attachment: null, content: "q", userId: 7n, authorName: "Ann" }, userId: 7, result: { failed: "x" } })).toEqual({ kind: "lease_lost" });
  });
});
