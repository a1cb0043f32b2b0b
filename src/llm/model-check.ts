/**
 * A cheap look at the model server at start-up, so that a wrong setting shows before the first user
 * meets it: the server answers (OPENAI_BASE_URL), it takes the key (OPENAI_API_KEY), and it offers
 * each allowed model (OPENAI_MODEL, OPENAI_MODELS). One GET of the server's model list, which
 * OpenAI, OpenRouter, Ollama, vLLM and LiteLLM all serve; a server without one is not held
 * against the bot (the models cannot be checked, nothing more). Never a completion: it would cost.
 */
import type OpenAI from "openai";
import type { Logger } from "pino";
import { classifyLlmError } from "./client.ts";
import { createOpenAi, type ServerOptions } from "./openai.ts";

/** While the check finds a problem, /readyz looks again at most this often. */
const RECHECK_MS = 30_000;

export type ModelCheck =
  | { status: "ok" }
  /** The server has no model list (404): the names could not be checked. */
  | { status: "unlisted" }
  | { status: "unreachable"; message: string }
  | { status: "key_rejected"; message: string }
  | { status: "unknown_models"; missing: string[]; offered: string[] };

export async function checkModels(openai: OpenAI, models: readonly string[], timeoutMs = 10_000): Promise<ModelCheck> {
  const offered: string[] = [];
  try {
    for await (const model of openai.models.list({ timeout: timeoutMs, maxRetries: 0 })) {
      offered.push(model.id);
      if (offered.length >= 10_000) break; // bounded: a router listing everything
    }
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 404 || status === 405) return { status: "unlisted" };
    if (status === 401 || status === 403) return { status: "key_rejected", message: classifyLlmError(error).message };
    return { status: "unreachable", message: classifyLlmError(error).message };
  }
  const known = new Set(offered);
  // Ollama lists "llama3.2:latest" for "llama3.2".
  const missing = models.filter((m) => !known.has(m) && !known.has(`${m}:latest`));
  return missing.length === 0 ? { status: "ok" } : { status: "unknown_models", missing, offered: offered.slice(0, 20) };
}

/** The warning for an operator: which setting to look at. Undefined when there is nothing to fix. */
export function modelCheckWarning(check: ModelCheck, server: string): string | undefined {
  switch (check.status) {
    case "ok":
    case "unlisted":
      return undefined;
    case "unreachable":
      return `The model server at ${server} did not answer (${check.message}): check OPENAI_BASE_URL. The bot runs, and answers once the server does.`;
    case "key_rejected":
      return `The model server at ${server} refused the key (${check.message}): check OPENAI_API_KEY.`;
    case "unknown_models":
      return `The model server at ${server} does not offer ${check.missing.map((m) => `"${m}"`).join(", ")}: check OPENAI_MODEL and OPENAI_MODELS (it offers ${check.offered.length > 0 ? check.offered.join(", ") : "none"}).`;
  }
}

/** The /readyz check's value. */
export const modelReadiness = (check: ModelCheck): string =>
  check.status === "ok" || check.status === "unlisted" ? "ok" : check.status === "unknown_models" ? `unknown model: ${check.missing.join(", ")}` : check.status.replace("_", " ");

/**
 * The check as the app runs it: looked at once the bot runs (never on the way to running: a model
 * server that is down only for now must not keep the bot from starting), one warning per look that
 * finds a problem, and looked at again, at most every RECHECK_MS, while /readyz is asked and the last
 * look found one.
 */
export function createModelWatch({ server, models, logger }: { server: ServerOptions; models: readonly string[]; logger: Logger }) {
  let last: ModelCheck | undefined;
  let lookedAt = 0;
  let looking: Promise<void> | undefined;
  const look = () => {
    lookedAt = Date.now();
    looking ??= checkModels(createOpenAi(server), models)
      .then((check) => {
        const warning = modelCheckWarning(check, new URL(server.baseURL).host);
        if (warning) logger.warn({ check: check.status }, warning);
        else if (last !== undefined && modelReadiness(last) !== "ok") logger.info("the model server answers, with the models set");
        last = check;
      })
      .catch((error: unknown) => logger.warn({ err: error }, "could not look at the model server"))
      .finally(() => (looking = undefined));
  };
  return {
    look,
    /** The /readyz check: undefined until the first look has an answer (a few ms after start). */
    readiness(): string | undefined {
      if (last === undefined) return undefined;
      const now = modelReadiness(last);
      if (now !== "ok" && Date.now() - lookedAt > RECHECK_MS) look();
      return now;
    },
  };
}
