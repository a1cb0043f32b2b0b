/**
 * The in-process bot layer: the whole app (createApp, as main.ts wires it) started inside the test
 * process, on a new embedded store, against the fake Bot API and model servers. No build, no child
 * process: the gate, the commands and buttons, delivery and resume are tested here, in seconds;
 * tests/e2e keeps what only a real process shows (signals, crashes, start-up, webhook, many instances).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { createApp, type App } from "../../src/app.ts";
import { parseConfig } from "../../src/config.ts";
import { FakeOpenAI } from "../fakes/openai-server.ts";
import { FakeTelegram } from "../fakes/telegram-server.ts";
import { testSettings } from "../helpers/world.ts";

export interface InProcessBot {
  tg: FakeTelegram;
  ai: FakeOpenAI;
  app: App;
  /** Every log line, parsed, in order. */
  logs: Array<Record<string, unknown> & { level: number; msg: string }>;
  /** Where the embedded store lives (read it once the app has stopped). */
  dataDir: string;
  /** Stops the app and the fakes; the store stays until dispose(). */
  stop(): Promise<void>;
  /** Stops (if not yet) and removes the store. */
  dispose(): Promise<void>;
}

/** Starts the app in this process with `settings` on top of the test defaults. */
export async function startInProcess(settings: Record<string, string> = {}): Promise<InProcessBot> {
  const tg = await new FakeTelegram().start();
  const ai = await new FakeOpenAI().start();
  const dataDir = mkdtempSync(path.join(tmpdir(), "parley-bot-"));
  const config = parseConfig({ ...testSettings(tg, ai, dataDir), ...settings });
  const logs: InProcessBot["logs"] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line) as InProcessBot["logs"][number]) });
  let fatal: string | undefined;
  const app = createApp(config, { logger, onFatal: (reason) => (fatal = reason) });
  await app.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.stop();
    await tg.close();
    await ai.close();
    if (fatal) throw new Error(`the app gave up: ${fatal}`);
  };
  return {
    tg,
    ai,
    app,
    logs,
    dataDir: path.join(dataDir, "pglite"),
    stop,
    async dispose() {
      await stop().finally(() => rmSync(dataDir, { recursive: true, force: true }));
    },
  };
}
