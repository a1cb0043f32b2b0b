/**
 * Running and stopping the bot the ways operators do: SIGTERM or Ctrl-C to `npm start`'s whole
 * process group (as systemd or a terminal sends them), Ctrl-C on `make start`, an operator who
 * insists, and `make dev` (npm run dev) restarting when .env changes.
 */
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { PROJECT_ROOT } from "../helpers/bot-process.ts";
import { createWorld, person, type World } from "../helpers/world.ts";

let world: World;
let groups: number[] = [];
beforeEach(async () => {
  world = await createWorld();
});
afterEach(async () => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  groups = [];
  await world.close();
});

/** A command in a process group of its own, as a terminal or a service manager runs it. */
function runGroup(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...options.env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  groups.push(child.pid!);
  let output = "";
  const waiters: Array<() => void> = [];
  const onData = (data: Buffer) => {
    output += data.toString();
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return {
    get output() {
      return output;
    },
    exited,
    signalGroup: (signal: NodeJS.Signals) => process.kill(-child.pid!, signal),
    async waitFor(pattern: RegExp, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${output}`);
        await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited.then(() => { throw new Error(`exited before ${pattern}:\n${output}`); })]);
      }
    },
  };
}

/** The bot's settings as environment variables that win over any .env in the checkout. */
const botEnv = (w: World) => ({ ...w.env(), DATABASE_URL: "", LOG_LEVEL: "info" });

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal} to npm start's process group: the bot shuts down gracefully and npm exits 0`, { timeout: 60_000 }, async () => {
    const npm = runGroup("npm", ["start"], { cwd: PROJECT_ROOT, env: botEnv(world) });
    await npm.waitFor(/"msg":"Parley is running"/);
    // A turn in flight, so the shutdown has something to wait for.
    world.ai.respondWith(() => ({ kind: "answer", chunks: ["slow ", "answer"], latencyMs: 300 }));
    const { chat, user } = person("Stopper");
    const request = world.ai.nextRequest();
    world.tg.userSends(chat, user, "answer before you go");
    await request;
    npm.signalGroup(signal);
    const exit = await npm.exited;
    expect(exit, npm.output).toEqual({ code: 0, signal: null, at: exit.at });
    expect(npm.output).toContain('"msg":"stopped"');
    expect(world.tg.messagesIn(chat.id).map((m) => m.text)).toEqual(["slow answer"]);
  });
}

test("Ctrl-C on make start: a graceful shutdown and no error from make", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "parley-make-stop-"));
  try {
    for (const file of ["Makefile", ".env.example", "package.json", "package-lock.json"]) copyFileSync(path.join(PROJECT_ROOT, file), path.join(dir, file));
    mkdirSync(path.join(dir, "node_modules"));
    writeFileSync(path.join(dir, "node_modules/.installed"), "");
    const make = spawnSync("sh", ["-c", "command -v make"], { encoding: "utf8" }).stdout.trim();
    const run = runGroup(make, ["--no-print-directory", "start", `NPM=npm --prefix ${PROJECT_ROOT}`], { cwd: dir, env: botEnv(world) });
    await run.waitFor(/"msg":"Parley is running"/);
    run.signalGroup("SIGINT");
    const exit = await run.exited;
    expect(run.output).toContain('"msg":"stopped"');
    expect(run.output).not.toMatch(/\*\*\*|Error|Interrupt/);
    // GNU make, once its recipe has ended, re-raises the SIGINT on itself (the shell shows 130);
    // what it ran ended cleanly, which is why it printed nothing. (doc/operations.md)
    expect(exit.code === 0 || exit.signal === "SIGINT", JSON.stringify(exit)).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("asked twice, a second apart, the bot stops at once with a non-zero status", { timeout: 60_000 }, async () => {
  const npm = runGroup("npm", ["start"], { cwd: PROJECT_ROOT, env: botEnv(world) });
  await npm.waitFor(/"msg":"Parley is running"/);
  world.ai.respondWith(() => ({ kind: "answer", chunks: ["never"], latencyMs: 30_000 }));
  const { chat, user } = person("Insister");
  const request = world.ai.nextRequest();
  world.tg.userSends(chat, user, "take your time");
  await request;
  npm.signalGroup("SIGTERM");
  await npm.waitFor(/"msg":"stopping: no new updates/);
  const echoEnds = Date.now() + 1_100;
  while (Date.now() < echoEnds) await new Promise((resolve) => setTimeout(resolve, 100)); // past the echo window
  const asked = Date.now();
  npm.signalGroup("SIGTERM");
  const exit = await npm.exited;
  expect(npm.output).toContain("stopping at once, as asked again");
  expect(exit.code).toBe(1);
  expect(exit.at - asked).toBeLessThan(3_000);
});

test("npm run dev (make dev) restarts the bot when .env changes", { timeout: 60_000 }, async () => {
  // A checkout of its own, sharing the code, so that its .env is the test's to change.
  const dir = mkdtempSync(path.join(tmpdir(), "parley-dev-"));
  try {
    for (const entry of ["package.json", "src", "migrations", "node_modules"]) symlinkSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry));
    const settings = Object.entries(world.env()).map(([key, value]) => `${key}=${value}`);
    writeFileSync(path.join(dir, ".env"), `${settings.join("\n")}\nLOG_LEVEL=info\n`);
    const dev = runGroup("npm", ["run", "dev"], { cwd: dir, env: {} });
    await dev.waitFor(/Parley is running[^]*model: "fake-model"/);
    appendFileSync(path.join(dir, ".env"), "OPENAI_MODEL=another-model\n");
    await dev.waitFor(/Restarting[^]*Parley is running[^]*model: "another-model"/);
    const { chat, user } = person("Dev");
    world.tg.userSends(chat, user, "which model?");
    await world.tg.waitForChat(chat.id, (ms) => ms.length > 0, "an answer");
    expect(world.ai.requestsAbout("which model?")[0]!.model).toBe("another-model");
    dev.signalGroup("SIGTERM");
    await dev.exited;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
