/**
 * A cheap look at the model server at start-up, so that a wrong setting shows before the first user
 * meets it: the server answers (OPENAI_BASE_URL), it takes the key (OPENAI_API_KEY), and it offers
 * each allowed model (OPENAI_MODEL, OPENAI_MODELS). One GET of the server's model list, which
 * OpenAI, OpenRouter, Ollama, vLLM and LiteLLM all serve; a server without one is not held
 * against the bot (the models cannot be checked, nothing more). Never a completion: it would cost.
 */
import type OpenAI from "openai";
import { classifyLlmError } from "./client.ts";

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
