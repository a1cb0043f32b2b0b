import { sql } from "kysely";
import type { Executor } from "./executor.ts";

/** Payload: "<instance> <chat id or empty> <until, ms since 1970>": a 429 one instance met, for all to pause. */
export const FLOOD_CHANNEL = "parley_flood";

/** An instance counts as live this long after it was last seen. */
const LIVE_SECONDS = 15;

export interface InstancesRepository {
  /** This instance is alive; returns how many are (itself included). Forgets long-gone ones. */
  beat(owner: string): Promise<number>;
  /** This instance stops. */
  leave(owner: string): Promise<void>;
  /** Tells every instance (LISTEN FLOOD_CHANNEL) that Telegram asked to wait. */
  notifyFlood(owner: string, chatId: number | null, untilMs: number): Promise<void>;
}

export function createInstancesRepository(db: Executor): InstancesRepository {
  return {
    async beat(owner) {
      const { rows } = await sql<{ live: number }>`
        with seen as (
          insert into instances (owner, seen_at) values (${owner}, now())
          on conflict (owner) do update set seen_at = now()
        ), gone as (
          delete from instances where seen_at < now() - interval '1 hour'
        )
        select (count(*) filter (where seen_at > now() - make_interval(secs => ${LIVE_SECONDS}) and owner <> ${owner}))::int + 1 as live
        from instances
      `.execute(db);
      return rows[0]?.live ?? 1;
    },
    async leave(owner) {
      await db.deleteFrom("instances").where("owner", "=", owner).execute();
    },
    async notifyFlood(owner, chatId, untilMs) {
      await sql`select pg_notify(${FLOOD_CHANNEL}, ${`${owner} ${chatId ?? ""} ${Math.round(untilMs)}`})`.execute(db);
    },
  };
}

/** A FLOOD_CHANNEL payload, or null if it is not one (or this instance's own). */
export function parseFlood(payload: string, self: string): { chatId: number | null; untilMs: number } | null {
  const [owner, chat, until] = payload.split(" ");
  if (!owner || owner === self || until === undefined || !/^\d+$/.test(until) || (chat !== "" && !/^-?\d+$/.test(chat ?? ""))) return null;
  return { chatId: chat ? Number(chat) : null, untilMs: Number(until) };
}
