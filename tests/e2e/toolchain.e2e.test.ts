/**
 * The Makefile as an operator meets it, in a copy of the project with dependencies marked as
 * installed (no npm run here: NPM is replaced, so only make's own steps are under test).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { MAIN, NODE_FLAGS, PROJECT_ROOT } from "../helpers/bot-process.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "parley-make-"));
  for (const file of ["Makefile", ".env.example", "package.json", "package-lock.json"]) copyFileSync(path.join(PROJECT_ROOT, file), path.join(dir, file));
  mkdirSync(path.join(dir, "node_modules"));
  writeFileSync(path.join(dir, "node_modules/.installed"), ""); // newer than package.json: nothing to install
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const MAKE = spawnSync("sh", ["-c", "command -v make"], { encoding: "utf8" }).stdout.trim();

/** make in the copy, with a clean environment and `npm` replaced by `echo npm`. */
const make = (args: string[], env: Record<string, string> = {}) => {
  const result = spawnSync(MAKE, ["--no-print-directory", ...args, "NPM=echo npm"], {
    cwd: dir,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", ...env },
    encoding: "utf8",
  });
  return { code: result.status, output: result.stdout + result.stderr };
};

test("the first `make start` creates .env, says what to fill in, and ends cleanly without starting", () => {
  const first = make(["start"]);
  expect(first.code).toBe(0);
  expect(first.output).toContain("Created .env from .env.example.");
  expect(first.output).toContain("Fill in TELEGRAM_BOT_TOKEN");
  expect(first.output).not.toContain("npm start");
  expect(first.output).not.toContain("Error");
  expect(readFileSync(path.join(dir, ".env"), "utf8")).toBe(readFileSync(path.join(dir, ".env.example"), "utf8"));
  // The second run starts the bot.
  const second = make(["start"]);
  expect(second.code).toBe(0);
  expect(second.output.trim()).toBe("npm start");
});

test("`make start` with the token already in the environment creates .env and starts at once", () => {
  const run = make(["start"], { TELEGRAM_BOT_TOKEN: "123:abc" });
  expect(run.output).toContain("Created .env");
  expect(run.output).toContain("npm start");
  expect(existsSync(path.join(dir, ".env"))).toBe(true);
});

test("`make db-up` without Docker Compose says so in one line and suggests DATABASE_URL", () => {
  const run = make(["db-up"], { PATH: "/nonexistent" });
  expect(run.code).not.toBe(0);
  const ours = run.output.split("\n").filter((line) => line.trim() && !line.startsWith("make: ***"));
  expect(ours).toHaveLength(1);
  expect(ours[0]).toContain("needs Docker with Compose");
  expect(ours[0]).toContain("DATABASE_URL");
});

test("`make db-reset` passes --force only with FORCE=1", () => {
  const ran = (args: string[]) => make(args).output.trim().split("\n").at(-1)?.trim();
  expect(ran(["db-reset"])).toBe("npm run db:reset --");
  expect(ran(["db-reset", "FORCE=1"])).toBe("npm run db:reset -- --force");
});

test("`make up` / `make logs` without Docker Compose say so in one line", () => {
  for (const target of ["up", "logs", "down"]) {
    const run = make([target], { PATH: "/nonexistent" });
    expect(run.code).not.toBe(0);
    expect(run.output).toContain(`make ${target} needs Docker with Compose`);
  }
});

test("`make up` checks .env as `make start` does before it starts anything; `make db-down` stops postgres alone", () => {
  // A docker that has Compose and writes down what it is asked.
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(path.join(bin, "docker"), `#!/bin/sh\necho "docker $*" >> "${path.join(dir, "docker.log")}"\n`, { mode: 0o755 });
  const docker = () => (existsSync(path.join(dir, "docker.log")) ? readFileSync(path.join(dir, "docker.log"), "utf8") : "");
  const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` };

  const first = make(["up"], env);
  expect(first.code).toBe(0);
  expect(first.output).toContain("Created .env from .env.example.");
  expect(first.output).toContain("then run make up again");
  expect(docker()).not.toContain("compose up");

  const noToken = make(["up"], env);
  expect(noToken.code).not.toBe(0);
  expect(noToken.output).toContain("TELEGRAM_BOT_TOKEN is not set in .env");
  expect(docker()).not.toContain("compose up");

  writeFileSync(path.join(dir, ".env"), readFileSync(path.join(dir, ".env"), "utf8").replace(/^TELEGRAM_BOT_TOKEN=.*$/m, "TELEGRAM_BOT_TOKEN=123:abc"));
  const up = make(["up"], env);
  expect(up.code).toBe(0);
  expect(docker()).toContain("docker compose up --detach --build --wait");
  expect(up.output).toContain("Parley is running in Docker (healthy)");

  expect(make(["db-down"], env).code).toBe(0);
  expect(docker().trim().split("\n").at(-1)).toBe("docker compose stop postgres");
});

test("the image has what src/ imports: every package it uses is a production dependency", () => {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  const files = (spawnSync("git", ["ls-files", "src"], { cwd: PROJECT_ROOT, encoding: "utf8" }).stdout as string).split("\n").filter((f) => f.endsWith(".ts"));
  expect(files.length).toBeGreaterThan(10);
  const used = new Set<string>();
  for (const file of files) {
    const source = readFileSync(path.join(PROJECT_ROOT, file), "utf8");
    for (const [, spec] of source.matchAll(/from "([^".][^"]*)"/g)) {
      if (spec!.startsWith("node:")) continue;
      used.add(spec!.startsWith("@") ? spec!.split("/").slice(0, 2).join("/") : spec!.split("/")[0]!);
    }
  }
  expect([...used].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  // And the Dockerfile copies what runs: the sources and the migrations.
  const dockerfile = readFileSync(path.join(PROJECT_ROOT, "Dockerfile"), "utf8");
  expect(dockerfile).toMatch(/^COPY src \.\/src$/m);
  expect(dockerfile).toMatch(/^COPY migrations \.\/migrations$/m);
  // And runs it as `npm start` does: with the same V8 flags.
  expect(dockerfile).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
  expect(dockerfile).toMatch(/^RUN npm run build$/m);
  // Builds without a registry (no frontend to fetch) and leaves no anonymous volumes (make docker-smoke runs it).
  expect(dockerfile).not.toMatch(/^# syntax=|^VOLUME/m);
  expect(dockerfile).toContain(`CMD ${JSON.stringify(["node", ...NODE_FLAGS, path.relative(PROJECT_ROOT, MAIN)]).replaceAll(",", ", ")}`);
});
