import OpenAI from "openai";
import { describe, expect, test } from "vitest";
import { classifyLlmError } from "../../src/llm/client.ts";

const apiError = (status: number, message: string, code?: string) =>
  OpenAI.APIError.generate(status, { error: { message, code } }, message, new Headers());

describe("classifyLlmError", () => {
  test.each([
    [apiError(429, "Rate limit reached"), "rate_limited"],
    [apiError(500, "Internal error"), "unavailable"],
    [apiError(503, "Overloaded"), "unavailable"],
    [apiError(400, "This model's maximum context length is 8192 tokens", "context_length_exceeded"), "context_too_long"],
    [apiError(413, "Request too large"), "context_too_long"],
    [apiError(401, "Incorrect API key"), "misconfigured"],
    [apiError(404, "The model `x` does not exist"), "misconfigured"],
    [apiError(400, "Invalid request"), "rejected"],
    [new OpenAI.APIConnectionTimeoutError(), "timeout"],
    [new OpenAI.APIConnectionError({ message: "ECONNREFUSED" }), "unavailable"],
    [new TypeError("terminated"), "unavailable"],
    [new Error("something odd"), "unknown"],
  ] as const)("%s is %s", (error, failure) => {
    expect(classifyLlmError(error).failure).toBe(failure);
  });
});
