/**
 * The file box's child process: one job, its result, exit. Started by box.ts with a V8 heap
 * bound; the parent also watches its resident memory and its time, and kills it past either.
 */
import { runJob, type BoxJob, type BoxResult } from "./jobs.ts";

process.once("message", (job: BoxJob) => {
  runJob(job)
    .catch((error: unknown): BoxResult => ({ ok: false, failure: "unreadable", reason: error instanceof Error ? error.message : String(error) }))
    .then((result) => process.send!(result, () => process.exit(0)));
});
