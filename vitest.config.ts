import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: end-to-end files each start bot processes and PGlite; keep them from starving.
    maxWorkers: 2,
    globalSetup: ["tests/helpers/ci-guard.ts"],
  },
});
