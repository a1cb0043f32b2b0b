/**
 * When an end-to-end test fails (a timeout included, whose message says nothing of the bot), the
 * output of every bot process it started is printed: what the bot said is the diagnosis.
 */
import { beforeEach } from "vitest";
import { startedBots } from "./bot-process.ts";

const LINES = 60;

beforeEach((context) => {
  const from = startedBots.length;
  context.onTestFailed(() => {
    for (const bot of startedBots.slice(from)) {
      const tail = (text: string) => text.split("\n").slice(-LINES).join("\n");
      console.error(`--- bot process ${bot.pid} of "${context.task.name}": stderr ---\n${tail(bot.stderr)}\n--- stdout (last ${LINES} lines) ---\n${tail(bot.stdout)}`);
    }
  });
});
