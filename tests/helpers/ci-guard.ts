// Runs before all test files (vitest globalSetup; each project that has files to run calls it).
// In CI the PostgreSQL suites are required: a missing TEST_DATABASE_URL fails the run instead of
// turning into silently skipped tests. Locally, say clearly that they are skipped.
export default function setup(): void {
  if (process.env.TEST_DATABASE_URL) return;
  if (process.env.CI === "true") {
    throw new Error("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL suites would be skipped.");
  }
  // Said once, not once per project.
  const noted = globalThis as { parleyDatabaseNote?: boolean };
  if (noted.parleyDatabaseNote) return;
  noted.parleyDatabaseNote = true;
  console.log("Note: TEST_DATABASE_URL is not set, so the PostgreSQL suites are skipped (PGlite suites run).");
}
