/**
 * The bot's budget of sends to Telegram, spent as one sender. Telegram takes about 30 messages a
 * second from a bot, about one a second in a chat (short bursts pass) and 20 a minute in a group,
 * and answers more with 429 and a retry_after that grows while a bot keeps at it. So:
 *
 * - every message the bot sends or edits takes a slot of TELEGRAM_SENDS_PER_SECOND (shared by the
 *   instances on one PostgreSQL: each takes its part) and of its chat's pace;
 * - final answers (and every other reply) wait for a slot, in order; previews, drafts and the
 *   typing indicator never wait: under pressure (finals waiting, half the second's budget used, a
 *   pause) they are dropped;
 * - a 429 pauses its chat (and is passed on to the other instances, which may send there next);
 *   429s in two chats at once pause the whole bot and slow it down for a while, instead of each
 *   request retrying on its own. A final that would wait longer than
 *   MAX_WAIT_MS (3 s) gets the 429, and its delivery waits in the inbox (features/chat.ts).
 *
 * grammY's auto-retry retries each request on its own, and transformer-throttler (Bottleneck)
 * paces without priorities and is advised against in grammY's own docs; neither spans instances.
 * doc/adr/0005-bounded-work.md.
 */
import type { Transformer } from "grammy";

export type SendClass = "final" | "preview";

/** Methods that put a message in a chat (or change one): what Telegram's limits count. */
const COUNTED = /^(send(?!ChatAction)|edit|copyMessage|forwardMessage)/;
/** Drafts stream into a private chat: they count for the bot, not against the chat's pace. */
const DRAFTS = new Set(["sendRichMessageDraft", "sendMessageDraft"]);

/** A chat's pace: at most `sends` in `windowMs`. */
const PRIVATE_PACE = { sends: 3, windowMs: 3_000 };
const GROUP_PACE = { sends: 20, windowMs: 60_000 };
/** The longest flood wait a final waits out here; past it the 429 goes to the caller (the inbox waits). */
const MAX_WAIT_MS = 3_000;
const MAX_ATTEMPTS = 3;
/** Previews may use this share of the second's budget and of a chat's pace; the rest is kept for finals. */
const PREVIEW_SHARE = 0.5;
/**
 * How far behind its schedule the spacing may fall and catch up: a timer fires late when the event
 * loop is busy, and the sends whose turn came meanwhile go together instead of each waiting for
 * another tick (at 1 000/s, one send per tick made the tick the pace, and one finish statement per
 * turn). Spacing wider than this (30/s: 33 ms) is kept exactly.
 */
const CATCH_UP_MS = 20;
/** At most this many sends that fell behind the schedule go at once to catch up (a short burst passes). */
const CATCH_UP_SENDS = 3;

/** A preview dropped to spare the budget: nothing was sent. */
export class SendShed extends Error {
  constructor(method: string) {
    super(`${method} dropped: the bot is near Telegram's limits`);
    this.name = "SendShed";
  }
}

export interface SendBudgetOptions {
  /** The bot's whole budget (TELEGRAM_SENDS_PER_SECOND). */
  perSecond: number;
  /** How many instances share it (1 unless several work one PostgreSQL). */
  instances?: () => number;
  /** A 429 was met: pass the pause on to the other instances. chatId null: the whole bot. */
  onFlood?: (chatId: number | null, untilMs: number) => void;
  now?: () => number;
}

export interface SendBudget {
  transformer(kind: SendClass): Transformer;
  /** A pause another instance learned from a 429. */
  pause(chatId: number | null, untilMs: number): void;
  /** Counters, for metrics and benchmarks. */
  stats(): { sent: number; shed: number; refused: number; waiting: number };
}

interface Waiter {
  chatId: number | null;
  counted: boolean;
  draft: boolean;
  resolve: () => void;
}

export function createSendBudget(options: SendBudgetOptions): SendBudget {
  const now = options.now ?? Date.now;
  const instances = options.instances ?? (() => 1);
  /** Send times within the last second (this instance's), oldest first. */
  const recent: number[] = [];
  /** When the next send is due on an even schedule (1/n s apart); a send behind it by up to CATCH_UP_MS goes now. */
  let due = 0;
  const chats = new Map<number, number[]>();
  const pausedChats = new Map<number, number>();
  let pausedUntil = 0;
  /** Slows the whole bot down after a 429 (×0.5 each), back by a tenth a second from a second after it. */
  let slowAtFlood = 1;
  let lastFlood = 0;
  const waiting: Waiter[] = [];
  let timer: NodeJS.Timeout | undefined;
  const counters = { sent: 0, shed: 0, refused: 0 };

  const slowdown = (at: number) => Math.min(1, slowAtFlood + Math.max(0, at - lastFlood - 1_000) / 10_000);
  /** Sends this instance may make in a second now. */
  const slots = (at: number) => Math.max(1, Math.floor((options.perSecond * slowdown(at)) / Math.max(1, instances())));
  const prune = (times: number[], windowMs: number, at: number) => {
    while (times.length > 0 && times[0]! <= at - windowMs) times.shift();
  };
  const paceOf = (chatId: number) => (chatId < 0 ? GROUP_PACE : PRIVATE_PACE);

  /**
   * When the bot's next send may go, as far as its whole budget goes: at most `n` in a second, and
   * evenly spaced (1/n s apart). A burst of n at the start of each second arrives spread by the
   * network, and Telegram, counting arrivals, then sees more than n in one second (measured: 28
   * refusals a burst against the fake, and retry_after doubling to 32 s).
   */
  const globalReadyAt = (at: number) => {
    prune(recent, 1_000, at);
    const n = slots(at);
    const spaced = due - Math.max(0, CATCH_UP_MS - 1_000 / n);
    return Math.max(spaced, recent.length >= n ? recent[recent.length - n]! + 1_000 : 0);
  };

  /** When a send of this kind in this chat may go (0: now). */
  const readyAt = (chatId: number | null, draft: boolean, at: number): number => {
    let ready = Math.max(pausedUntil, chatId === null ? 0 : (pausedChats.get(chatId) ?? 0));
    ready = Math.max(ready, globalReadyAt(at));
    if (chatId !== null && !draft) {
      const pace = paceOf(chatId);
      const times = chats.get(chatId);
      if (times) {
        prune(times, pace.windowMs, at);
        if (times.length >= pace.sends) ready = Math.max(ready, times[times.length - pace.sends]! + pace.windowMs);
      }
    }
    return ready <= at ? 0 : ready;
  };

  const take = (chatId: number | null, draft: boolean, at: number) => {
    recent.push(at);
    // A send that went late on the schedule (its timer fired late: the event loop was busy) keeps
    // the schedule: the next may go that much sooner. Timers fire a millisecond or so late, and
    // when every later send inherited it the bot sent 28.5 a second instead of 29. In a burst of
    // 1 000 turns a turn of the event loop takes 100-300 ms, and one send a turn went at 10-20 a
    // second for the first seconds: while the last second holds well under the budget, the sends
    // whose turn came meanwhile go now, up to CATCH_UP_SENDS of them. Otherwise the schedule may
    // fall half a spacing behind, so two sends are never closer than that. The count of the last
    // second caps the rate either way; an idle bot starts a new schedule.
    const n = slots(at);
    const spacing = 1_000 / n;
    // (CATCH_UP_SENDS + ½ spacings: the late one and CATCH_UP_SENDS more, whatever the rounding.)
    const behind = recent.length <= n - 2 * CATCH_UP_SENDS ? (CATCH_UP_SENDS + 0.5) * spacing : spacing / 2;
    due = (due > at - 1_000 ? Math.max(due, at - behind) : at) + spacing;
    counters.sent++;
    if (chatId !== null && !draft) {
      const times = chats.get(chatId) ?? [];
      times.push(at);
      chats.set(chatId, times);
      if (chats.size > 10_000) for (const [id, t] of chats) if (t.length === 0 || t.at(-1)! <= at - GROUP_PACE.windowMs) chats.delete(id);
    }
  };

  /** Lets waiting finals go, in order (a chat's sends stay in order: one blocked chat holds only itself). */
  const pump = () => {
    clearTimeout(timer);
    timer = undefined;
    const at = now();
    let next = Number.POSITIVE_INFINITY;
    const blocked = new Set<number | null>();
    for (let i = 0; i < waiting.length; ) {
      // The whole budget spent: nobody goes before it frees (no need to look at each chat).
      const global = Math.max(pausedUntil, globalReadyAt(at));
      if (global > at) {
        next = Math.min(next, global);
        break;
      }
      const waiter = waiting[i]!;
      if (blocked.has(waiter.chatId) && waiter.chatId !== null) {
        i++;
        continue;
      }
      const ready = waiter.counted ? readyAt(waiter.chatId, waiter.draft, at) : Math.max(0, pausedUntil > at ? pausedUntil : 0);
      if (ready === 0) {
        if (waiter.counted) take(waiter.chatId, waiter.draft, at);
        waiting.splice(i, 1);
        waiter.resolve();
        continue;
      }
      next = Math.min(next, ready);
      blocked.add(waiter.chatId);
      i++;
    }
    if (waiting.length > 0 && Number.isFinite(next)) timer = setTimeout(pump, Math.max(1, next - at));
  };

  const wait = (chatId: number | null, counted: boolean, draft: boolean) =>
    new Promise<void>((resolve) => {
      waiting.push({ chatId, counted, draft, resolve });
      pump();
    });

  /**
   * Recent 429s. One chat's may be that chat's pace (another instance may have just sent there);
   * two chats' within two seconds say the bot as a whole is too fast (Telegram does not say which):
   * then every send waits, and the pace is halved for a while.
   */
  const floods: Array<{ at: number; chatId: number | null }> = [];
  const flood = (chatId: number | null, retryAfterS: number) => {
    const at = now();
    const until = at + retryAfterS * 1_000;
    counters.refused++;
    while (floods.length > 0 && floods[0]!.at <= at - 2_000) floods.shift();
    floods.push({ at, chatId });
    const wholeBot = chatId === null || new Set(floods.map((f) => f.chatId)).size >= 2;
    if (wholeBot) {
      slowAtFlood = Math.max(0.1, slowdown(at) * 0.5);
      lastFlood = at;
      pausedUntil = Math.max(pausedUntil, until);
    } else pausedChats.set(chatId, Math.max(pausedChats.get(chatId) ?? 0, until));
    options.onFlood?.(wholeBot ? null : chatId, until);
  };

  const chatOf = (payload: unknown): number | null => {
    const id = (payload as { chat_id?: unknown } | undefined)?.chat_id;
    return typeof id === "number" ? id : null;
  };

  return {
    transformer: (kind) => async (prev, method, payload, signal) => {
      const counted = COUNTED.test(method);
      const chatId = chatOf(payload);
      const draft = DRAFTS.has(method);
      if (kind === "preview") {
        // Never waits: sent now if the budget has room to spare, else dropped.
        const at = now();
        prune(recent, 1_000, at);
        const pressure = waiting.length > 0 || pausedUntil > at || (chatId !== null && (pausedChats.get(chatId) ?? 0) > at) || recent.length >= slots(at) * PREVIEW_SHARE;
        const chatTimes = chatId === null || draft ? undefined : chats.get(chatId);
        if (chatTimes) prune(chatTimes, paceOf(chatId!).windowMs, at);
        const chatBusy = chatTimes !== undefined && chatTimes.length >= paceOf(chatId!).sends * PREVIEW_SHARE;
        if (pressure || chatBusy || (counted && readyAt(chatId, draft, at) !== 0)) {
          counters.shed++;
          throw new SendShed(method);
        }
        if (counted) take(chatId, draft, at);
        return prev(method, payload, signal);
      }
      if (!counted) return prev(method, payload, signal);
      for (let attempt = 1; ; attempt++) {
        await wait(chatId, true, draft);
        const result = await prev(method, payload, signal);
        if (result.ok || result.error_code !== 429) return result;
        const retryAfter = result.parameters?.retry_after ?? 1;
        flood(chatId, retryAfter);
        // A short wait is waited out here (a few times); a long one goes back, and the delivery waits in the inbox.
        if (retryAfter * 1_000 > MAX_WAIT_MS || attempt >= MAX_ATTEMPTS) return result;
      }
    },
    pause(chatId, untilMs) {
      slowAtFlood = Math.max(0.1, slowdown(now()) * 0.5);
      lastFlood = now();
      if (chatId === null) pausedUntil = Math.max(pausedUntil, untilMs);
      else pausedChats.set(chatId, Math.max(pausedChats.get(chatId) ?? 0, untilMs));
      pump();
    },
    stats: () => ({ ...counters, waiting: waiting.length }),
  };
}
