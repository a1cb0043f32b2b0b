import type { Logger } from "pino";
import type { MediaFailure, MediaService } from "../media/media.service.ts";
import type { MessageRepository } from "../db/message.repository.ts";
import { batchWhileBusy } from "../lib/batch.ts";
import type { SettingsRepository } from "../db/settings.repository.ts";
import type { ChatInfo, ChatSettings, ConversationRef } from "../domain/chats.ts";
import type { AnswerUsage, Attachment, ExportedMessage, HistoryBudget, HistoryMessage, MessageKind, TurnResult } from "../domain/messages.ts";
import type { UserInfo } from "../domain/people.ts";
import type { CommitOutcome, TurnCommit } from "../domain/turns.ts";
import { retryWrite, STORE_RETRY_MS } from "../lib/retry.ts";
import { cleanText, cutText } from "../lib/text.ts";
import { conversationKey, type HistoryMode, type Place } from "./conversation.ts";
import { CURRENT_TURN, fromTurnBoundary, toModelMessages } from "./prompt.ts";
import { createVisionPolicy } from "./vision.ts";
import { admitTurn, type TurnCharge } from "./charge.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { LimitVerdict, UsageService } from "../limits/usage.service.ts";
import { isStatementError } from "../db/errors.ts";
import { classifyLlmError, type LlmClient, type LlmFailure, type TokenUsage } from "../llm/client.ts";

export interface DialogueSettings {
  systemPrompt: string;
  historyMaxMessages: number;
  historyMaxChars: number;
  /** ANSWER_MAX_CHARS: the model's answer is cut here (the model call is stopped). Default: no cut. */
  answerMaxChars?: number;
}

/** What the dialogue is asked to answer: a user's message, where it was written and by whom (the inbox row it came from is the caller's: see TurnCommit). */
export interface TurnRequest {
  chat: ChatInfo;
  user: UserInfo;
  text: string;
  telegramMessageId: number;
  /** Group chats: prefix turns with the author's name so the model can tell people apart. */
  isGroup: boolean;
  /** Written in a forum topic: the topic's own history. */
  topicId?: number | undefined;
  /** A turn with a file (photo, voice, document): what it was, and the file; `text` is its text. */
  kind?: MessageKind;
  attachment?: Attachment | null;
  /** Who is charged for the answer (daily limits): the author, unless another user asked (/retry). */
  payerId?: number;
  /** The text quotes another user's message (a reply): whose words (their /forget erases the quote). */
  quotedUserId?: number | undefined;
}

export type ReplyOutcome =
  /** Stored (with the user's message) and ready to deliver; interrupted: the user stopped it there. */
  | {
      kind: "answer";
      text: string;
      interrupted?: boolean;
      /** The model got the turn's photo as a placeholder (it takes no images): tell the chat, once. */
      imagesUnseen?: boolean;
      /** The answer was cut: at ANSWER_MAX_CHARS ("length"), or where the user's daily tokens ran out ("tokens"). */
      cut?: "length" | "tokens";
    }
  /** The turn's own image could not be downloaded: recorded as failed. */
  | { kind: "image_failed" }
  /** The turn's file could not be read (too big, not downloadable, no speech…): recorded as failed. */
  | { kind: "media_failed"; failure: MediaFailure }
  /** Stored and not answered (the user sends too fast): recorded as failed. */
  | { kind: "unanswered" }
  /** The user stopped the answer before any text: recorded as failed ("stopped"). */
  | { kind: "stopped" }
  /** /retry in a chat with no answer to regenerate. */
  | { kind: "nothing_to_retry" }
  /** The database could not be read or written: nothing was stored, try the turn again later. */
  | { kind: "storage_unavailable" }
  /**
   * The database refused to store the turn (not an outage: the same statement would fail again).
   * The answer, if there is one, is delivered all the same, unremembered; the row ends as failed.
   */
  | { kind: "store_failed"; text?: string }
  /** Over a daily limit: nothing was stored and the model was not called. */
  | { kind: "over_limit"; verdict: Extract<LimitVerdict, { ok: false }> }
  /** Stopped by shutdown before the answer was complete: nothing stored, the turn runs again. */
  | { kind: "cancelled" }
  /** Another instance took the turn over (this one's lease ran out): nothing stored by this one. */
  | { kind: "lease_lost" }
  /** This Telegram message was already stored (and answered) through another update. */
  | { kind: "duplicate" }
  /** Recorded as failed: the user's message is stored, out of the model's context. */
  | { kind: "llm_failed"; failure: LlmFailure; partial: string }
  | { kind: "empty_answer" };

export interface DialogueService {
  /**
   * One turn: load the trimmed history, stream the model's answer (each growing text is passed
   * to onText), then store the user's message and the answer in one statement. Never throws for
   * failures a user can meet; it returns them as outcomes.
   */
  reply(turn: TurnRequest, to: TurnCommit, onText: (textSoFar: string) => void, signal?: AbortSignal, stop?: AbortSignal): Promise<ReplyOutcome>;
  /** Starts over: soft-deletes the place's history. Returns how many messages, and the mark for undo(). */
  clear(place: Place): Promise<{ count: number; mark: string }>;
  /** Undoes the /clear that `mark` names: its messages are the chat's memory again. Returns how many. */
  undoClear(chatId: number, mark: string): Promise<number>;
  /** The histories one /clear set aside (to decide who may undo it). */
  clearedConversations(chatId: number, mark: string): Promise<string[]>;
  /**
   * A turn whose file could not become text: the message is stored (its caption, and the file's
   * reference), out of the model's context, and the inbox row ends as failed, in one statement.
   */
  failMedia(turn: TurnRequest, to: TurnCommit, failure: MediaFailure): Promise<ReplyOutcome>;
  /**
   * A message stored and not answered (its user sends faster than USER_MESSAGES_PER_MINUTE): kept,
   * out of the model's context, and the inbox row ends as failed, in one statement.
   */
  keepUnanswered(turn: TurnRequest, to: TurnCommit, reason: "rate_limited"): Promise<ReplyOutcome>;
  /**
   * /retry: the chat's latest answered message is answered again, with the history before it; the
   * new answer replaces the old one (soft-deleted). The request carries the asking user and chat.
   */
  retry(request: Omit<TurnRequest, "text" | "telegramMessageId">, to: TurnCommit, onText: (textSoFar: string) => void, signal?: AbortSignal, stop?: AbortSignal): Promise<ReplyOutcome>;
  /**
   * The user edited a message: its stored turn takes the new text. Returns whether that message is
   * the one the chat's latest answer answers (so the answer should be written again).
   */
  edit(chatId: number, telegramMessageId: number, text: string): Promise<{ stored: boolean; latest: boolean }>;
  /** The chat's instructions to the model: its own (/system), or the default. */
  systemPrompt(chatId: number): Promise<{ prompt: string; custom: boolean }>;
  /** Sets the chat's own instructions (they survive /clear); null restores the default. */
  setSystemPrompt(chatId: number, prompt: string | null, by: number): Promise<void>;
  /** The place's live history, whole, oldest first (/export). */
  exportHistory(place: Place): Promise<ExportedMessage[]>;
  /** A group's history mode: shared (the default) or one per member. */
  historyMode(chatId: number): Promise<HistoryMode>;
  /** Sets a group's history mode; each history is kept, and comes back when its mode does. */
  setHistoryMode(chatId: number, mode: HistoryMode, by: number): Promise<void>;
  /** The models a chat may choose, and the chat's current one. */
  modelChoice(chatId: number): Promise<{ models: readonly string[]; current: string }>;
  /** Sets the chat's model; false if the operator does not allow that one. */
  setModel(chatId: number, model: string, by: number): Promise<boolean>;
  /** A group upgraded to a supergroup keeps its memory under the new chat id. */
  moveChat(fromChatId: number, toChatId: number): Promise<number>;
  /** Was the chat's latest answer stopped by the user in the last `withinMs`? */
  stoppedRecently(chatId: number, withinMs: number): Promise<boolean>;
}

export interface DialogueDependencies {
  repository: MessageRepository;
  llm: LlmClient;
  settings: DialogueSettings;
  logger: Logger;
  metrics?: Pick<Metrics, "turnEnded" | "modelCall" | "tokensUsed" | "turnRefused">;
  /** Chats' own settings (/system, /model); without it every chat has the defaults. */
  chatSettings?: SettingsRepository;
  /** The models a chat may choose (/model), the default first. Default: the client's model alone. */
  models?: readonly string[];
  /** Photos for the model (downloaded again by file_id); without it, photos are placeholders. */
  media?: Pick<MediaService, "imageUrl">;
  /** OPENAI_VISION: auto (images until the model refuses them), on, off. Default auto. */
  vision?: "auto" | "on" | "off";
  /** Images of at most this many of the newest photo turns go to the model (HISTORY_MAX_IMAGES). */
  historyMaxImages?: number;
  /** Daily limits: a turn is charged before the model is called, and settled after. Without it, no limits. */
  usage?: Pick<UsageService, "admit" | "settle" | "tokensLimited">;
}

export function createDialogueService(deps: DialogueDependencies): DialogueService {
  const { repository, llm, settings, logger, metrics } = deps;
  const vision = createVisionPolicy({ media: deps.media, vision: deps.vision, maxImages: deps.historyMaxImages });
  // Turns that start together (a claimed batch, a burst) read their histories in one statement.
  const loadHistory = batchWhileBusy<{ where: ConversationRef; budget: HistoryBudget }, HistoryMessage[]>(
    (requests) => repository.recentHistories(requests),
    { maxInFlight: 4, maxBatchSize: 100 },
  );

  // Read beside the history, in parallel; turns that start together read them in one statement.
  const noSettings: ChatSettings = { systemPrompt: null, model: null, historyMode: null };
  const models = deps.models ?? [llm.model];
  /** The chat's model, if the operator still allows it; else the default. */
  const modelFor = (chat: ChatSettings) => (chat.model !== null && models.includes(chat.model) ? chat.model : models[0]!);
  const loadSettings = deps.chatSettings
    ? batchWhileBusy((chatIds: readonly number[]) => deps.chatSettings!.ofChats(chatIds), { maxInFlight: 2, maxBatchSize: 100 })
    : async () => noSettings;

  const modeOf = (chat: ChatSettings): HistoryMode => (chat.historyMode === "member" ? "member" : "shared");
  const placeOfTurn = (turn: Pick<TurnRequest, "chat" | "user" | "isGroup" | "topicId">): Place => ({
    chatId: Number(turn.chat.id),
    topicId: turn.topicId,
    userId: Number(turn.user.id),
    isGroup: turn.isGroup,
  });
  /** The history a place reads and writes; a group's depends on its mode (a private chat's never does). */
  const conversationOf = async (place: Place) => ({
    chatId: place.chatId,
    conversation: conversationKey(place, place.isGroup ? modeOf(await loadSettings(place.chatId)) : "shared"),
  });

  const record = (turn: TurnRequest, to: TurnCommit, conversation: string, result: TurnResult, log: Logger) =>
    retryWrite(
      () =>
        to.commit({
          chat: turn.chat,
          conversation,
          user: turn.user,
          content: turn.text,
          kind: turn.kind ?? "text",
          attachment: turn.attachment ?? null,
          telegramMessageId: turn.telegramMessageId,
          quotedUserId: turn.quotedUserId ?? null,
          result,
        }),
      STORE_RETRY_MS,
      (error, attempt) => log.warn({ err: error, attempt }, "could not store the turn; retrying"),
    );

  /** Stores a turn's result in its conversation (or finds that this instance no longer holds the turn). */
  type Store = (result: TurnResult, log: Logger, conversation: string) => Promise<CommitOutcome>;

  /**
   * Answers the model wrote that could not be stored (the database was away), by inbox row: the
   * row's next attempt stores this one instead of asking the model again. The newest few only.
   */
  const unstored = new Map<string, { result: TurnResult; outcome: ReplyOutcome }>();
  const UNSTORED_MAX = 200;

  /** Stores the outcome; maps a lost lease or a database failure to their outcomes. */
  const finish = async (store: (result: TurnResult, log: Logger) => ReturnType<Store>, result: TurnResult, outcome: ReplyOutcome, log: Logger, outcomeKey = ""): Promise<ReplyOutcome> => {
    if (unstored.size > UNSTORED_MAX) unstored.delete(unstored.keys().next().value!);
    try {
      const stored = await store(result, log);
      if (stored.kind === "lease_lost") {
        log.warn("the turn was taken over by another instance; dropping this answer");
        return { kind: "lease_lost" };
      }
      if ("answer" in result && stored.answerId === null) {
        log.info("duplicate message: already stored, not answering twice");
        return { kind: "duplicate" };
      }
      return outcome;
    } catch (error) {
      if (isStatementError(error)) {
        // Trying again would fail the same way (and call the model again): the turn ends here.
        log.error({ err: error }, "the database refused to store the turn; it ends here, unremembered");
        return { kind: "store_failed", ...("answer" in result ? { text: result.answer } : {}) };
      }
      log.error({ err: error }, "could not store the turn; it will be tried again");
      if ("answer" in result && outcomeKey !== "") unstored.set(outcomeKey, { result, outcome });
      return { kind: "storage_unavailable" };
    }
  };

  /**
   * One answer: the history (without messages from `historyBefore` on, when regenerating), the
   * model's stream, then `store`. Failures a user can meet come back as outcomes.
   */
  const respond = async (
    turn: TurnRequest,
    key: string,
    storeIn: Store,
    onText: (textSoFar: string) => void,
    signal: AbortSignal | undefined,
    stop: AbortSignal | undefined,
    historyBefore?: bigint,
  ): Promise<ReplyOutcome> => {
    const log = logger.child({ chatId: turn.chat.id }); // the update id comes with the turn's log context
    let history: HistoryMessage[];
    let chat: ChatSettings;
    const place = placeOfTurn(turn);
    // The message being answered always goes, whole; older ones fill what is left.
    const budget = { maxMessages: settings.historyMaxMessages - 1, maxChars: settings.historyMaxChars - [...turn.text].length };
    try {
      if (place.isGroup) {
        // A group's mode says which history to read: its settings first.
        chat = await loadSettings(place.chatId);
        history = await loadHistory({ where: { chatId: place.chatId, conversation: conversationKey(place, modeOf(chat)) }, budget });
      } else {
        [history, chat] = await Promise.all([
          loadHistory({ where: { chatId: place.chatId, conversation: conversationKey(place, "shared") }, budget }),
          loadSettings(place.chatId),
        ]);
      }
    } catch (error) {
      log.error({ err: error }, "database unavailable while loading the history");
      return { kind: "storage_unavailable" };
    }
    if (historyBefore !== undefined) history = history.filter((m) => m.id < historyBefore);
    history = fromTurnBoundary(history);
    const conversation = conversationKey(place, modeOf(chat)); // outside groups the mode changes nothing
    const store = (result: TurnResult, log: Logger) => storeIn(result, log, conversation);

    const early = unstored.get(key);
    if (early) {
      // This row's answer was written by the model already, then not stored: store it now.
      unstored.delete(key);
      log.info("storing an answer the model wrote before the database went away");
      return finish(store, early.result, early.outcome, log, key);
    }

    let answer = "";
    let cut: "length" | "tokens" | undefined;
    const answerMaxChars = settings.answerMaxChars ?? Number.POSITIVE_INFINITY;
    let firstTextMs: number | undefined;
    let reported: TokenUsage | undefined;
    const model = modelFor(chat);
    const systemPrompt = chat.systemPrompt ?? settings.systemPrompt;
    const images = await vision.imagesFor(turn, history, model, log);
    if (images === "failed") return finish(store, { failed: "image_download" }, { kind: "image_failed" }, log);
    let turns = toModelMessages(systemPrompt, history, turn, images);
    let imagesUnseen = turn.kind === "photo" && !images.has(CURRENT_TURN);

    // Daily limits: the turn is charged before the model is called, and settled afterwards.
    const payer = Number(turn.payerId ?? turn.user.id);
    let charge: TurnCharge;
    try {
      const admission = await admitTurn(deps.usage, payer, turns, model, log);
      if (admission.kind === "refused") {
        metrics?.turnRefused(admission.verdict.limit);
        log.info({ userId: payer, limit: admission.verdict.limit, needed: admission.verdict.needed }, "refused: daily limit");
        return { kind: "over_limit", verdict: admission.verdict };
      }
      charge = admission.charge;
    } catch (error) {
      log.error({ err: error }, "database unavailable while charging the turn");
      return { kind: "storage_unavailable" };
    }
    const usageNow = () => charge.usage(turns, answer, reported);
    const settled = (outcome: ReplyOutcome, usage: AnswerUsage): ReplyOutcome => {
      charge.settle(outcome.kind === "answer", usage);
      return outcome;
    };

    const startedAt = performance.now();
    try {
      const aborts = [signal, stop].filter((s): s is AbortSignal => s !== undefined);
      const combined = aborts.length > 1 ? AbortSignal.any(aborts) : aborts[0];
      const ask = async () => {
        for await (const delta of llm.stream(turns, combined, (usage) => (reported = usage), model)) {
          answer += delta;
          if (answer.length >= answerMaxChars) {
            // Leaving the loop ends the model's stream (and its request).
            answer = cutText(answer, answerMaxChars);
            cut = "length";
            break;
          }
          if (charge.spend(delta)) {
            cut = "tokens"; // the user's tokens for today end here
            break;
          }
          if (firstTextMs === undefined && delta.trim() === "") continue;
          firstTextMs ??= Math.round(performance.now() - startedAt);
          onText(answer);
        }
      };
      try {
        await ask();
      } catch (error) {
        // OPENAI_VISION=auto: a model that refuses images is asked again with the text alone, and
        // from then on gets no images.
        if (!(images.size > 0 && answer === "" && vision.refusedImages(model, classifyLlmError(error).failure))) throw error;
        log.warn({ model }, "the model takes no images: it gets photos as placeholders from now on");
        turns = toModelMessages(systemPrompt, history, turn);
        imagesUnseen = turn.kind === "photo";
        await ask();
      }
    } catch (error) {
      // Every call that was made is counted: failed and stopped ones by the estimate.
      answer = cleanText(answer);
      const usage = usageNow();
      if (stop?.aborted && !signal?.aborted) {
        // Stopped by the user: what was written so far is the answer, kept and marked.
        log.info({ answerChars: answer.length }, "answer stopped by the user");
        if (answer.trim() === "") return settled(await finish(store, { failed: "stopped", usage }, { kind: "stopped" }, log), usage);
        metrics?.turnEnded("answered", "stopped");
        metrics?.tokensUsed(usage.model, usage.promptTokens, usage.completionTokens);
        return settled(await finish(store, { answer, usage, interrupted: true }, { kind: "answer", text: answer, interrupted: true }, log, key), usage);
      }
      const failure = classifyLlmError(error);
      if (failure.failure === "cancelled") {
        log.info("model call cancelled by shutdown; the turn will run again");
        return settled({ kind: "cancelled" }, usage);
      }
      // Misconfiguration (bad key, unknown model) is the operator's to fix: log it as an error.
      const level = failure.failure === "misconfigured" ? "error" : "warn";
      // Which setting to look at, when it is one: the key (401, 403), or the model or the server's URL (404).
      const check = failure.failure !== "misconfigured" ? undefined : failure.status === 404 ? `OPENAI_MODEL (${model}) and OPENAI_BASE_URL` : "OPENAI_API_KEY";
      log[level]({ failure: failure.failure, status: failure.status, reason: failure.message, modelServer: llm.server, ...(check ? { check } : {}) }, check ? `model call failed: check ${check}` : "model call failed");
      metrics?.turnEnded("failed", failure.failure);
      metrics?.tokensUsed(usage.model, usage.promptTokens, usage.completionTokens);
      return settled(await finish(store, { failed: failure.failure, usage }, { kind: "llm_failed", failure: failure.failure, partial: answer }, log), usage);
    }
    const modelMs = Math.round(performance.now() - startedAt);
    // The model's answer is input too: what PostgreSQL cannot hold is cleaned, as in user text.
    answer = cleanText(answer);
    const usage = usageNow();
    if (answer.trim() === "") {
      log.warn("model returned an empty answer");
      metrics?.turnEnded("failed", "empty_answer");
      metrics?.tokensUsed(usage.model, usage.promptTokens, usage.completionTokens);
      return settled(await finish(store, { failed: "empty_answer", usage }, { kind: "empty_answer" }, log), usage);
    }
    // A chat is told once (per model, while the process runs) that its photos are not seen.
    const tell = imagesUnseen && vision.tellUnseen(place.chatId, model);
    if (cut) log.warn({ answerChars: answer.length, cut }, "the model's answer was cut");
    const outcome = settled(
      await finish(store, { answer, usage }, { kind: "answer", text: answer, ...(tell ? { imagesUnseen: true } : {}), ...(cut ? { cut } : {}) }, log, key),
      usage,
    );
    // One line per turn for operators: sizes and timings, never the conversation itself.
    if (outcome.kind === "answer") {
      metrics?.turnEnded("answered");
      metrics?.modelCall(modelMs / 1000, firstTextMs === undefined ? undefined : firstTextMs / 1000);
      metrics?.tokensUsed(usage.model, usage.promptTokens, usage.completionTokens);
      log.info(
        {
          historyMessages: history.length,
          historyChars: history.reduce((sum, m) => sum + m.charLength, 0),
          answerChars: answer.length,
          firstTextMs,
          modelMs,
          promptTokens: usage.promptTokens,
          completionTokens: usage.completionTokens,
          ...(usage.estimated ? { tokensEstimated: true } : {}),
        },
        "answered",
      );
    }
    return outcome;
  };

  /** Stores a turn that gets no answer (out of context; the inbox row ends failed), in one statement. */
  const recordFailed = async (turn: TurnRequest, to: TurnCommit, reason: string, outcome: ReplyOutcome): Promise<ReplyOutcome> => {
    const log = logger.child({ chatId: turn.chat.id });
    let conversation: string;
    try {
      conversation = (await conversationOf(placeOfTurn(turn))).conversation;
    } catch (error) {
      log.error({ err: error }, "database unavailable while storing a turn");
      return { kind: "storage_unavailable" };
    }
    metrics?.turnEnded("failed", reason);
    return finish((result, l) => record(turn, to, conversation, result, l), { failed: reason }, outcome, log);
  };

  return {
    reply(turn, to, onText, signal, stop) {
      return respond(turn, to.key, (result, log, conversation) => record(turn, to, conversation, result, log), onText, signal, stop);
    },

    failMedia: (turn, to, failure) => recordFailed(turn, to, failure, { kind: "media_failed", failure }),

    keepUnanswered: (turn, to, reason) => recordFailed(turn, to, reason, { kind: "unanswered" }),

    async retry(request, to, onText, signal, stop) {
      const latest = await repository.latestAnswered(await conversationOf(placeOfTurn(request)));
      if (!latest) return { kind: "nothing_to_retry" };
      // The same question again, asked with the history before it: the old answer is left out.
      const turn: TurnRequest = {
        ...request,
        text: latest.content,
        kind: latest.kind,
        attachment: latest.attachment,
        telegramMessageId: 0,
        user: latest.userId === null ? request.user : { ...request.user, id: latest.userId, firstName: latest.authorName },
        payerId: Number(request.user.id), // whoever asks for the retry pays for it
      };
      const store: Store = (result, log) =>
        retryWrite(
          () => to.commitRetry({ turn: latest, userId: request.user.id, result }),
          STORE_RETRY_MS,
          (error, attempt) => log.warn({ err: error, attempt }, "could not store the turn; retrying"),
        );
      return respond(turn, to.key, store, onText, signal, stop, latest.questionId);
    },

    async edit(chatId, telegramMessageId, text) {
      const edited = await repository.editUserMessage(chatId, telegramMessageId, text);
      if (edited === null) return { stored: false, latest: false };
      const latest = await repository.latestAnswered({ chatId, conversation: edited.conversation });
      return { stored: true, latest: latest?.questionId === edited.id };
    },

    async clear(place) {
      return repository.clearHistory(await conversationOf(place));
    },

    undoClear(chatId, mark) {
      return repository.restoreCleared(chatId, mark);
    },

    clearedConversations(chatId, mark) {
      return repository.clearedConversations(chatId, mark);
    },


    async moveChat(fromChatId, toChatId) {
      await deps.chatSettings?.move(fromChatId, toChatId);
      return repository.moveChat(fromChatId, toChatId);
    },

    async systemPrompt(chatId) {
      const own = await loadSettings(chatId);
      return own.systemPrompt ? { prompt: own.systemPrompt, custom: true } : { prompt: settings.systemPrompt, custom: false };
    },

    async exportHistory(place) {
      return repository.liveMessages(await conversationOf(place));
    },

    async historyMode(chatId) {
      return modeOf(await loadSettings(chatId));
    },

    async setHistoryMode(chatId, mode, by) {
      if (!deps.chatSettings) throw new Error("chat settings are not available");
      await deps.chatSettings.setHistoryMode(chatId, mode === "member" ? mode : null, by);
    },

    async modelChoice(chatId) {
      const own = await loadSettings(chatId);
      return { models, current: modelFor(own) };
    },

    async setModel(chatId, model, by) {
      if (!models.includes(model) || !deps.chatSettings) return false;
      // The default is stored as "none": a chat on the default follows it if the operator changes it.
      await deps.chatSettings.setModel(chatId, model === models[0] ? null : model, by);
      return true;
    },

    async setSystemPrompt(chatId, prompt, by) {
      if (!deps.chatSettings) throw new Error("chat settings are not available");
      await deps.chatSettings.setSystemPrompt(chatId, prompt, by);
    },

    async stoppedRecently(chatId, withinMs) {
      const latest = await repository.latestAnswer(chatId);
      return latest !== null && latest.interrupted && Date.now() - latest.createdAt.getTime() <= withinMs;
    },
  };
}
