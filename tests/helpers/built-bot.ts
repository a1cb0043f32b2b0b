// Global setup of the e2e project (vitest.config.ts): the end-to-end tests run the bot as `npm start`
// does, built to dist/. Vitest runs this only when the run includes e2e files, so a unit test
// builds nothing. It builds only when dist/ is stale (scripts/build-if-stale.ts: a hash of the
// build's inputs), so `make test` builds at most once, and a stale dist/ is never tested.
import type { TestProject } from "vitest/node";
import { buildIfStale } from "../../scripts/build-if-stale.ts";

export default function setup(project: TestProject): void {
  buildIfStale();
  // Watch mode: source edited between runs is built again before the e2e files rerun.
  project.onTestsRerun(() => {
    buildIfStale();
  });
}
