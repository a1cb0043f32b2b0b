/**
 * The box a user's file is read in: a child process per job (a PDF's text, an image scaled for
 * the model), with bounds on its time (FILE_TIMEOUT_SECONDS) and memory (FILE_MEMORY_MB: V8's
 * heap, and the process's whole resident memory, watched from here: pdf.js and libvips keep much
 * of theirs outside the heap). Past either the process is killed, and the file gets a short
 * answer: "too complex". Jobs wait for one of `concurrency` boxes (the bot's cores are shared).
 *
 * A process, not a worker thread: a worker's resourceLimits bound only its JavaScript heap (not
 * the ArrayBuffers a PDF inflates into), and a worker that runs out of memory can still take the
 * process with it; a child that does is only itself.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Logger } from "../../logger.ts";
import type { BoxJob, BoxResult } from "./jobs.ts";

export interface FileBoxOptions {
  timeoutMs: number;
  memoryMb: number;
  /** Jobs running at once; the others wait their turn. */
  concurrency?: number;
  logger: Logger;
  /** How often the child's resident memory is read. */
  watchEveryMs?: number;
}

export interface FileBox {
  run(job: BoxJob): Promise<BoxResult>;
}

/** The child's entry, next to this file: child.ts when running from src/, child.js when built. */
const CHILD = new URL(`./child${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);

/** The process's resident memory in MB (Linux /proc); undefined where it cannot be read. */
async function residentMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

export function createFileBox(options: FileBoxOptions): FileBox {
  const concurrency = options.concurrency ?? 2;
  const watchEveryMs = options.watchEveryMs ?? 50;
  let running = 0;
  const waiting: Array<() => void> = [];
  const slot = async () => {
    if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
  };
  const free = () => {
    running--;
    waiting.shift()?.();
  };

  const runInChild = (job: BoxJob) =>
    new Promise<BoxResult>((resolve) => {
      let settled = false;
      let child: ChildProcess;
      const done = (result: BoxResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(watch);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        resolve(result);
      };
      try {
        child = fork(CHILD, [], {
          // The heap bound a little under the whole bound: the watch below catches the rest.
          execArgv: [`--max-old-space-size=${Math.max(32, Math.floor(options.memoryMb * 0.75))}`, "--max-semi-space-size=2"],
          serialization: "advanced",
          stdio: ["ignore", "ignore", "pipe", "ipc"],
        });
      } catch (error) {
        resolve({ ok: false, failure: "unreadable", reason: `could not start the file box: ${error instanceof Error ? error.message : String(error)}` });
        return;
      }
      let stderr = "";
      child.stderr?.on("data", (data: Buffer) => (stderr = (stderr + data.toString()).slice(-2_000)));
      const timer = setTimeout(() => done({ ok: false, failure: "too_complex", limit: "time" }), options.timeoutMs);
      const watch = setInterval(() => {
        if (child.pid === undefined) return;
        void residentMb(child.pid).then((mb) => {
          if (mb !== undefined && mb > options.memoryMb) done({ ok: false, failure: "too_complex", limit: "memory" });
        });
      }, watchEveryMs);
      child.once("message", (result: BoxResult) => done(result));
      child.once("error", (error) => done({ ok: false, failure: "unreadable", reason: error.message }));
      child.once("exit", (code, signal) => {
        // Gone without a result: V8's heap bound (or the system) killed it.
        const outOfMemory = /heap out of memory|allocation failed/i.test(stderr) || signal === "SIGKILL" || signal === "SIGABRT" || code === 134;
        done(outOfMemory ? { ok: false, failure: "too_complex", limit: "memory" } : { ok: false, failure: "unreadable", reason: `the file box ended (${code ?? signal})` });
      });
      child.send(job);
    });

  return {
    async run(job) {
      await slot();
      const started = performance.now();
      try {
        const result = await runInChild(job);
        options.logger.debug({ kind: job.kind, ok: result.ok, ms: Math.round(performance.now() - started) }, "a file was read in the box");
        return result;
      } finally {
        free();
      }
    },
  };
}
