/**
 * `make docker-smoke`: the container path, tried for real on a Docker engine. Builds the image,
 * runs docker-compose.yml (project `parley-smoke`, its own volume) with a fake Telegram and a fake
 * model on this host, from a .env made the way `make start`'s first run makes it (.env.example,
 * its blanks included, with the token and the model filled in), on free host ports (5432 and 8080
 * may be taken), and checks what an operator relies on:
 *
 * migrate exits 0; the bot runs as non-root; it turns healthy; the published port answers
 * /healthz and /readyz; a message is answered; the data survives `down` and `up`; `docker stop`
 * ends the bot with exit 0. Then it removes what it made (containers, network, volume).
 *
 * Needs `docker compose`. Here, without a registry: eval "$(../shared/tools/docker-offline/setup)"
 * first (doc/operations.md).
 */
import { execFileSync, type ExecFileSyncOptions } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { FakeOpenAI, lastUserText } from "../tests/fakes/openai-server.ts";
import { FakeTelegram } from "../tests/fakes/telegram-server.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const PROJECT = "parley-smoke";
const work = mkdtempSync(path.join(tmpdir(), "parley-smoke-"));

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

const results: Array<{ check: string; ok: boolean; detail: string }> = [];
const check = (name: string, ok: boolean, detail = "") => {
  results.push({ check: name, ok, detail });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`);
};

const env = {
  ...process.env,
  PARLEY_ENV_FILE: path.join(work, ".env"),
  PARLEY_HTTP_PORT: String(await freePort()),
  PARLEY_DB_PORT: String(await freePort()),
};
// The build needs the registry (npm ci): on an engine without NAT, through the host's network.
writeFileSync(path.join(work, "build.yml"), "services:\n  bot:\n    build: { context: " + JSON.stringify(ROOT) + ", network: host }\n");
const composeArgs = ["compose", "-p", PROJECT, "-f", path.join(ROOT, "docker-compose.yml"), "-f", path.join(work, "build.yml")];
const docker = (args: string[], options: ExecFileSyncOptions = {}) =>
  execFileSync("docker", args, { cwd: ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024, ...options }) as string;
const compose = (...args: string[]) => docker([...composeArgs, ...args]);
const timed = <T>(work: () => T): [T, number] => {
  const started = performance.now();
  const value = work();
  return [value, Math.round(performance.now() - started)];
};

const tg = await new FakeTelegram().start("0.0.0.0");
const ai = await new FakeOpenAI().start("0.0.0.0");
const base = `http://127.0.0.1:${env.PARLEY_HTTP_PORT}`;
let failed = false;
try {
  console.log(`docker-smoke: project ${PROJECT}, host ports ${env.PARLEY_HTTP_PORT} (http) and ${env.PARLEY_DB_PORT} (postgres), work dir ${work}`);
  const [, buildMs] = timed(() => compose("build"));
  check("the image builds", true, `${(buildMs / 1000).toFixed(0)} s`);
  const images = compose("config", "--images").split("\n").filter(Boolean);
  check("one image for migrate and bot", new Set(images.filter((i) => i.startsWith("parley"))).size === 1, images.join(", "));

  /**
   * Postgres up, then .env as `make start`'s first run leaves it (cp .env.example .env), with what
   * an operator fills in; the fakes are reached at the compose network's gateway (this host), and
   * a new network after `down` may have another, so this runs before each `up`.
   */
  const prepare = () => {
    compose("up", "--detach", "--wait", "postgres");
    const gateway = docker(["network", "inspect", `${PROJECT}_default`, "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"]).trim();
    const filled: Record<string, string> = {
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: `http://${gateway}:${tg.port}`,
      OPENAI_API_KEY: "sk-smoke",
      OPENAI_BASE_URL: `http://${gateway}:${ai.port}/v1`,
      OPENAI_MODEL: "fake-model",
      ALLOWED_USERS: "*",
    };
    let dotenv = readFileSync(path.join(ROOT, ".env.example"), "utf8");
    for (const [name, value] of Object.entries(filled)) {
      const line = new RegExp(`^#?\\s*${name}=.*$`, "m");
      dotenv = line.test(dotenv) ? dotenv.replace(line, `${name}=${value}`) : `${dotenv}\n${name}=${value}\n`;
    }
    writeFileSync(env.PARLEY_ENV_FILE, dotenv);
    return dotenv;
  };
  /** /readyz until it says ready (healthy is not ready: start-up may still be receiving). */
  const readyz = async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const response = await fetch(`${base}/readyz`).catch(() => undefined);
      const body = (await response?.text())?.trim() ?? "no answer";
      if (response?.status === 200 || Date.now() > deadline) return { ok: response?.status === 200, body };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  const dotenv = prepare();
  check(".env from .env.example keeps its blank settings", /^HTTP_HOST=\s*$/m.test(dotenv) || !/^HTTP_HOST=/m.test(dotenv), "HTTP_HOST= as .env.example has it");

  const [, upMs] = timed(() => compose("up", "--detach", "--wait"));
  check("migrate, then the bot, healthy (up --wait)", true, `${(upMs / 1000).toFixed(1)} s`);
  const migrateExit = docker(["inspect", "--format", "{{.State.ExitCode}}", `${PROJECT}-migrate-1`]).trim();
  check("migrate exits 0", migrateExit === "0", `exit ${migrateExit}`);
  const uid = compose("exec", "-T", "bot", "id", "-u").trim();
  check("the bot runs as non-root", uid !== "0", `uid ${uid}`);
  const app = compose("exec", "-T", "bot", "ls", "/app").split("\n").filter(Boolean);
  check("the image holds the build, not the sources", app.includes("dist") && !app.includes("src"), app.join(" "));
  const anonymous = docker(["inspect", "--format", "{{range .Mounts}}{{.Type}}:{{.Name}} {{end}}", `${PROJECT}-bot-1`, `${PROJECT}-migrate-1`]).trim();
  check("no anonymous volumes", anonymous === "", anonymous || "none mounted");
  const health = await fetch(`${base}/healthz`);
  check("the published port answers /healthz", health.status === 200, `${health.status}`);
  const [ready, readyMs] = await (async () => {
    const started = performance.now();
    const result = await readyz();
    return [result, Math.round(performance.now() - started)] as const;
  })();
  check("/readyz says ready", ready.ok, `${ready.body} (${readyMs} ms after healthy)`);

  const user = { id: 4242, first_name: "Smoke", username: "smoke" };
  const chat = { id: 4242, type: "private" as const, first_name: "Smoke" };
  tg.userSends(chat, user, "remember the word quokka");
  await tg.waitFor(() => tg.messagesIn(chat.id).length >= 1, "the answer", 60_000);
  check("a message is answered", tg.messagesIn(chat.id)[0]!.text.includes("remember the word quokka"), tg.messagesIn(chat.id)[0]!.text);

  compose("down"); // containers and network; the volume stays
  prepare();
  compose("up", "--detach", "--wait");
  await readyz();
  tg.userSends(chat, user, "what was the word?");
  await tg.waitFor(() => tg.messagesIn(chat.id).length >= 2, "the second answer", 60_000);
  const second = ai.requests.find((r) => lastUserText(r) === "what was the word?");
  check("the data survives down and up", second?.messages.some((m) => String(m.content).includes("quokka")) === true, "the first message is in the second request's history");

  const [, stopMs] = timed(() => compose("stop", "bot"));
  const botExit = docker(["inspect", "--format", "{{.State.ExitCode}}", `${PROJECT}-bot-1`]).trim();
  check("docker stop: exit 0", botExit === "0", `exit ${botExit} after ${(stopMs / 1000).toFixed(1)} s`);
} catch (error) {
  failed = true;
  const stderr = (error as { stderr?: string }).stderr;
  console.error(`FAIL ${error instanceof Error ? error.message : String(error)}${stderr ? `\n${stderr}` : ""}`);
  try {
    console.error(compose("logs", "--no-color", "--tail", "40"));
  } catch {
    // nothing more to show
  }
} finally {
  try {
    compose("down", "--volumes");
  } catch (error) {
    console.error(`could not remove the smoke project: ${String(error)}`);
  }
  await tg.close();
  await ai.close();
  rmSync(work, { recursive: true, force: true });
}
failed ||= results.some((r) => !r.ok);
console.log(`\ndocker-smoke: ${failed ? "FAILED" : "passed"} (${results.filter((r) => r.ok).length}/${results.length} checks) on ${new Date().toISOString().slice(0, 10)}`);
process.exit(failed ? 1 : 0);
