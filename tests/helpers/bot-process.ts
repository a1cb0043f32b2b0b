/**
 * Runs the real bot the way `npm start` does (`node dist/src/main.js`, built), in its own process, with
 * a clean environment and a working directory of its own (so a developer's .env is not read).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const PROJECT_ROOT = path.resolve(import.meta.dirname, "../..");
/** What `npm start` runs (package.json): the V8 flags and the built entry point, so tests run the same. */
const START = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start.split(" ");
export const NODE_FLAGS = START.filter((word) => word.startsWith("--"));
/** The built bot (npm run build; the tests' global setup builds it once). */
export const MAIN = path.join(PROJECT_ROOT, START.at(-1)!);

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Waits on a growing output (a process's, or an in-process app's log): each wait resolves when its
 * condition holds, checked whenever the output grows; it fails after its time, or when `ended`
 * settles first (the process exited).
 */
export function createOutputWaits(describe: () => string) {
  let waiters: Array<{ seen: () => boolean; resolve: () => void }> = [];
  return {
    /** The output grew: wake the waits whose condition now holds. */
    check(): void {
      waiters = waiters.filter((w) => (w.seen() ? (w.resolve(), false) : true));
    },
    async until(seen: () => boolean, what: string, timeoutMs: number, ended?: Promise<void>): Promise<void> {
      if (seen()) return;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          new Promise<void>((resolve) => waiters.push({ seen, resolve })),
          ...(ended ? [ended] : []),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms:\n${describe()}`)), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Lines of `output` that match `pattern`. */
export const linesMatching = (output: string, pattern: RegExp): number => output.split("\n").filter((line) => pattern.test(line)).length;

/** The base URL of a bot's HTTP server (health, metrics), from where its log says it listens. */
export function httpBaseIn(output: string): string {
  const where = /"http":"([^"]+)"/.exec(output)?.[1];
  if (!where) throw new Error(`the bot did not say where its HTTP server listens:\n${output}`);
  return `http://${where}`;
}

/** How long a bot may take to start in a test: most of a test's time (testTimeout 60 s). */
const START_TIMEOUT_MS = 50_000;
/** Every bot process started, in order: a failed test prints the output of its own (e2e-failures.ts). */
export const startedBots: BotProcess[] = [];

export class BotProcess {
  stdout = "";
  stderr = "";
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;
  private readonly waits = createOutputWaits(() => `${this.stderr}\n${this.stdout}`);

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [...NODE_FLAGS, MAIN], {
      cwd: mkdtempSync(path.join(tmpdir(), "parley-cwd-")),
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.setEncoding("utf8").on("data", (data: string) => {
      this.stdout += data;
      this.waits.check();
    });
    this.child.stderr!.setEncoding("utf8").on("data", (data: string) => {
      this.stderr += data;
      this.waits.check();
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    startedBots.push(this);
  }

  /** Lines of stdout that match `pattern`. */
  linesMatching(pattern: RegExp): number {
    return linesMatching(this.stdout, pattern);
  }

  /** Resolves when at least `count` lines of stdout match `pattern`; rejects if the process exits first. */
  waitForLines(pattern: RegExp, count: number, timeoutMs = 20_000): Promise<void> {
    return this.waitUntil(() => this.linesMatching(pattern) >= count, `${count} lines ${pattern}`, timeoutMs);
  }

  /** Resolves when the output matches `pattern`; rejects if the process exits first. */
  waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    return this.waitUntil(() => pattern.test(this.stdout) || pattern.test(this.stderr), String(pattern), timeoutMs);
  }

  private waitUntil(seen: () => boolean, pattern: string, timeoutMs: number): Promise<void> {
    const exited = this.exited.then((exit) => {
      if (!seen()) throw new Error(`bot exited (${exit.code}) before printing ${pattern}:\n${this.stderr}\n${this.stdout}`);
    });
    return this.waits.until(seen, pattern, timeoutMs, exited);
  }

  /**
   * Start-up on a busy machine can take long without anything being wrong: this waits for "running"
   * or an exit, as long as a test may run (vitest's testTimeout is 60 s), not a tighter guess.
   */
  waitUntilRunning(): Promise<void> {
    return this.waitForOutput(/"msg":"Parley is running"/, START_TIMEOUT_MS);
  }

  /** In webhook mode: the local URL of the bot's webhook (it logs where it listens). */
  webhookTarget(): string {
    const where = /"receiving":"webhook on ([^"]+)"/.exec(this.stdout)?.[1];
    if (!where) throw new Error(`the bot did not say where its webhook listens:\n${this.stdout}`);
    return `http://${where}`;
  }

  /** Webhook mode: where /metrics and the readiness checks are served (the ops listener). */
  opsBase(): string {
    const where = /"ops":"([^"]+)"/.exec(this.stdout)?.[1];
    if (!where) throw new Error(`the bot did not say where its ops listener is:\n${this.stdout}`);
    return `http://${where}`;
  }

  /** The base URL of the bot's HTTP server (health, metrics): it logs where it listens. */
  httpBase(): string {
    return httpBaseIn(this.stdout);
  }

  /** SIGTERM (or `signal`), then the exit status and how long the shutdown took. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<Exit & { ms: number }> {
    const started = Date.now();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const exit = await this.exited;
    return { ...exit, ms: Date.now() - started };
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }


}

/** Runs an npm script the way an operator does (`make db-migrate` runs `npm run db:migrate`). */
export function npmRun(script: string, env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("npm", ["run", "--silent", script, ...(args.length ? ["--", ...args] : [])], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("exit", (code) => resolve({ code, output }));
  });
}
