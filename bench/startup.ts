/** Start-up as a newcomer meets it: through `make start`, not only the bot process. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { World } from "../tests/helpers/world.ts";

/**
 * `make start` from spawn to the bot's first getUpdates, in a checkout of its own that links this
 * one's files (built dist/, installed node_modules) and holds a .env pointing at the fakes.
 */
export async function makeStartToFirstPoll(world: World): Promise<number> {
  const root = path.resolve(import.meta.dirname, "..");
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-make-start-"));
  for (const name of ["Makefile", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", ".env.example", "src", "migrations", "dist", "node_modules", "scripts"]) {
    symlinkSync(path.join(root, name), path.join(dir, name));
  }
  writeFileSync(path.join(dir, ".env"), `${Object.entries(world.env({ LOG_LEVEL: "info" })).map(([key, value]) => `${key}=${value}`).join("\n")}\n`);
  const polls = world.tg.pollStarts.length;
  const spawned = Date.now();
  const child = spawn("make", ["--no-print-directory", "start"], { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }, stdio: "ignore", detached: true });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const deadline = Date.now() + 60_000;
    while (world.tg.pollStarts.length <= polls) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error("make start did not reach getUpdates");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return world.tg.pollStarts[polls]! - spawned;
  } finally {
    process.kill(-child.pid!, "SIGTERM"); // make, npm and the bot: the whole group, as Ctrl-C does
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

