import { pino } from "pino";
import { describe, expect, test, vi } from "vitest";
import type { MessageRepository } from "../../src/db/message.repository.ts";
import type { HistoryBudget, HistoryMessage, TurnResult } from "../../src/domain/messages.ts";
import type { RetryRecord, TurnCommit, TurnRecord } from "../../src/domain/turns.ts";
import { createDialogueService, type TurnRequest } from "../../src/dialogue/dialogue.service.ts";
import { fromTurnBoundary, toModelMessages } from "../../src/dialogue/prompt.ts";
import { LlmError, type ModelMessage, type LlmClient } from "../../src/llm/client.ts";
import { UNSTORABLE_ANSWERS } from "../corpus/answers.ts";
import type { LimitVerdict } from "../../src/limits/usage.service.ts";

const logger = pino({ level: "silent" });
const settings = { systemPrompt: "SYSTEM", historyMaxMessages: 10, historyMaxChars: 1000 };
const turn: TurnRequest = {
  chat: { id: 1, type: "private", title: null },
  user: { id: 2, username: null, firstName: "Ann", lastName: null },
  text: "hello",
  telegramMessageId: 3,
  isGroup: false,
};

const historyMessage = (role: HistoryMessage["role"], content: string, authorName: string | null = null): HistoryMessage => ({
  id: 1n,
  role,
  kind: "text",
  attachment: null,
  content,
  charLength: [...content].length,
  userId: null,
  authorName,
  createdAt: new Date(),
});

/** The message repository, and the commits of the inbox row being answered (null: the lease was lost). */
type TestRepository = MessageRepository & {
  recordTurn(record: TurnRecord): Promise<{ answerId: bigint | null } | null>;
  recordRetry(record: RetryRecord): Promise<{ answerId: bigint | null } | null>;
};

/** The inbox row's side of a turn, as the dialogue sees it: its commits go to the test repository. */
const rowOf = (repository: TestRepository): TurnCommit => {
  const outcome = (stored: { answerId: bigint | null } | null) => (stored === null ? { kind: "lease_lost" as const } : { kind: "committed" as const, answerId: stored.answerId });
  return { key: "9", commit: async (record) => outcome(await repository.recordTurn(record)), commitRetry: async (record) => outcome(await repository.recordRetry(record)) };
};

function memoryRepository(overrides: Partial<TestRepository> = {}) {
  const recorded: TurnResult[] = [];
  const budgets: HistoryBudget[] = [];
  const repository: TestRepository = {
    async recordTurn({ result }) {
      recorded.push(result);
      return { answerId: "answer" in result ? 7n : null };
    },
    async recentHistory(_chatId, budget) {
      budgets.push(budget);
      return [historyMessage("user", "earlier", "Ann"), historyMessage("assistant", "reply")];
    },
    recentHistories(requests) {
      return Promise.all(requests.map((r) => repository.recentHistory(r.where, r.budget)));
    },
    async clearHistory() {
      return { count: 0, mark: "0" };
    },
    async restoreCleared() {
      return 0;
    },
    async clearedConversations() {
      return [];
    },
    async purgeDeleted() {
      return 0;
    },
    async latestAnswer() {
      return null;
    },
    async moveChat() {
      return 0;
    },
    async liveMessages() {
      return [];
    },
    async latestAnswered() {
      return null;
    },
    async editUserMessage() {
      return null;
    },
    async recordRetry() {
      return null;
    },
    ...overrides,
  };
  return { repository, recorded, budgets };
}

const scripted = (script: (turns: ModelMessage[]) => AsyncIterable<string>): LlmClient & { seen: ModelMessage[][] } => {
  const seen: ModelMessage[][] = [];
  return {
    seen,
    server: "models.example:8000",
    model: "test-model",
    stream(turns) {
      seen.push(turns);
      return script(turns);
    },
  };
};

async function* words(...parts: string[]) {
  for (const p of parts) yield p;
}

describe("dialogue service", () => {
  test("sends system prompt + history + the message, streams, and records the answer once", async () => {
    const { repository, recorded, budgets } = memoryRepository();
    const llm = scripted(() => words("Hel", "lo!"));
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    const progress: string[] = [];
    expect(await dialogue.reply(turn, rowOf(repository), (t) => progress.push(t))).toEqual({ kind: "answer", text: "Hello!" });
    expect(progress).toEqual(["Hel", "Hello!"]);
    expect(llm.seen[0]).toEqual([
      { role: "system", content: "SYSTEM" },
      { role: "user", content: "earlier" },
      { role: "assistant", content: "reply" },
      { role: "user", content: "hello" },
    ]);
    // The server reported no usage: estimated, about four characters a token plus framing.
    expect(recorded).toEqual([{ answer: "Hello!", usage: { model: "test-model", promptTokens: 27, completionTokens: 2, estimated: true } }]);
    // The message being answered always goes: the history gets what is left of the budget.
    expect(budgets).toEqual([{ maxMessages: 9, maxChars: 995 }]);
  });

  test.each(Object.entries(UNSTORABLE_ANSWERS))("an answer with %s is cleaned before it is stored and delivered", async (_name, raw) => {
    const { repository, recorded } = memoryRepository();
    const dialogue = createDialogueService({ repository, llm: scripted(() => words(raw)), settings, logger });
    const outcome = await dialogue.reply(turn, rowOf(repository), () => undefined);
    const clean = raw.toWellFormed().replaceAll("\u0000", "");
    expect(outcome).toEqual({ kind: "answer", text: clean });
    expect(recorded).toEqual([expect.objectContaining({ answer: clean })]);
    expect(clean.isWellFormed() && !clean.includes("\u0000")).toBe(true);
  });

  test("an answer longer than ANSWER_MAX_CHARS is cut there, marked, and the model's stream is left", async () => {
    const { repository, recorded } = memoryRepository();
    let pulled = 0;
    let ended = false;
    const endless = scripted(async function* () {
      try {
        for (;;) {
          pulled++;
          yield "word ";
        }
      } finally {
        ended = true;
      }
    });
    const dialogue = createDialogueService({ repository, llm: endless, settings: { ...settings, answerMaxChars: 1_000 }, logger });
    const outcome = await dialogue.reply(turn, rowOf(repository), () => undefined);
    expect(outcome).toEqual({ kind: "answer", text: "word ".repeat(200), cut: "length" });
    expect(pulled).toBe(200);
    expect(ended).toBe(true);
    expect(recorded).toEqual([expect.objectContaining({ answer: "word ".repeat(200) })]);
  });

  describe("daily limits", () => {
    const ledger = () => {
      const calls: Array<[string, ...unknown[]]> = [];
      let left = Number.POSITIVE_INFINITY;
      let refuse: Extract<LimitVerdict, { ok: false }> | undefined;
      const usage = {
        tokensLimited: () => Number.isFinite(left),
        admit: async (userId: number, tokens: number) => (calls.push(["admit", userId, tokens]), refuse ?? { ok: true as const, day: "2026-12-05", tokensLeft: left }),
        settle: async (userId: number, day: string | null, delta: { messages: number; tokens: number }) => void calls.push(["settle", userId, day, delta]),
      };
      return { usage, calls, setLeft: (n: number) => (left = n), refuseWith: (v: typeof refuse) => (refuse = v) };
    };

    test("a turn over a limit is refused before the model is called, and nothing is stored", async () => {
      const { repository, recorded } = memoryRepository();
      const llm = scripted(() => words("never"));
      const { usage, refuseWith } = ledger();
      const verdict = { ok: false as const, limit: "daily_messages" as const, max: 1, resetsAt: new Date(), tell: true };
      refuseWith(verdict);
      const dialogue = createDialogueService({ repository, llm, settings, logger, usage });
      expect(await dialogue.reply(turn, rowOf(repository), () => undefined)).toEqual({ kind: "over_limit", verdict });
      expect(llm.seen).toHaveLength(0);
      expect(recorded).toEqual([]);
    });

    test("with a token limit, the request is counted with the tokenizer before it is sent; the answer stops where the tokens run out; the charge is settled to what was used", async () => {
      const { repository, recorded } = memoryRepository();
      const { usage, calls, setLeft } = ledger();
      setLeft(10);
      const dialogue = createDialogueService({ repository, llm: scripted(() => words(...Array.from({ length: 100 }, () => " the"))), settings, logger, usage });
      const outcome = await dialogue.reply(turn, rowOf(repository), () => undefined);
      expect(outcome).toMatchObject({ kind: "answer", cut: "tokens" });
      const reserved = calls[0]![2] as number;
      // system, two history messages and the question: their text (about a token each) and the chat format's framing.
      expect(calls[0]).toEqual(["admit", 2, expect.any(Number)]);
      expect(reserved).toBeGreaterThan(16);
      expect(reserved).toBeLessThan(30);
      const answer = (outcome as { text: string }).text;
      expect(answer.split(" the").length - 1).toBe(10); // " the" is one token: ten of them, then the stream was left
      const stored = recorded[0] as { usage: { promptTokens: number; completionTokens: number } };
      expect(stored.usage).toMatchObject({ promptTokens: reserved, completionTokens: 10, estimated: true });
      expect(calls[1]).toEqual(["settle", 2, "2026-12-05", { messages: 0, tokens: 10 }]);
    });

    test("a call that brought no answer gives its message back and keeps its tokens; /retry is charged to whoever asked", async () => {
      const { repository } = memoryRepository({
        latestAnswered: async () => ({ questionId: 5n, answerId: 6n, kind: "text", attachment: null, content: "q", userId: 77n, authorName: "Other" }),
      });
      const { usage, calls } = ledger();
      const failing = scripted(async function* () {
        yield* [];
        throw new LlmError("unavailable", "gone");
      });
      const dialogue = createDialogueService({ repository, llm: failing, settings, logger, usage });
      await dialogue.reply(turn, rowOf(repository), () => undefined);
      expect(calls[1]).toEqual(["settle", 2, "2026-12-05", { messages: -1, tokens: expect.any(Number) }]);
      expect((calls[1]![3] as { tokens: number }).tokens).toBeGreaterThan(0); // the prompt was sent: it counts
      await dialogue.retry({ chat: turn.chat, user: turn.user, isGroup: false }, rowOf(repository), () => undefined);
      expect(calls[2]).toEqual(["admit", 2, 0]); // user 2 asked; user 77 wrote the question
    });
  });

  test("the usage the server reports is stored with the answer, not an estimate", async () => {
    const { repository, recorded } = memoryRepository();
    const llm = scripted(() => words("Hi"));
    const reporting: typeof llm = {
      ...llm,
      async *stream(turns, signal, onUsage) {
        yield* llm.stream(turns, signal);
        onUsage?.({ promptTokens: 120, completionTokens: 7 });
      },
    };
    const dialogue = createDialogueService({ repository, llm: reporting, settings, logger });
    expect(await dialogue.reply(turn, rowOf(repository), () => undefined)).toEqual({ kind: "answer", text: "Hi" });
    expect(recorded).toEqual([{ answer: "Hi", usage: { model: "test-model", promptTokens: 120, completionTokens: 7, estimated: false } }]);
  });

  test("a message over the whole budget goes alone", async () => {
    const { repository, budgets } = memoryRepository({ recentHistory: async (_c, budget) => (budgets.push(budget), []) });
    const llm = scripted(() => words("ok"));
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    await dialogue.reply({ ...turn, text: "x".repeat(5000) }, rowOf(repository), () => {});
    expect(budgets[0]!.maxChars).toBeLessThan(0);
    expect(llm.seen[0]!.slice(1)).toEqual([{ role: "user", content: "x".repeat(5000) }]);
  });

  test("a message already stored through another update is not delivered again", async () => {
    const { repository } = memoryRepository({ recordTurn: async () => ({ answerId: null }) });
    const dialogue = createDialogueService({ repository, llm: scripted(() => words("again")), settings, logger });
    expect(await dialogue.reply(turn, rowOf(repository), () => {})).toEqual({ kind: "duplicate" });
  });

  test("a database failure before the model is an outcome, and the model is not called", async () => {
    const { repository } = memoryRepository({
      recentHistory: async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      },
    });
    const llm = scripted(() => words("never"));
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    expect(await dialogue.reply(turn, rowOf(repository), () => {})).toEqual({ kind: "storage_unavailable" });
    expect(llm.seen).toHaveLength(0);
  });

  test("a model failure is recorded as failed (the message kept out of context), no answer stored", async () => {
    const { repository, recorded } = memoryRepository();
    const llm = scripted(async function* () {
      yield "Half an ans";
      throw new LlmError("unavailable", "gone");
    });
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    expect(await dialogue.reply(turn, rowOf(repository), () => {})).toEqual({ kind: "llm_failed", failure: "unavailable", partial: "Half an ans" });
    // The call was made: what it cost is counted (the server reported nothing: estimated).
    expect(recorded).toEqual([{ failed: "unavailable", usage: { model: "test-model", promptTokens: expect.any(Number), completionTokens: 3, estimated: true } }]);
  });

  test("the window starts at a turn boundary: an answer whose question fell out of the budget is left out too", async () => {
    const { repository } = memoryRepository({
      async recentHistory() {
        return [historyMessage("assistant", "an answer cut from its question"), historyMessage("assistant", "and its second part"), historyMessage("user", "next question", "Ann"), historyMessage("assistant", "next answer")];
      },
    });
    const llm = scripted(async function* () {
      yield "ok";
    });
    await createDialogueService({ repository, llm, settings, logger }).reply(turn, rowOf(repository), () => {});
    expect(llm.seen[0]!.map((m) => [m.role, m.content])).toEqual([
      ["system", settings.systemPrompt],
      ["user", "next question"],
      ["assistant", "next answer"],
      ["user", turn.text],
    ]);
    expect(fromTurnBoundary([{ role: "assistant" }, { role: "assistant" }])).toEqual([]);
    expect(fromTurnBoundary([{ role: "user" }, { role: "assistant" }])).toHaveLength(2);
  });

  test("a failed model call is logged with the server that failed", async () => {
    const { repository } = memoryRepository();
    const llm = scripted(async function* () {
      yield* [];
      throw new LlmError("unavailable", "Could not connect to the model server");
    });
    const lines: Array<Record<string, unknown>> = [];
    const capture = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const dialogue = createDialogueService({ repository, llm, settings, logger: capture });
    await dialogue.reply(turn, rowOf(repository), () => {});
    expect(lines.find((l) => l.msg === "model call failed")).toMatchObject({ failure: "unavailable", modelServer: "models.example:8000", chatId: expect.any(Number) }); // the update id comes from the turn's log context (logger.test.ts)
  });

  test("a model call the server refuses as misconfigured names the setting to check: the key for 401, the model and URL for 404", async () => {
    for (const [status, check] of [
      [401, "OPENAI_API_KEY"],
      [404, "OPENAI_MODEL (test-model) and OPENAI_BASE_URL"],
    ] as const) {
      const { repository } = memoryRepository();
      const llm = scripted(async function* () {
        yield* [];
        throw new LlmError("misconfigured", "refused", { status });
      });
      const lines: Array<Record<string, unknown>> = [];
      const capture = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
      await createDialogueService({ repository, llm, settings, logger: capture }).reply(turn, rowOf(repository), () => {});
      expect(lines.find((l) => l.failure === "misconfigured")).toMatchObject({ level: 50, status, check, msg: `model call failed: check ${check}` });
    }
  });

  test("a model call cancelled by shutdown records nothing: the turn runs again", async () => {
    const { repository, recorded } = memoryRepository();
    const llm = scripted(async function* () {
      yield "Half";
      throw new LlmError("cancelled", "stop");
    });
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    expect(await dialogue.reply(turn, rowOf(repository), () => {})).toEqual({ kind: "cancelled" });
    expect(recorded).toEqual([]);
  });

  test("an empty answer is recorded as failed", async () => {
    const { repository, recorded } = memoryRepository();
    const dialogue = createDialogueService({ repository, llm: scripted(() => words("", "  ")), settings, logger });
    expect(await dialogue.reply(turn, rowOf(repository), () => {})).toEqual({ kind: "empty_answer" });
    expect(recorded).toEqual([{ failed: "empty_answer", usage: { model: "test-model", promptTokens: expect.any(Number), completionTokens: 1, estimated: true } }]);
  });

  test("a lost lease drops the answer (another instance has the turn)", async () => {
    const { repository } = memoryRepository({ recordTurn: async () => null });
    const dialogue = createDialogueService({ repository, llm: scripted(() => words("ok")), settings, logger });
    expect(await dialogue.reply(turn, rowOf(repository), () => {})).toEqual({ kind: "lease_lost" });
  });

  test("storing the answer is retried through a blip; if the database stays away the turn is retried later", async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const flaky = memoryRepository({
        recordTurn: async () => {
          if (++calls < 3) throw new Error("database went away");
          return { answerId: 1n };
        },
      });
      const dialogue = createDialogueService({ repository: flaky.repository, llm: scripted(() => words("ok")), settings, logger });
      const outcome = dialogue.reply(turn, rowOf(flaky.repository), () => {});
      await vi.runAllTimersAsync();
      expect(await outcome).toEqual({ kind: "answer", text: "ok" });
      expect(calls).toBe(3);

      const down = memoryRepository({
        recordTurn: async () => {
          throw new Error("database went away");
        },
      });
      const gone = createDialogueService({ repository: down.repository, llm: scripted(() => words("ok")), settings, logger });
      const later = gone.reply(turn, rowOf(down.repository), () => {});
      await vi.runAllTimersAsync();
      expect(await later).toEqual({ kind: "storage_unavailable" });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("toModelMessages", () => {
  test("names the speakers in groups only, the current message too", () => {
    const history = [historyMessage("user", "hi", "Ann"), historyMessage("assistant", "hello")];
    const current = { text: "and you?", user: { id: 3, username: null, firstName: "Bo", lastName: null } };
    expect(toModelMessages("S", history, { ...current, isGroup: true }).map((t) => t.content)).toEqual(["S", "Ann: hi", "hello", "Bo: and you?"]);
    expect(toModelMessages("S", history, { ...current, isGroup: false }).map((t) => t.content)).toEqual(["S", "hi", "hello", "and you?"]);
  });
});
