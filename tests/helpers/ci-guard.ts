// In CI the PostgreSQL suites are required: a missing TEST_DATABASE_URL must fail the run,
// never turn into silently skipped tests.
if (process.env.CI === "true" && !process.env.TEST_DATABASE_URL) {
  throw new Error("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL suites would be skipped.");
}
