// Runs once before all test files (vitest globalSetup).
import { spawnSync } from "node:child_process";
import path from "node:path";

const PROJECT_ROOT = path.resolve(import.meta.dirname, "../..");
// In CI the PostgreSQL suites are required: a missing TEST_DATABASE_URL fails the run instead of
// turning into silently skipped tests. Locally, say clearly that they are skipped.
export default function setup(): void {
  // The end-to-end tests run the bot as `npm start` does: built to dist/ first.
  const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: PROJECT_ROOT, stdio: "inherit" });
  if (build.status !== 0) throw new Error("npm run build failed: the end-to-end tests need the built bot");
  if (process.env.TEST_DATABASE_URL) return;
  if (process.env.CI === "true") {
    throw new Error("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL suites would be skipped.");
  }
  console.log("Note: TEST_DATABASE_URL is not set, so the PostgreSQL suites are skipped (PGlite suites run).");
}
