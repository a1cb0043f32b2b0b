/**
 * People: a user as a turn records them, and an admin's /allow or /deny decision about a user.
 */
import type { Id } from "./ids.ts";

export interface UserInfo {
  id: Id;
  username: string | null;
  firstName: string | null;
  lastName: string | null;
}

/** An admin's decision about one subject: a user id ("123") or a lower-cased "@username". */
export interface AccessRule {
  subject: string;
  allowed: boolean;
  changedBy: bigint;
  changedAt: Date;
}
