/**
 * What a repository runs its statements on: the database, or a transaction already open on it
 * (so several repositories can write in one transaction).
 */
import type { Kysely, Transaction } from "kysely";
import type { Database } from "./database.ts";

export type Executor = Kysely<Database> | Transaction<Database>;
