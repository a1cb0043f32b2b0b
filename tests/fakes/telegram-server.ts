/**
 * A fake Telegram Bot API server: enough of the real one (long polling with real offset
 * semantics, webhooks, sendMessage, editMessageText, sendChatAction, setMyCommands…) to chat with
 * the real bot process, with the checks real Telegram makes on what a bot sends, so a test fails
 * where Telegram would refuse.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ApiCall {
  method: string;
  params: Record<string, unknown>;
  at: number;
  /** What the fake answered. */
  ok: boolean;
}

export interface TgUser {
  id: number;
  first_name: string;
  username?: string;
  is_bot?: boolean;
  language_code?: string;
}

export interface TgChat {
  id: number;
  type: "private" | "group" | "supergroup";
  title?: string;
  is_forum?: boolean;
  first_name?: string;
}

export interface Entity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
}

/** A message the bot sent, as the user sees it now (after every edit). */
export interface BotMessage {
  chatId: number;
  messageId: number;
  text: string;
  entities: Entity[];
  editCount: number;
  replyTo?: number;
  /** A rich message (Bot API 10.1): `text` holds its Markdown, which Telegram renders itself. */
  rich?: boolean;
  /** The forum topic it was sent to (message_thread_id). */
  threadId?: number;
  /** Inline keyboard buttons (text and callback data), row by row; gone once an edit drops them. */
  buttons?: Array<Array<{ text: string; callback_data: string }>>;
  sentAt: number;
  editedAt: number[];
}

export interface ApiErrorReply {
  error_code: number;
  description: string;
  parameters?: { retry_after?: number };
}

type Waiter = { check: () => boolean; resolve: () => void };

export interface WebhookSettings {
  url: string;
  secret_token?: string;
  allowed_updates?: string[];
  max_connections?: number;
}

/** One POST of an update to a webhook target, as Telegram made it. */
export interface WebhookDelivery {
  updateId: number;
  target: string;
  status: number | "network error";
  at: number;
}

type Update = { update_id: number } & Record<string, unknown>;

const NOT_MODIFIED =
  "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
const SENDING_METHODS = new Set(["sendMessage", "sendRichMessage", "editMessageText"]);
const RICH_METHODS = new Set(["sendRichMessage", "sendRichMessageDraft", "sendMessageDraft"]);

/** A file the bot sent (sendDocument, uploaded as multipart/form-data). */
export interface SentDocument {
  chatId: number;
  fileName: string;
  content: Buffer;
  caption?: string;
}

/**
 * multipart/form-data as grammY writes it: one part per parameter (objects as JSON), files as
 * parts of their own that parameters name with attach://<part>.
 */
export function parseMultipart(body: Buffer, contentType: string): { params: Record<string, unknown>; files: Map<string, { fileName: string; content: Buffer }> } {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) throw new Error("multipart body without a boundary");
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const params: Record<string, unknown> = {};
  const files = new Map<string, { fileName: string; content: Buffer }>();
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    const part = body.subarray(start + 2, next < 0 ? body.length : next - 2); // after CRLF, before CRLF
    const headerEnd = part.indexOf("\r\n\r\n");
    const headers = part.subarray(0, headerEnd).toString();
    const content = part.subarray(headerEnd + 4);
    const name = /name="([^"]+)"/i.exec(headers)?.[1] ?? "";
    const fileName = /filename="?([^"\r\n;]+)"?/i.exec(headers)?.[1];
    if (fileName !== undefined) files.set(name, { fileName, content });
    else {
      const text = content.toString("utf8");
      try {
        params[name] = JSON.parse(text);
      } catch {
        params[name] = text;
      }
    }
    at = next;
  }
  return { params, files };
}

/** A draft a bot streamed into a private chat (Bot API 10.1): ephemeral, not a message. */
export interface Draft {
  chatId: number;
  draftId: number;
  text: string;
  rich: boolean;
  canStop: boolean;
  at: number;
}

export const BOT_USER: TgUser = { id: 7000001, first_name: "Parley", username: "parley_test_bot", is_bot: true };

export class FakeTelegram {
  readonly token = "7000001:AAF4ke-T0ken_for_the_tests-only1234";
  readonly calls: ApiCall[] = [];
  readonly botMessages: BotMessage[] = [];
  /** The same messages by chat: waiters re-check after every call, over thousands of chats in benches. */
  private readonly botMessagesByChat = new Map<number, BotMessage[]>();
  url = "";
  port = 0;

  private readonly server = createServer((req, res) => void this.handle(req, res));
  private updates: Update[] = [];
  /** Every update ever queued, including those the bot has confirmed. */
  readonly allUpdates: Update[] = [];
  /** The webhook the bot set (setWebhook), or null in long-polling mode. */
  webhook: WebhookSettings | null = null;
  /**
   * Where webhook updates really go: the fake plays the load balancer in front of the bot's
   * instances, posting to these local URLs in turn. The public URL the bot set stays a name.
   */
  webhookTargets: string[] = [];
  readonly webhookDeliveries: WebhookDelivery[] = [];
  /** Times at which a getUpdates call was answered (not failed). */
  readonly polls: number[] = [];
  /** When each getUpdates arrived (polls: when each was answered). */
  readonly pollStarts: number[] = [];
  /** While true, every connection to the API is reset (a network outage): see setNetworkDown. */
  networkDown = false;
  /**
   * Runs after a sending method took effect and before the bot gets the answer: a test can kill
   * the bot here, in the instant between Telegram's send and the bot recording it.
   */
  afterSend?: (method: string, params: Record<string, unknown>) => Promise<void> | void;
  private nextTarget = 0;
  private webhookQueue: Update[] = [];
  private webhookBusyChats = new Set<unknown>();
  private webhookInFlight = 0;
  private nextUpdateId = 1;
  private nextMessageId = new Map<number, number>();
  private pollers = new Set<() => void>();
  private closed = false;
  private waiters = new Set<Waiter>();
  /** false: an older Bot API server, without rich messages and drafts (they answer 404). */
  richMessages = true;
  /** Every document the bot sent, in order. */
  readonly documents: SentDocument[] = [];
  /** Every draft the bot streamed, in order. */
  readonly drafts: Draft[] = [];
  /** Administrators of each group, as getChatAdministrators reports them (tests set them). */
  readonly chatAdmins = new Map<number, number[]>();
  /** Files users sent (addFile), by file_id. */
  private readonly files = new Map<string, { file_id: string; file_unique_id: string; file_size: number; content: Buffer; path: string }>();
  private nextFileId = 1;
  /** The file paths the bot downloaded, in order. */
  readonly fileDownloads: string[] = [];
  /** Forum topics the users wrote in, per chat (a topic exists once a message was written in it). */
  private readonly forumTopics = new Map<number, Set<number>>();
  /** Callback queries sent and not answered yet (Telegram wants answerCallbackQuery for each). */
  readonly openCallbackQueries = new Map<string, { from: TgUser; answer?: { text?: string; show_alert?: boolean } }>();
  readonly answeredCallbackQueries: Array<{ id: string; text?: string; show_alert?: boolean }> = [];
  private nextCallbackId = 1;
  private injected: Array<{ method: string; reply: ApiErrorReply | { result: unknown }; when?: (params: Record<string, unknown>) => boolean }> = [];
  /**
   * Telegram's flood limits, enforced as Telegram does: about 30 messages a second from the bot,
   * about one a second in a chat (bursts of three pass) and 20 a minute in a group; past them a
   * 429 with retry_after, which doubles (up to 32 s) while the bot keeps violating them within a
   * minute, and every call during the wait is refused too (with what is left of it). Drafts count for the bot only; chat
   * actions and callback answers not at all. null: no limits (benchmarks of the bot's own work).
   */
  floodLimits: { perSecond: number; privatePace: { sends: number; windowMs: number }; groupPace: { sends: number; windowMs: number } } | null = {
    perSecond: 30,
    privatePace: { sends: 3, windowMs: 3_000 },
    groupPace: { sends: 20, windowMs: 60_000 },
  };
  /** Calls refused with 429 by the flood limits, and calls that counted against them. */
  floodRefused = 0;
  floodCounted = 0;
  private floodSends: number[] = [];
  private floodChats = new Map<number, number[]>();
  private floodViolations = new Map<string, number[]>();
  private floodUntil = 0;
  private floodChatUntil = new Map<number, number>();

  /** Listens on `host` (127.0.0.1; the container smoke test needs 0.0.0.0); `url` is the local one. */
  async start(host = "127.0.0.1"): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.pollers) wake();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A user writes to the bot. Returns the Telegram message id of the user's message. */
  userSends(chat: TgChat, from: TgUser, text: string, extra: Record<string, unknown> = {}): number {
    const messageId = this.allocateMessageId(chat.id);
    const entities: Entity[] = [];
    const command = /^\/[a-z_]+(@\w+)?/i.exec(text);
    if (command) entities.push({ type: "bot_command", offset: 0, length: command[0].length });
    for (const m of text.matchAll(/@\w+/g)) {
      if (m.index > 0 || !command) entities.push({ type: "mention", offset: m.index, length: m[0].length });
    }
    this.pushUpdate({
      message: {
        message_id: messageId,
        date: Math.floor(Date.now() / 1000),
        chat,
        from,
        text,
        ...(entities.length ? { entities } : {}),
        ...extra,
      },
    });
    return messageId;
  }

  /** A user sends anything else (a sticker, a photo…): `content` is the message's payload fields. */
  userSendsOther(chat: TgChat, from: TgUser, content: Record<string, unknown>): number {
    const messageId = this.allocateMessageId(chat.id);
    this.pushUpdate({ message: { message_id: messageId, date: Math.floor(Date.now() / 1000), chat, from, ...content } });
    return messageId;
  }

  /** The user edits one of their messages: Telegram sends edited_message with the new text. */
  userEdits(chat: TgChat, from: TgUser, messageId: number, text: string): number {
    const now = Math.floor(Date.now() / 1000);
    return this.pushUpdate({ edited_message: { message_id: messageId, date: now, edit_date: now, chat, from, text } });
  }

  /** A user presses an inline button under one of the bot's messages. Returns the query id. */
  userPresses(chat: TgChat, from: TgUser, message: BotMessage, data: string): string {
    const id = `cbq-${this.nextCallbackId++}`;
    this.openCallbackQueries.set(id, { from });
    this.pushUpdate({
      callback_query: {
        id,
        from,
        chat_instance: `ci-${chat.id}`,
        data,
        message: { message_id: message.messageId, date: Math.floor(message.sentAt / 1000), chat, from: BOT_USER, text: message.text },
      },
    });
    return id;
  }

  /** The user presses the stop button of a draft (can_stop): Telegram sends stopped_message_generation. */
  userStopsDraft(chat: TgChat, draftId: number): number {
    return this.pushUpdate({ stopped_message_generation: { chat, draft_id: draftId } });
  }

  /** Delivers an update object as it is (e.g. the same update twice). */
  pushUpdate(update: Record<string, unknown>, updateId = this.nextUpdateId++): number {
    const message = (update.message ?? update.edited_message) as { chat?: TgChat & { is_forum?: boolean }; message_thread_id?: number; is_topic_message?: boolean } | undefined;
    if (message?.chat?.is_forum && message.is_topic_message && message.message_thread_id !== undefined) {
      const topics = this.forumTopics.get(message.chat.id) ?? new Set<number>();
      topics.add(message.message_thread_id);
      this.forumTopics.set(message.chat.id, topics);
    }
    this.allUpdates.push({ ...update, update_id: updateId });
    if (this.webhook) {
      this.webhookQueue.push({ ...update, update_id: updateId });
      this.pumpWebhook();
    } else {
      this.updates.push({ ...update, update_id: updateId });
      for (const wake of this.pollers) wake();
    }
    return updateId;
  }

  /**
   * Webhook delivery as Telegram does it: one update of a chat at a time, in order; other chats'
   * in parallel up to max_connections; an update that got no 2xx is posted again (to the next
   * target, as a load balancer would) until one takes it.
   */
  /** A network outage starts (open connections, long polls included, are reset) or ends. */
  setNetworkDown(down: boolean): void {
    this.networkDown = down;
    if (down) this.server.closeAllConnections();
  }

  /** Sets the local URLs webhook updates are really posted to (see webhookTargets). */
  routeWebhookTo(targets: string[]): void {
    this.webhookTargets = targets;
    this.pumpWebhook();
  }

  private pumpWebhook(): void {
    const limit = this.webhook?.max_connections ?? 40;
    for (let i = 0; i < this.webhookQueue.length && this.webhookInFlight < limit; ) {
      const update = this.webhookQueue[i]!;
      const chat = ((update.message ?? update.edited_message) as { chat?: { id?: number } } | undefined)?.chat?.id ?? `u${update.update_id}`;
      if (this.webhookBusyChats.has(chat) || this.webhookTargets.length === 0) {
        i++;
        continue;
      }
      this.webhookQueue.splice(i, 1);
      this.webhookBusyChats.add(chat);
      this.webhookInFlight++;
      void this.deliver(update).finally(() => {
        this.webhookBusyChats.delete(chat);
        this.webhookInFlight--;
        this.pumpWebhook();
      });
    }
  }

  private async deliver(update: Update): Promise<void> {
    for (let attempt = 0; !this.closed && this.webhook; attempt++) {
      const target = this.webhookTargets[this.nextTarget++ % this.webhookTargets.length]!;
      const status = await this.post(target, update);
      this.webhookDeliveries.push({ updateId: update.update_id, target, status, at: Date.now() });
      this.notify();
      if (typeof status === "number" && status >= 200 && status < 300) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
    }
  }

  /**
   * Posts an update to a webhook target the way Telegram does (with the secret the bot set);
   * resolves with the status. Tests pass `secret` (null: no header) or a `raw` body to misbehave.
   */
  post(target: string, update: unknown, options: { secret?: string | null; raw?: string } = {}): Promise<number | "network error"> {
    const body = options.raw ?? JSON.stringify(update);
    const secret = options.secret === undefined ? this.webhook?.secret_token : options.secret;
    return new Promise((resolve) => {
      const req = httpRequest(
        target,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            ...(secret ? { "x-telegram-bot-api-secret-token": secret } : {}),
          },
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve("network error"));
      req.end(body);
    });
  }

  /** A message update as a user's message would arrive (for posting by hand). */
  messageUpdate(chat: TgChat, from: TgUser, text: string): Update {
    const messageId = this.allocateMessageId(chat.id);
    return { update_id: this.nextUpdateId++, message: { message_id: messageId, date: Math.floor(Date.now() / 1000), chat, from, text } };
  }

  lastUpdate(): Record<string, unknown> | undefined {
    return this.allUpdates.at(-1);
  }

  /** The next call of `method` (matching `when`) fails with this reply. */
  failNext(method: string, reply: ApiErrorReply, when?: (params: Record<string, unknown>) => boolean): void {
    this.injected.push({ method, reply, ...(when ? { when } : {}) });
  }

  /**
   * The next call of `method` (matching `when`) "succeeds" with this result, whatever it is: a Bot
   * API server (or a proxy) that answers ok with something malformed. Nothing is sent.
   */
  answerNext(method: string, result: unknown, when?: (params: Record<string, unknown>) => boolean): void {
    this.injected.push({ method, reply: { result }, ...(when ? { when } : {}) });
  }

  messagesIn(chatId: number): BotMessage[] {
    return [...(this.botMessagesByChat.get(chatId) ?? [])];
  }

  callsOf(method: string, chatId?: number): ApiCall[] {
    return this.calls.filter((c) => c.method === method && (chatId === undefined || c.params.chat_id === chatId));
  }

  /** Resolves once `check` holds (re-checked after every API call); fails after `timeoutMs`. */
  waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`Timed out waiting for: ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Resolves with the next message the bot sends to the chat (as first sent). */
  async nextBotMessage(chatId: number, timeoutMs = 15_000): Promise<BotMessage> {
    const before = this.messagesIn(chatId).length;
    await this.waitFor(() => this.messagesIn(chatId).length > before, `a message in chat ${chatId}`, timeoutMs);
    return this.messagesIn(chatId)[before]!;
  }

  /** Waits until the bot's messages in the chat (as the user sees them now) satisfy `done`. */
  async waitForChat(chatId: number, done: (messages: BotMessage[]) => boolean, what: string): Promise<BotMessage[]> {
    await this.waitFor(() => done(this.messagesIn(chatId)), what);
    return this.messagesIn(chatId);
  }

  private allocateMessageId(chatId: number): number {
    const id = this.nextMessageId.get(chatId) ?? 1;
    this.nextMessageId.set(chatId, id + 1);
    return id;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) if (waiter.check()) waiter.resolve();
  }

  /**
   * A file users sent, as Telegram keeps it: returns the ids a message carries. `size` is what
   * Telegram says the file weighs (default: its length); over 20 MB, getFile refuses it.
   */
  addFile(content: Buffer, options: { size?: number } = {}): { file_id: string; file_unique_id: string; file_size: number } {
    const n = this.nextFileId++;
    const file = { file_id: `file-${n}-${"x".repeat(20)}`, file_unique_id: `uniq-${n}`, file_size: options.size ?? content.length };
    this.files.set(file.file_id, { ...file, content, path: `documents/file_${n}` });
    return file;
  }

  /** Forgets a file, as Telegram does with old ones: getFile then fails. */
  expireFile(fileId: string): void {
    this.files.delete(fileId);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // File downloads: GET /file/bot<token>/<file_path>, as getFile's file_path names them.
    const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(req.url?.split("?")[0] ?? "");
    if (download && req.method === "GET") {
      this.fileDownloads.push(download[2]!);
      const file = download[1] === this.token ? [...this.files.values()].find((f) => f.path === download[2]) : undefined;
      if (!file) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok: false, error_code: 404, description: "Not Found" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": file.content.length });
      res.end(file.content);
      return;
    }
    const match = /^\/bot([^/]+)\/(\w+)$/.exec(req.url?.split("?")[0] ?? "");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const contentType = req.headers["content-type"] ?? "";
    let params: Record<string, unknown>;
    if (contentType.startsWith("multipart/form-data")) {
      const multipart = parseMultipart(raw, contentType);
      params = multipart.params;
      // attach://<part> names the uploaded file.
      for (const [key, value] of Object.entries(params)) {
        const file = typeof value === "string" && value.startsWith("attach://") ? multipart.files.get(value.slice(9)) : undefined;
        if (file) params[key] = file;
      }
    } else {
      const body = raw.toString("utf8");
      params = (body ? JSON.parse(body) : {}) as Record<string, unknown>;
    }
    const reply = (status: number, payload: unknown) => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (!match) return reply(404, { ok: false, error_code: 404, description: "Not Found" });
    const [, token, method = ""] = match;
    if (this.networkDown) {
      req.socket.destroy();
      return;
    }
    if (token !== this.token) return reply(401, { ok: false, error_code: 401, description: "Unauthorized" });

    const call: ApiCall = { method, params, at: Date.now(), ok: true };
    const injectedAt = this.injected.findIndex((i) => i.method === method && (!i.when || i.when(params)));
    let outcome: { ok: true; result: unknown } | ({ ok: false } & ApiErrorReply);
    const retryAfter = injectedAt >= 0 ? null : this.floodCheck(method, params);
    if (injectedAt >= 0) {
      const [injected] = this.injected.splice(injectedAt, 1);
      const reply = injected!.reply;
      outcome = "result" in reply ? { ok: true, result: reply.result } : { ok: false, ...reply };
    } else if (retryAfter !== null) {
      outcome = { ok: false, error_code: 429, description: `Too Many Requests: retry after ${retryAfter}`, parameters: { retry_after: retryAfter } };
    } else if (method === "getUpdates" && this.webhook) {
      outcome = {
        ok: false,
        error_code: 409,
        description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      };
    } else if (method === "getUpdates") {
      this.pollStarts.push(Date.now());
      const updates = await this.getUpdates(params, req);
      if (this.networkDown || req.socket.destroyed) {
        req.socket.destroy();
        return;
      }
      outcome = { ok: true, result: updates };
      this.polls.push(Date.now());
    } else if (RICH_METHODS.has(method) && !this.richMessages) {
      outcome = { ok: false, error_code: 404, description: "Not Found" };
    } else {
      outcome = this.apply(method, params);
      if (outcome.ok && SENDING_METHODS.has(method)) await this.afterSend?.(method, params);
    }
    call.ok = outcome.ok;
    if (method !== "getUpdates") this.calls.push(call);
    reply(outcome.ok ? 200 : outcome.error_code, outcome);
    this.notify();
  }

  /** The retry_after (seconds) if this call breaks a flood limit; else null, and the call counts. */
  private floodCheck(method: string, params: Record<string, unknown>): number | null {
    const limits = this.floodLimits;
    if (!limits || !/^(send(?!ChatAction)|edit|copyMessage|forwardMessage)/.test(method)) return null;
    const at = Date.now();
    const chatId = Number(params.chat_id);
    const draft = method === "sendRichMessageDraft" || method === "sendMessageDraft";
    const prune = (times: number[], windowMs: number) => {
      while (times.length > 0 && times[0]! <= at - windowMs) times.shift();
    };
    /**
     * A refusal: retry_after is when the call would pass (a full window's room, or the wait already
     * asked), doubled for each violation of the same scope (the bot, or this chat) in the last
     * minute, up to 32 s.
     */
    const violate = (chat: number | null, roomAt: number) => {
      this.floodRefused++;
      const key = chat === null ? "bot" : `chat ${chat}`;
      const past = (this.floodViolations.get(key) ?? []).filter((t) => t > at - 60_000);
      past.push(at);
      this.floodViolations.set(key, past);
      const retryAfter = Math.min(32, Math.max(Math.ceil((roomAt - at) / 1_000), 2 ** (past.length - 1)));
      if (chat === null) this.floodUntil = Math.max(this.floodUntil, at + retryAfter * 1_000);
      else this.floodChatUntil.set(chat, Math.max(this.floodChatUntil.get(chat) ?? 0, at + retryAfter * 1_000));
      return retryAfter;
    };
    // Calls during a wait Telegram asked for are refused too, with what is left of it (calls already
    // on their way when the 429 was sent do not make it longer; a new violation after it does).
    const waitLeft = (until: number) => {
      this.floodRefused++;
      return Math.ceil((until - at) / 1_000);
    };
    if (this.floodUntil > at) return waitLeft(this.floodUntil);
    if ((this.floodChatUntil.get(chatId) ?? 0) > at) return waitLeft(this.floodChatUntil.get(chatId)!);
    prune(this.floodSends, 1_000);
    if (this.floodSends.length >= limits.perSecond) return violate(null, this.floodSends[this.floodSends.length - limits.perSecond]! + 1_000);
    const pace = chatId < 0 ? limits.groupPace : limits.privatePace;
    const times = this.floodChats.get(chatId) ?? [];
    prune(times, pace.windowMs);
    if (!draft && times.length >= pace.sends) return violate(chatId, times[times.length - pace.sends]! + pace.windowMs);
    this.floodSends.push(at);
    this.floodCounted++;
    if (!draft) {
      times.push(at);
      this.floodChats.set(chatId, times);
    }
    return null;
  }

  private async getUpdates(params: Record<string, unknown>, req: IncomingMessage) {
    const offset = Number(params.offset ?? 0);
    if (offset > 0) this.updates = this.updates.filter((u) => u.update_id >= offset);
    const pending = () => this.updates.filter((u) => u.update_id >= offset).slice(0, Number(params.limit ?? 100));
    const timeoutMs = Math.min(Number(params.timeout ?? 0), 30) * 1000;
    if (pending().length === 0 && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.pollers.delete(wake);
          req.socket.off("close", wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        this.pollers.add(wake);
        req.socket.once("close", wake);
      });
    }
    return pending();
  }

  private apply(method: string, p: Record<string, unknown>): { ok: true; result: unknown } | ({ ok: false } & ApiErrorReply) {
    const bad = (description: string) => ({ ok: false as const, error_code: 400, description: `Bad Request: ${description}` });
    switch (method) {
      case "getMe":
        return { ok: true, result: { ...BOT_USER, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false } };
      case "setWebhook": {
        const url = String(p.url ?? "");
        if (url === "") {
          // An empty URL removes the webhook, as deleteWebhook does.
          this.webhook = null;
          return { ok: true, result: true };
        }
        if (!url.startsWith("https://")) return bad("bad webhook: An HTTPS URL must be provided for webhook");
        if (p.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(p.secret_token))) {
          return bad("secret token contains unallowed characters");
        }
        const max = p.max_connections === undefined ? 40 : Number(p.max_connections);
        if (!Number.isInteger(max) || max < 1 || max > 100) return bad("bad max_connections");
        this.webhook = {
          url,
          ...(p.secret_token === undefined ? {} : { secret_token: String(p.secret_token) }),
          ...(p.allowed_updates === undefined ? {} : { allowed_updates: p.allowed_updates as string[] }),
          max_connections: max,
        };
        // Updates waiting for getUpdates now go to the webhook.
        for (const update of this.updates.splice(0)) this.webhookQueue.push(update);
        this.pumpWebhook();
        return { ok: true, result: true };
      }
      case "deleteWebhook":
        this.webhook = null;
        for (const update of this.webhookQueue.splice(0)) this.updates.push(update);
        return { ok: true, result: true };
      case "setMyCommands": {
        // As Telegram checks them: at most 100 commands of 1-32 lower-case letters, digits and
        // underscores, descriptions of 1-256 characters, a two-letter ISO 639-1 language or none.
        const commands = p.commands as Array<{ command?: unknown; description?: unknown }> | undefined;
        if (!Array.isArray(commands) || commands.length > 100) return bad("commands must be an array of at most 100 BotCommand");
        for (const c of commands) {
          if (typeof c.command !== "string" || !/^[a-z0-9_]{1,32}$/.test(c.command)) return bad("BOT_COMMAND_INVALID");
          if (typeof c.description !== "string" || c.description.length < 1 || c.description.length > 256) return bad("command description is invalid");
        }
        if (p.language_code !== undefined && !/^[a-z]{2}$/.test(String(p.language_code))) return bad("LANG_CODE_INVALID");
        return { ok: true, result: true };
      }
      case "getFile": {
        const file = this.files.get(String(p.file_id));
        if (!file) return bad("wrong file_id or the file is temporarily unavailable");
        if (file.file_size > 20 * 1024 * 1024) return bad("file is too big");
        return { ok: true, result: { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size, file_path: file.path } };
      }
      case "sendChatAction":
        return { ok: true, result: true };
      case "sendMessage": {
        const problem = this.validateText(p) ?? this.validateMarkup(p);
        if (problem) return bad(problem);
        const message = this.storeSent(p, { text: String(p.text), entities: (p.entities as Entity[] | undefined) ?? [] });
        return { ok: true, result: this.asMessage(message.chatId, message.messageId, p) };
      }
      case "sendRichMessage": {
        const problem = this.validateRich(p.rich_message) ?? this.validateMarkup(p);
        if (problem) return bad(problem);
        const message = this.storeSent(p, { text: (p.rich_message as { markdown: string }).markdown, entities: [], rich: true });
        return { ok: true, result: { ...this.asMessage(message.chatId, message.messageId, {}), rich_message: { markdown: message.text } } };
      }
      case "sendRichMessageDraft":
      case "sendMessageDraft": {
        const chatId = Number(p.chat_id);
        if (!(chatId > 0)) return bad("drafts can be sent to private chats only");
        const draftId = Number(p.draft_id);
        if (!Number.isInteger(draftId) || draftId === 0) return bad("draft_id must be a non-zero integer");
        const rich = method === "sendRichMessageDraft";
        if (rich) {
          const problem = this.validateRich(p.rich_message);
          if (problem) return bad(problem);
        } else if (typeof p.text === "string" && p.text.length > 4096) {
          return bad("message is too long");
        }
        this.drafts.push({
          chatId,
          draftId,
          text: rich ? (p.rich_message as { markdown: string }).markdown : String(p.text ?? ""),
          rich,
          canStop: p.can_stop === true,
          at: Date.now(),
        });
        return { ok: true, result: true };
      }
      case "editMessageText": {
        const chatId = Number(p.chat_id);
        const message = this.botMessagesByChat.get(chatId)?.find((m) => m.messageId === Number(p.message_id));
        if (!message) return bad("message to edit not found");
        if (p.rich_message !== undefined) {
          const problem = (p.text === undefined ? undefined : "text and rich_message can't be used together") ?? this.validateRich(p.rich_message) ?? this.validateMarkup(p);
          if (problem) return bad(problem);
          const markdown = (p.rich_message as { markdown: string }).markdown;
          if (message.rich && message.text === markdown) return bad(NOT_MODIFIED);
          this.applyEdit(message, p, { text: markdown, entities: [], rich: true });
          return { ok: true, result: { ...this.asMessage(chatId, message.messageId, {}), rich_message: { markdown } } };
        }
        const problem = this.validateText(p) ?? this.validateMarkup(p);
        if (problem) return bad(problem);
        const entities = (p.entities as Entity[] | undefined) ?? [];
        if (message.text === p.text && JSON.stringify(message.entities) === JSON.stringify(entities)) return bad(NOT_MODIFIED);
        this.applyEdit(message, p, { text: String(p.text), entities });
        return { ok: true, result: this.asMessage(chatId, message.messageId, p) };
      }
      case "sendDocument": {
        const file = p.document as { fileName?: string; content?: Buffer } | undefined;
        if (!file || !Buffer.isBuffer(file.content)) return bad("there is no document in the request");
        if (file.content.length === 0) return bad("file must be non-empty");
        if (file.content.length > 50 * 1024 * 1024) return { ok: false, error_code: 413, description: "Request Entity Too Large" };
        if (p.caption !== undefined && String(p.caption).length > 1024) return bad("message caption is too long");
        const markupProblem = this.validateMarkup(p);
        if (markupProblem) return bad(markupProblem);
        const chatId = Number(p.chat_id);
        const messageId = this.allocateMessageId(chatId);
        this.documents.push({ chatId, fileName: file.fileName ?? "file", content: file.content, ...(p.caption === undefined ? {} : { caption: String(p.caption) }) });
        return { ok: true, result: { ...this.asMessage(chatId, messageId, {}), document: { file_id: `doc-${messageId}`, file_unique_id: `u-${messageId}`, file_name: file.fileName, file_size: file.content.length } } };
      }
      case "answerCallbackQuery": {
        const id = String(p.callback_query_id ?? "");
        const query = this.openCallbackQueries.get(id);
        if (!query) return bad("query is too old and response timeout expired or query ID is invalid");
        if (p.text !== undefined && String(p.text).length > 200) return bad("message is too long");
        this.openCallbackQueries.delete(id);
        this.answeredCallbackQueries.push({
          id,
          ...(p.text === undefined ? {} : { text: String(p.text) }),
          ...(p.show_alert === undefined ? {} : { show_alert: Boolean(p.show_alert) }),
        });
        return { ok: true, result: true };
      }
      case "getChatAdministrators": {
        const chatId = Number(p.chat_id);
        if (chatId > 0) return bad("there are no administrators in the private chat");
        const admins = this.chatAdmins.get(chatId);
        if (!admins) return bad("chat not found");
        return {
          ok: true,
          result: admins.map((id) => ({ status: "administrator", user: { id, is_bot: false, first_name: `Admin ${id}` }, can_be_edited: false, is_anonymous: false })),
        };
      }
      default:
        return { ok: false, error_code: 404, description: `Not Found: method ${method} is not in the fake` };
    }
  }

  /** A message the bot sent (sendMessage or sendRichMessage), kept as the user sees it. */
  private storeSent(p: Record<string, unknown>, content: { text: string; entities: Entity[]; rich?: true }): BotMessage {
    const chatId = Number(p.chat_id);
    const replyTo = (p.reply_parameters as { message_id?: number } | undefined)?.message_id;
    const buttons = (p.reply_markup as { inline_keyboard?: BotMessage["buttons"] } | undefined)?.inline_keyboard;
    const message: BotMessage = {
      chatId,
      messageId: this.allocateMessageId(chatId),
      ...content,
      editCount: 0,
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(p.message_thread_id === undefined ? {} : { threadId: Number(p.message_thread_id) }),
      ...(buttons ? { buttons } : {}),
      sentAt: Date.now(),
      editedAt: [],
    };
    this.botMessages.push(message);
    const inChat = this.botMessagesByChat.get(chatId);
    if (inChat) inChat.push(message);
    else this.botMessagesByChat.set(chatId, [message]);
    return message;
  }

  /** An edit (text or rich): an edit without reply_markup removes the keyboard, as in Telegram. */
  private applyEdit(message: BotMessage, p: Record<string, unknown>, content: { text: string; entities: Entity[]; rich?: true }): void {
    message.text = content.text;
    message.entities = content.entities;
    if (content.rich) message.rich = true;
    else delete message.rich;
    const buttons = (p.reply_markup as { inline_keyboard?: BotMessage["buttons"] } | undefined)?.inline_keyboard;
    if (buttons) message.buttons = buttons;
    else delete message.buttons;
    message.editCount++;
    message.editedAt.push(Date.now());
  }

  /** Telegram's checks on an inline keyboard: 1-64 bytes of callback data, a text on every button. */
  private validateMarkup(p: Record<string, unknown>): string | undefined {
    // Telegram refuses a thread that is not a topic of that forum.
    if (p.message_thread_id !== undefined && !this.forumTopics.get(Number(p.chat_id))?.has(Number(p.message_thread_id))) return "message thread not found";
    if (p.reply_markup === undefined) return undefined;
    const rows = (p.reply_markup as { inline_keyboard?: unknown }).inline_keyboard;
    if (!Array.isArray(rows)) return "can't parse reply keyboard markup JSON object";
    for (const row of rows as unknown[]) {
      if (!Array.isArray(row)) return "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays";
      for (const button of row as Array<{ text?: unknown; callback_data?: unknown }>) {
        if (typeof button.text !== "string" || button.text === "") return "text buttons are unallowed in the inline keyboard";
        const data = String(button.callback_data ?? "");
        if (Buffer.byteLength(data) < 1 || Buffer.byteLength(data) > 64) return "BUTTON_DATA_INVALID";
      }
    }
    return undefined;
  }

  /** Telegram's checks on a rich message: one form of content, not empty, at most 32 768 bytes. */
  private validateRich(value: unknown): string | undefined {
    if (typeof value !== "object" || value === null) return "rich_message is required";
    const r = value as { markdown?: unknown; html?: unknown; blocks?: unknown };
    if ([r.markdown, r.html, r.blocks].filter((v) => v !== undefined).length !== 1) return "exactly one of markdown, html and blocks must be specified";
    if (r.markdown === undefined) return "this fake reads markdown rich messages only";
    if (typeof r.markdown !== "string" || r.markdown.trim() === "") return "rich message is empty";
    if (Buffer.byteLength(r.markdown, "utf8") > 32_768) return "rich message is too long";
    return undefined;
  }

  /** The checks real Telegram makes on a message text and its entities. */
  private validateText(p: Record<string, unknown>): string | undefined {
    if (typeof p.text !== "string" || p.text.trim() === "") return "message text is empty";
    if (p.text.length > 4096) return "message is too long";
    if (p.parse_mode !== undefined) return "this fake expects entities, not parse_mode";
    const entities = (p.entities as Entity[] | undefined) ?? [];
    for (const e of entities) {
      if (!Number.isInteger(e.offset) || !Number.isInteger(e.length) || e.offset < 0 || e.length <= 0 || e.offset + e.length > p.text.length) {
        return `can't parse entities: entity ${JSON.stringify(e)} is outside the text`;
      }
    }
    return undefined;
  }

  private asMessage(chatId: number, messageId: number, p: Record<string, unknown>) {
    return {
      message_id: messageId,
      date: Math.floor(Date.now() / 1000),
      chat: { id: chatId, type: chatId > 0 ? "private" : "supergroup" },
      from: BOT_USER,
      text: p.text,
      ...(p.entities ? { entities: p.entities } : {}),
    };
  }
}
