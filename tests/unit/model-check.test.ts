/**
 * The look at the model server at start-up, against the fake server: its list, a server without
 * one, Ollama's ":latest" names, and what each outcome tells the operator.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { createOpenAi } from "../../src/llm/openai.ts";
import { checkModels, modelCheckWarning, modelReadiness } from "../../src/llm/model-check.ts";
import { FakeOpenAI } from "../fakes/openai-server.ts";

let ai: FakeOpenAI;
beforeAll(async () => (ai = await new FakeOpenAI().start()));
afterAll(() => ai.close());
const client = () => createOpenAi({ apiKey: "k", baseURL: ai.url, timeoutMs: 5_000, maxRetries: 0 });

test("every allowed model offered: ok; Ollama's name:latest counts for name", async () => {
  ai.models = ["fake-model", "llama3.2:latest"];
  expect(await checkModels(client(), ["fake-model", "llama3.2"])).toEqual({ status: "ok" });
});

test("a model the server does not offer is named, with what it offers, and makes /readyz say so", async () => {
  ai.models = ["fake-model"];
  const check = await checkModels(client(), ["fake-model", "gpt-4o-mini"]);
  expect(check).toEqual({ status: "unknown_models", missing: ["gpt-4o-mini"], offered: ["fake-model"] });
  expect(modelCheckWarning(check, "ai.example")).toBe('The model server at ai.example does not offer "gpt-4o-mini": check OPENAI_MODEL and OPENAI_MODELS (it offers fake-model).');
  expect(modelReadiness(check)).toBe("unknown model: gpt-4o-mini");
});

test("a server without a model list is not held against the bot; a refused key is", async () => {
  ai.models = "unlisted";
  const unlisted = await checkModels(client(), ["anything"]);
  expect(unlisted).toEqual({ status: "unlisted" });
  expect(modelCheckWarning(unlisted, "ai.example")).toBeUndefined();
  expect(modelReadiness(unlisted)).toBe("ok");
  ai.models = { status: 401 };
  const refused = await checkModels(client(), ["fake-model"]);
  expect(refused.status).toBe("key_rejected");
  expect(modelCheckWarning(refused, "ai.example")).toMatch(/check OPENAI_API_KEY\.$/);
  expect(modelReadiness(refused)).toBe("key rejected");
});
