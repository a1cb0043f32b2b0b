import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { lockDataDir, StoreInUseError } from "../../src/db/connection.ts";

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
    expect(JSON.parse(readFileSync(`${dataDir}.lock`, "utf8"))).toEqual({ pid: process.pid, host: hostname() });
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

  test("a lock holding our own pid (pid 1 in a container, restarted) is stale", () => {
    writeLock({ pid: process.pid, host: hostname() });
    expect(() => lockDataDir(dataDir)()).not.toThrow();
  });

  test("a lock from another host is refused, saying which file to delete if that host is gone", () => {
    writeLock({ pid: 4242, host: "elsewhere" });
    expect(() => lockDataDir(dataDir)).toThrow(new RegExp(`locked by pid 4242 on another host \\(elsewhere\\).*delete ${dataDir}\\.lock`));
  });
});
