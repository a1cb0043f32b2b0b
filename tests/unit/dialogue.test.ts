import { pino } from "pino";
import { describe, expect, test } from "vitest";
import type { HistoryMessage, MessageRepository } from "../../src/db/message.repository.ts";
import { createDialogueService, toChatTurns, type UserTurn } from "../../src/dialogue/dialogue.service.ts";
import { LlmError, type ChatTurn, type LlmClient } from "../../src/llm/client.ts";

const logger = pino({ level: "silent" });
const settings = { systemPrompt: "SYSTEM", historyMaxMessages: 10, historyMaxChars: 1000 };
const turn: UserTurn = {
  chat: { id: 1, type: "private", title: null },
  user: { id: 2, username: null, firstName: "Ann", lastName: null },
  text: "hello",
  telegramMessageId: 3,
  isGroup: false,
};

function memoryRepository(overrides: Partial<MessageRepository> = {}) {
  const stored: Array<{ role: string; content: string }> = [];
  const repository: MessageRepository = {
    async recordUserMessage({ content }) {
      stored.push({ role: "user", content });
      return { inserted: true, id: BigInt(stored.length) };
    },
    async recordAssistantMessage({ content }) {
      stored.push({ role: "assistant", content });
      return BigInt(stored.length);
    },
    async recentHistory() {
      return stored.map((m, i) => ({
        id: BigInt(i + 1),
        role: m.role as HistoryMessage["role"],
        content: m.content,
        charLength: [...m.content].length,
        userId: m.role === "user" ? 2n : null,
        authorName: m.role === "user" ? "Ann" : null,
        createdAt: new Date(),
      }));
    },
    async clearHistory() {
      return stored.splice(0).length;
    },
    ...overrides,
  };
  return { repository, stored };
}

const scripted = (script: (turns: ChatTurn[]) => AsyncIterable<string>): LlmClient & { seen: ChatTurn[][] } => {
  const seen: ChatTurn[][] = [];
  return {
    seen,
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
  test("stores the turn, sends system prompt + history, streams and stores the answer", async () => {
    const { repository, stored } = memoryRepository();
    const llm = scripted(() => words("Hel", "lo!"));
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    const progress: string[] = [];
    expect(await dialogue.reply(turn, (t) => progress.push(t))).toEqual({ kind: "answer", text: "Hello!" });
    expect(progress).toEqual(["Hel", "Hello!"]);
    expect(llm.seen[0]).toEqual([
      { role: "system", content: "SYSTEM" },
      { role: "user", content: "hello" },
    ]);
    expect(stored).toEqual([
      { role: "user", content: "hello" },
      { role: "assistant", content: "Hello!" },
    ]);
  });

  test("a re-delivered message is not answered again", async () => {
    const { repository } = memoryRepository({ recordUserMessage: async () => ({ inserted: false, id: null }) });
    const llm = scripted(() => words("never"));
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    expect(await dialogue.reply(turn, () => {})).toEqual({ kind: "duplicate" });
    expect(llm.seen).toHaveLength(0);
  });

  test("a database failure is an outcome, not an exception, and the model is not called", async () => {
    const { repository } = memoryRepository({
      recordUserMessage: async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      },
    });
    const llm = scripted(() => words("never"));
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    expect(await dialogue.reply(turn, () => {})).toEqual({ kind: "storage_unavailable" });
    expect(llm.seen).toHaveLength(0);
  });

  test("a model failure keeps the user's message and stores no answer", async () => {
    const { repository, stored } = memoryRepository();
    const llm = scripted(async function* () {
      yield "Half an ans";
      throw new LlmError("unavailable", "gone");
    });
    const dialogue = createDialogueService({ repository, llm, settings, logger });
    expect(await dialogue.reply(turn, () => {})).toEqual({ kind: "llm_failed", failure: "unavailable", partial: "Half an ans" });
    expect(stored).toEqual([{ role: "user", content: "hello" }]);
  });

  test("an empty answer is reported and not stored", async () => {
    const { repository, stored } = memoryRepository();
    const dialogue = createDialogueService({ repository, llm: scripted(() => words("", "  ")), settings, logger });
    expect(await dialogue.reply(turn, () => {})).toEqual({ kind: "empty_answer" });
    expect(stored).toHaveLength(1);
  });

  test("the answer still reaches the user when storing it fails", async () => {
    const { repository } = memoryRepository({
      recordAssistantMessage: async () => {
        throw new Error("database went away");
      },
    });
    const dialogue = createDialogueService({ repository, llm: scripted(() => words("ok")), settings, logger });
    expect(await dialogue.reply(turn, () => {})).toEqual({ kind: "answer", text: "ok" });
  });
});

describe("toChatTurns", () => {
  const message = (role: HistoryMessage["role"], content: string, authorName: string | null): HistoryMessage => ({
    id: 1n,
    role,
    content,
    charLength: content.length,
    userId: null,
    authorName,
    createdAt: new Date(),
  });

  test("names the speakers in groups only", () => {
    const history = [message("user", "hi", "Ann"), message("assistant", "hello", null)];
    expect(toChatTurns("S", history, true).map((t) => t.content)).toEqual(["S", "Ann: hi", "hello"]);
    expect(toChatTurns("S", history, false).map((t) => t.content)).toEqual(["S", "hi", "hello"]);
  });
});
