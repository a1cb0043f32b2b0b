import type { Logger } from "pino";
import type { ChatInfo, HistoryMessage, MessageRepository, UserInfo } from "../db/message.repository.ts";
import { classifyLlmError, type ChatTurn, type LlmClient, type LlmFailure } from "../llm/client.ts";

export interface DialogueSettings {
  systemPrompt: string;
  historyMaxMessages: number;
  historyMaxChars: number;
}

export interface UserTurn {
  chat: ChatInfo;
  user: UserInfo;
  text: string;
  telegramMessageId: number;
  /** Group chats: prefix turns with the author's name so the model can tell people apart. */
  isGroup: boolean;
}

export type ReplyOutcome =
  | { kind: "answer"; text: string }
  | { kind: "duplicate" }
  | { kind: "storage_unavailable" }
  | { kind: "llm_failed"; failure: LlmFailure; partial: string }
  | { kind: "empty_answer" };

export interface DialogueService {
  /**
   * One turn: store the user's message, load the trimmed history, stream the model's answer
   * (each growing text is passed to onText) and store the answer. Never throws for failures a
   * user can meet; it returns them as outcomes.
   */
  reply(turn: UserTurn, onText: (textSoFar: string) => void, signal?: AbortSignal): Promise<ReplyOutcome>;
  /** Starts over: soft-deletes the chat's history. Returns how many messages were cleared. */
  clear(chatId: number): Promise<number>;
}

export interface DialogueDependencies {
  repository: MessageRepository;
  llm: LlmClient;
  settings: DialogueSettings;
  logger: Logger;
}

export function toChatTurns(systemPrompt: string, history: HistoryMessage[], isGroup: boolean): ChatTurn[] {
  return [
    { role: "system", content: systemPrompt },
    ...history.map((m): ChatTurn => ({
      role: m.role,
      content: isGroup && m.role === "user" && m.authorName ? `${m.authorName}: ${m.content}` : m.content,
    })),
  ];
}

export function createDialogueService(deps: DialogueDependencies): DialogueService {
  const { repository, llm, settings, logger } = deps;

  return {
    async reply(turn, onText, signal) {
      const log = logger.child({ chatId: turn.chat.id, messageId: turn.telegramMessageId });
      let history: HistoryMessage[];
      try {
        const recorded = await repository.recordUserMessage({
          chat: turn.chat,
          user: turn.user,
          content: turn.text,
          telegramMessageId: turn.telegramMessageId,
        });
        if (!recorded.inserted) {
          log.info("duplicate update: message already stored, not answering twice");
          return { kind: "duplicate" };
        }
        history = await repository.recentHistory(turn.chat.id, {
          maxMessages: settings.historyMaxMessages,
          maxChars: settings.historyMaxChars,
        });
      } catch (error) {
        log.error({ err: error }, "database unavailable while recording the user's message");
        return { kind: "storage_unavailable" };
      }

      let answer = "";
      const startedAt = performance.now();
      let firstTextMs: number | undefined;
      try {
        for await (const delta of llm.stream(toChatTurns(settings.systemPrompt, history, turn.isGroup), signal)) {
          answer += delta;
          if (answer.trim() === "") continue;
          firstTextMs ??= Math.round(performance.now() - startedAt);
          onText(answer);
        }
      } catch (error) {
        const failure = classifyLlmError(error);
        // Misconfiguration (bad key, unknown model) is the operator's to fix: log it as an error.
        const level = failure.failure === "misconfigured" ? "error" : "warn";
        log[level]({ failure: failure.failure, status: failure.status, reason: failure.message }, "model call failed");
        return { kind: "llm_failed", failure: failure.failure, partial: answer };
      }
      const modelMs = Math.round(performance.now() - startedAt);
      if (answer.trim() === "") {
        log.warn("model returned an empty answer");
        return { kind: "empty_answer" };
      }

      try {
        await repository.recordAssistantMessage({ chatId: turn.chat.id, content: answer });
      } catch (error) {
        // The user still gets the answer; only the memory of it is lost.
        log.error({ err: error }, "could not store the assistant's answer");
      }
      // One line per turn for operators: sizes and timings, never the conversation itself.
      log.info(
        {
          historyMessages: history.length,
          historyChars: history.reduce((sum, m) => sum + m.charLength, 0),
          answerChars: answer.length,
          firstTextMs,
          modelMs,
        },
        "answered",
      );
      return { kind: "answer", text: answer };
    },

    clear(chatId) {
      return repository.clearHistory(chatId);
    },
  };
}
