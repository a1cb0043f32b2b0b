import { sql } from "kysely";
import type { DeliveryProgress } from "../domain/delivery.ts";
import type { Id } from "../domain/ids.ts";
import { cleanText } from "../lib/text.ts";
import { UNFINISHED_STATES, type InboxState } from "./database.ts";
import type { Executor } from "./executor.ts";

/** An update as it goes into the inbox: its id, the chat and topic it belongs to, and itself. */
export interface IncomingUpdate {
  updateId: number;
  chatId: Id | null;
  threadId: number | null;
  /** Set for new messages: the same message under another update id is a duplicate. */
  messageId: number | null;
  payload: object;
}

/** An inbox row this instance now holds a lease on. */
export interface ClaimedUpdate {
  updateId: bigint;
  chatId: bigint | null;
  /** working: to be answered; answered: the answer is stored, to be delivered. */
  state: InboxState;
  /** How many times the row was claimed, this claim included. */
  attempts: number;
  payload: unknown;
  answer: { id: bigint; content: string } | null;
  delivery: DeliveryProgress | null;
  /** How the previous attempt failed, if it did (see release's `error`). */
  lastError: string | null;
  /** The chat has more updates waiting after this one. */
  chatHasMore: boolean;
}

/** An update still waiting in the inbox, as a paste merge looks at it. */
export interface PendingUpdate {
  updateId: bigint;
  payload: unknown;
  receivedAt: Date;
}

export interface InboxRepository {
  /**
   * Stores updates not seen before (by update_id, and by message); returns how many were new.
   * If any was, notifies INBOX_CHANNEL with `instance` as the payload: the instance that
   * ingested wakes its own worker directly and can ignore its own notification.
   */
  ingest(updates: IncomingUpdate[], instance?: string): Promise<number>;
  /**
   * Leases up to `limit` rows that can run now: the oldest unfinished row of each chat, if no
   * one holds a live lease on it and it is not waiting (not_before). Safe across instances.
   */
  claim(owner: string, limit: number, leaseMs: number): Promise<ClaimedUpdate[]>;
  /** Extends every lease this owner holds. */
  renewLeases(owner: string, leaseMs: number): Promise<number>;
  /** The chat's unfinished updates from `updateId` on, oldest first, at most `limit` (a paste's pieces). */
  pending(chatId: Id, updateId: Id, limit: number): Promise<PendingUpdate[]>;
  /**
   * Merges later updates of the chat into one this owner holds, in one statement: its payload
   * becomes `payload`, and they end as done (error "merged"). False, and nothing changed, if the
   * lease is lost.
   */
  absorb(updateId: Id, owner: string, payload: object, absorbed: readonly Id[]): Promise<boolean>;
  /**
   * Gives a row back to be picked up again (after `delayMs`): an unanswered turn is received
   * again, a stored answer stays stored. `delivery` records how far its delivery got.
   */
  release(updateId: Id, owner: string, options?: { delayMs?: number; delivery?: DeliveryProgress; error?: string }): Promise<boolean>;
  /**
   * Ends a row: delivered (its answer), done (nothing to answer) or failed. Drops the payload.
   * `held`: this owner still held it; `chatHasMore`: its chat has a next update waiting (so the
   * worker knows whether to look for work now, without a claim after every turn).
   */
  finish(updateId: Id, owner: string, state: FinalState, error?: string): Promise<FinishResult>;
  /** finish for many rows in one statement; one result per row, in the order given. */
  finishMany(rows: readonly FinishRequest[]): Promise<FinishResult[]>;
  /** Clears every lease: only for a store that one process alone can open (PGlite). */
  releaseAllLeases(): Promise<number>;
  /** Tells every instance (LISTEN STOP_CHANNEL) of these stop requests (inbox/stops.ts), each as JSON. */
  notifyStops(requests: readonly object[]): Promise<void>;
  /** Deletes finished rows older than `olderThanMs`, at most `limit` of them. */
  pruneFinished(olderThanMs: number, limit: number): Promise<number>;
  /** Rows not finished yet, and the age of the oldest (for logs and benchmarks). */
  backlog(): Promise<{ unfinished: number; oldestMs: number | null }>;
}

export type FinalState = "delivered" | "done" | "failed";
export interface FinishRequest {
  updateId: Id;
  owner: string;
  state: FinalState;
  error?: string | undefined;
}
export interface FinishResult {
  held: boolean;
  chatHasMore: boolean;
}

/** The channel an ingest notifies, so idle workers of other instances wake at once. */
export const INBOX_CHANNEL = "parley_inbox";
/** Payload: a chat id whose answer being written should stop (the stop button, /cancel). */
export const STOP_CHANNEL = "parley_stop";

const seconds = (ms: number) => ms / 1000;

/** `('received', 'working', 'answered')`, for the raw statements: the one list of unfinished states. */
const UNFINISHED = sql.raw(`(${UNFINISHED_STATES.map((state) => `'${state}'`).join(", ")})`);

/** A lease given back: an unanswered turn is received again, a stored answer stays stored. */
const leaseGivenBack = {
  state: sql<InboxState>`case when state = 'working' then 'received' else state end`,
  lease_owner: null,
  lease_until: null,
};

/**
 * Whether the inbox row's chat has another unfinished update after it: the next entry of
 * inbox_unfinished_idx in (chat, update) order, one index probe. Written as a row comparison in the
 * index's order, as the skip scan's step is, because no other index gives that order: as an
 * exists() the planner chose by its statistics between a scan of the whole table and a walk of the
 * primary key over every later update (measured: both, on the bench's 100 000-row backlog).
 */
const CHAT_HAS_MORE = sql`(select next.chat_id = inbox.chat_id from inbox next where next.state in ${UNFINISHED}
  and (next.chat_id, next.update_id) > (inbox.chat_id, inbox.update_id) order by next.chat_id, next.update_id limit 1) is true`;

/**
 * jsonb cannot hold a NUL character or a lone surrogate, and Telegram clients can send both: one
 * such update must not block the inbox. They are dropped or replaced, as for stored messages.
 */
const storable = (_key: string, value: unknown) => (typeof value === "string" ? cleanText(value) : value);

export function createInboxRepository(db: Executor): InboxRepository {
  const repository: InboxRepository = {
    async ingest(updates, instance = "") {
      if (updates.length === 0) return 0;
      const rows = updates.map((u) => ({
        update_id: u.updateId,
        chat_id: u.chatId,
        thread_id: u.threadId,
        message_id: u.messageId,
        payload: JSON.stringify(u.payload, storable),
      }));
      // One statement: the insert, and one notification (sent at commit) if anything was new.
      const { rows: result } = await db
        .with("ins", (qb) =>
          qb
            .insertInto("inbox")
            .values(rows)
            .onConflict((oc) => oc.doNothing())
            .returning("update_id"),
        )
        .selectFrom("ins")
        .select((eb) => [
          eb.fn.countAll<number>().as("inserted"),
          sql<unknown>`case when count(*) > 0 then pg_notify(${INBOX_CHANNEL}, ${instance}::text) end`.as("notified"),
        ])
        .execute()
        .then((r) => ({ rows: r }));
      return Number(result[0]?.inserted ?? 0);
    },

    async claim(owner, limit, leaseMs) {
      // Heads: the oldest unfinished update of each chat (a skip scan of inbox_unfinished_idx). A head
      // someone holds a live lease on blocks its chat; so does one waiting for not_before.
      // SKIP LOCKED lets concurrent claimers pass each other; a row another claimer changed
      // meanwhile is re-checked against the lease condition before it is taken.
      const result = await sql<{
        update_id: bigint;
        chat_id: bigint | null;
        state: InboxState;
        attempts: number;
        payload: unknown;
        delivery: DeliveryProgress | null;
        answer_id: bigint | null;
        answer_content: string | null;
        error: string | null;
        chat_has_more: boolean;
      }>`
        update inbox set
          state = case when inbox.state = 'received' then 'working' else inbox.state end,
          lease_owner = ${owner},
          lease_until = now() + make_interval(secs => ${seconds(leaseMs)}),
          attempts = inbox.attempts + 1,
          not_before = null
        from (
          select i.update_id from inbox i
          where i.state in ${UNFINISHED}
            and i.update_id in (
              -- Each chat's head by a skip scan over inbox_unfinished_idx: one index probe per chat
              -- with something waiting, however long one chat's backlog is (DISTINCT ON read every
              -- waiting row: 100 000 in one chat made a claim 15-45 ms). Updates without a chat
              -- queue as one, as before.
              with recursive heads(chat_id, update_id) as (
                (select chat_id, update_id from inbox where state in ${UNFINISHED} and chat_id is not null
                 order by chat_id, update_id limit 1)
                union all
                select next.chat_id, next.update_id from heads h cross join lateral (
                  select chat_id, update_id from inbox where state in ${UNFINISHED} and chat_id > h.chat_id
                  order by chat_id, update_id limit 1
                ) next
              )
              select update_id from heads
              union all
              (select update_id from inbox where state in ${UNFINISHED} and chat_id is null order by update_id limit 1)
            )
            and (i.lease_until is null or i.lease_until < now())
            and (i.not_before is null or i.not_before <= now())
          order by i.update_id
          limit ${limit}
          for update of i skip locked
        ) picked
        where inbox.update_id = picked.update_id
        returning inbox.update_id, inbox.chat_id, inbox.state, inbox.attempts, inbox.payload, inbox.delivery, inbox.error,
          inbox.answer_id, (select content from messages where messages.id = inbox.answer_id) as answer_content,
          ${CHAT_HAS_MORE} as chat_has_more
      `.execute(db);
      return result.rows
        .map((r) => ({
          updateId: r.update_id,
          chatId: r.chat_id,
          state: r.state,
          attempts: r.attempts,
          payload: r.payload,
          answer: r.answer_id === null ? null : { id: r.answer_id, content: r.answer_content ?? "" },
          delivery: r.delivery,
          lastError: r.error,
          chatHasMore: r.chat_has_more,
        }))
        .sort((a, b) => (a.updateId < b.updateId ? -1 : 1));
    },

    async pending(chatId, updateId, limit) {
      const rows = await db
        .selectFrom("inbox")
        .select(["update_id", "payload", "received_at"])
        .where("chat_id", "=", BigInt(chatId))
        .where("update_id", ">=", BigInt(updateId))
        .where("state", "in", UNFINISHED_STATES)
        .orderBy("update_id")
        .limit(limit)
        .execute();
      return rows.map((r) => ({ updateId: r.update_id, payload: r.payload, receivedAt: r.received_at }));
    },

    async absorb(updateId, owner, payload, absorbed) {
      const { rows } = await sql<{ held: boolean }>`
        with held as (
          update inbox set payload = ${JSON.stringify(payload)}
          where update_id = ${BigInt(updateId)} and lease_owner = ${owner} and state = 'working'
          returning update_id
        ), merged as (
          update inbox set state = 'done', error = 'merged', payload = null, finished_at = now()
          where update_id = any(${absorbed.map(String)}::bigint[]) and state = 'received' and exists (select 1 from held)
        )
        select exists (select 1 from held) as held
      `.execute(db);
      return rows[0]?.held === true;
    },

    async renewLeases(owner, leaseMs) {
      const result = await db
        .updateTable("inbox")
        .set({ lease_until: sql<Date>`now() + make_interval(secs => ${seconds(leaseMs)})` })
        .where("lease_owner", "=", owner)
        .where("state", "in", ["working", "answered"])
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async release(updateId, owner, options = {}) {
      const result = await db
        .updateTable("inbox")
        .set({
          ...leaseGivenBack,
          not_before: options.delayMs ? sql<Date>`now() + make_interval(secs => ${seconds(options.delayMs)})` : null,
          ...(options.delivery ? { delivery: JSON.stringify(options.delivery) } : {}),
          ...(options.error ? { error: options.error } : {}),
        })
        .where("update_id", "=", BigInt(updateId))
        .where("lease_owner", "=", owner)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async finish(updateId, owner, state, error) {
      return (await repository.finishMany([{ updateId, owner, state, error }]))[0]!;
    },

    async finishMany(requests) {
      if (requests.length === 0) return [];
      // The exists() sees the inbox as it was before this statement: rows finished together are
      // of different chats (one turn per chat runs at a time), so none hides another's next row.
      const { rows } = await sql<{ ord: number; chat_has_more: boolean }>`
        update inbox set
          state = v.state, lease_owner = null, lease_until = null, payload = null, delivery = null,
          error = v.error, finished_at = now()
        from unnest(${requests.map((r) => String(r.updateId))}::bigint[], ${requests.map((r) => r.owner)}::text[],
                    ${requests.map((r) => r.state)}::text[], ${requests.map((r) => r.error ?? null)}::text[])
             with ordinality as v(update_id, owner, state, error, ord)
        where inbox.update_id = v.update_id and inbox.lease_owner = v.owner
        returning v.ord::int as ord, ${CHAT_HAS_MORE} as chat_has_more
      `.execute(db);
      const results: FinishResult[] = requests.map(() => ({ held: false, chatHasMore: false }));
      for (const row of rows) results[row.ord - 1] = { held: true, chatHasMore: row.chat_has_more };
      return results;
    },

    async releaseAllLeases() {
      const result = await db
        .updateTable("inbox")
        .set(leaseGivenBack)
        .where("lease_owner", "is not", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async notifyStops(requests) {
      if (requests.length === 0) return;
      await sql`select pg_notify(${STOP_CHANNEL}, request) from unnest(${requests.map((r) => JSON.stringify(r))}::text[]) as request`.execute(db);
    },

    async pruneFinished(olderThanMs, limit) {
      const result = await db
        .deleteFrom("inbox")
        .where("update_id", "in", (eb) =>
          eb
            .selectFrom("inbox")
            .select("update_id")
            .where("finished_at", "<", sql<Date>`now() - make_interval(secs => ${seconds(olderThanMs)})`)
            .limit(limit),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async backlog() {
      const row = await db
        .selectFrom("inbox")
        .select((eb) => [
          eb.fn.countAll<number>().as("unfinished"),
          sql<number | null>`extract(epoch from now() - min(received_at)) * 1000`.as("oldest_ms"),
        ])
        .where("state", "in", UNFINISHED_STATES)
        .executeTakeFirstOrThrow();
      return { unfinished: Number(row.unfinished), oldestMs: row.oldest_ms === null ? null : Number(row.oldest_ms) };
    },
  };
  return repository;
}
