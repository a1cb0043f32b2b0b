import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { lockDataDir, StoreInUseError } from "../../src/db/store-lock.ts";

describe("the embedded store's lock", () => {
  let base: string;
  let dataDir: string;
  beforeEach(() => {
    base = mkdtempSync(path.join(tmpdir(), "parley-lock-"));
    dataDir = path.join(base, "pglite");
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const writeLock = (owner: object) => writeFileSync(`${dataDir}.lock`, JSON.stringify(owner));

  test("a second open of a store in use is refused, naming the directory; release lets it in", () => {
    const release = lockDataDir(dataDir);
    expect(JSON.parse(readFileSync(`${dataDir}.lock`, "utf8"))).toMatchObject({ pid: process.pid, host: hostname() });
    release();
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    // Another live process holds it.
    const other = spawn("sleep", ["30"]);
    try {
      writeLock({ pid: other.pid, host: hostname() });
      expect(() => lockDataDir(dataDir)).toThrow(StoreInUseError);
      expect(() => lockDataDir(dataDir)).toThrow(new RegExp(`${dataDir} is in use by another process \\(pid ${other.pid}\\)`));
    } finally {
      other.kill();
    }
  });

  test("a lock left by a process that died is taken over", () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    writeLock({ pid: Number(dead.stdout), host: hostname() });
    const release = lockDataDir(dataDir);
    expect(JSON.parse(readFileSync(`${dataDir}.lock`, "utf8")).pid).toBe(process.pid);
    release();
  });

  test("a takeover left half-done by a process that died is finished by the next one", () => {
    const dead = Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
    const stale = "a".repeat(24);
    writeLock({ pid: dead, host: hostname(), nonce: stale });
    // It had won the right to remove the stale lock, and died before it did.
    writeFileSync(`${dataDir}.lock.${stale}.takeover`, JSON.stringify({ pid: dead, host: hostname(), nonce: "b".repeat(24) }));
    const release = lockDataDir(dataDir);
    expect(JSON.parse(readFileSync(`${dataDir}.lock`, "utf8")).pid).toBe(process.pid);
    expect(readdirSync(base)).toEqual(["pglite.lock"]);
    release();
  });

  test("a lock holding our own pid (pid 1 in a container, restarted) is stale", () => {
    writeLock({ pid: process.pid, host: hostname() });
    expect(() => lockDataDir(dataDir)()).not.toThrow();
  });

  test("a lock from another host is refused, saying which file to delete if that host is gone", () => {
    writeLock({ pid: 4242, host: "elsewhere" });
    expect(() => lockDataDir(dataDir)).toThrow(new RegExp(`locked by pid 4242 on another host \\(elsewhere\\).*delete ${dataDir}\\.lock`));
  });

  test("processes that start together against a stale lock: exactly one takes it, every time", async () => {
    // Each process loads the lock and says "ready". On "go" (written to all of them at once, so
    // they start as one) it tries to take the lock and reports; it keeps what it took until
    // "release", so that the others' tries all meet it. The same processes play every round.
    const storeLock = pathToFileURL(path.resolve(import.meta.dirname, "../../src/db/store-lock.ts")).href;
    const script = `
      import { createInterface } from "node:readline";
      import { lockDataDir } from ${JSON.stringify(storeLock)};
      let release;
      const say = (line) => process.stdout.write(JSON.stringify(line) + "\\n");
      say("ready");
      createInterface({ input: process.stdin }).on("line", (command) => {
        if (command === "go") {
          try {
            release = lockDataDir(process.argv[1]);
            say("won");
          } catch (error) {
            say(error.constructor.name === "StoreInUseError" ? "refused: " + error.message : "failed: " + error.stack);
          }
        } else {
          release?.();
          release = undefined;
          say("released");
        }
      }).on("close", () => process.exit(0));
    `;
    const start = () => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script, dataDir]);
      const lines: string[] = [];
      let wake = () => {};
      let buffered = "";
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (data: string) => (stderr += data));
      child.stdout.setEncoding("utf8").on("data", (data: string) => {
        const parts = (buffered + data).split("\n");
        buffered = parts.pop()!;
        lines.push(...parts.map((part) => JSON.parse(part) as string));
        wake();
      });
      child.on("exit", () => wake());
      let read = 0;
      /** The process's next line. */
      const next = async () => {
        while (lines.length <= read) {
          if (child.exitCode !== null || child.signalCode !== null) throw new Error(`a lock process exited: ${stderr}`);
          await new Promise<void>((resolve) => (wake = resolve));
        }
        return lines[read++]!;
      };
      return { child, next };
    };
    const deadPid = () => Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);

    const processes = Array.from({ length: 8 }, start);
    try {
      for (const { next } of processes) expect(await next()).toBe("ready");
      for (let round = 0; round < 30; round++) {
        // Alternately a lock of the previous version ({pid, host}) and one of this one (with a nonce).
        const nonce = { nonce: `${round}`.padStart(24, "0") };
        writeLock({ pid: deadPid(), host: hostname(), ...(round % 2 ? nonce : {}) });
        for (const { child } of processes) child.stdin.write("go\n");
        const results = await Promise.all(processes.map(({ next }) => next()));
        expect(results.filter((result) => result === "won"), `round ${round}: ${JSON.stringify(results)}`).toHaveLength(1);
        const winner = processes[results.indexOf("won")]!.child.pid;
        expect(JSON.parse(readFileSync(`${dataDir}.lock`, "utf8")).pid).toBe(winner);
        // The others found the winner's lock alive (not the dead one, nor a time-out).
        for (const result of results.filter((result) => result !== "won")) expect(result).toContain(`in use by another process (pid ${winner})`);
        for (const { child } of processes) child.stdin.write("release\n");
        for (const { next } of processes) expect(await next()).toBe("released");
        // Nothing is left beside the store: no lock, no temp file, no takeover marker.
        expect(readdirSync(base)).toEqual([]);
      }
    } finally {
      await Promise.all(
        processes.map(async ({ child }) => {
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.stdin.end();
          if (child.exitCode === null && child.signalCode === null) await exited;
        }),
      );
    }
  });
});
