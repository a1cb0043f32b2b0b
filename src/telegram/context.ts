import type { Context } from "grammy";
import type { Turn } from "../inbox/turn.ts";

/** grammY's context, plus the inbox row the update came from (set for every update the inbox runs). */
export type ParleyContext = Context & { turn?: Turn };
