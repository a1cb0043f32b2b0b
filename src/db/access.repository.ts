import { sql } from "kysely";
import type { AccessRule } from "../domain/people.ts";
import type { Executor } from "./executor.ts";

export interface AccessRepository {
  rules(): Promise<AccessRule[]>;
  setRule(subject: string, allowed: boolean, changedBy: number | bigint): Promise<void>;
}

export function createAccessRepository(db: Executor): AccessRepository {
  return {
    async rules() {
      const rows = await db.selectFrom("access_rules").selectAll().orderBy("changed_at").execute();
      return rows.map((r) => ({ subject: r.subject, allowed: r.allowed, changedBy: r.changed_by, changedAt: r.changed_at }));
    },
    async setRule(subject, allowed, changedBy) {
      await db
        .insertInto("access_rules")
        .values({ subject, allowed, changed_by: changedBy })
        .onConflict((oc) => oc.column("subject").doUpdateSet((eb) => ({ allowed: eb.ref("excluded.allowed"), changed_by: eb.ref("excluded.changed_by"), changed_at: sql<Date>`now()` })))
        .execute();
    },
  };
}
