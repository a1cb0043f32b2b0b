import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: end-to-end files each start bot processes and PGlite; keep them from starving.
    // The suite mostly waits (~1.1 cores busy), yet 3 workers measured no faster (README, Development).
    maxWorkers: 2,
    // In CI, a missing TEST_DATABASE_URL fails the run (each project inherits this; the e2e project adds its build).
    globalSetup: ["tests/helpers/ci-guard.ts"],
    projects: [
      // Everything in-process (unit, repository, tests/bot): no build.
      { extends: true, test: { name: "fast", include: ["tests/**/*.test.ts"], exclude: ["tests/e2e/**"] } },
      // The real bot process, built: dist/ is (re)built first if stale, only when e2e files run.
      { extends: true, test: { name: "e2e", include: ["tests/e2e/**/*.test.ts"], globalSetup: ["tests/helpers/built-bot.ts"], setupFiles: ["tests/helpers/e2e-failures.ts"] } },
    ],
  },
});
