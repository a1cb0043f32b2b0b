/**
 * `npm run build`, but only when dist/ is stale: what `npm start` (prestart) and the end-to-end
 * tests' global setup run. dist/ is fresh when dist/.build-stamp holds the hash of the build's
 * inputs as they were when it was last built (src/, migrations/, package*.json, tsconfig*.json),
 * and dist/src/main.js is there. Content, not mtimes: a checkout, a copy or a clock cannot fool it.
 *
 *   node scripts/build-if-stale.ts          build if stale
 *   node scripts/build-if-stale.ts --check  exit 1, saying why, if stale (builds nothing)
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const STAMP = path.join(ROOT, "dist/.build-stamp");
const MAIN = path.join(ROOT, "dist/src/main.js");
const INPUT_DIRS = ["src", "migrations"];
const INPUT_FILES = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"];

function filesUnder(dir: string): string[] {
  const full = path.join(ROOT, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** The hash of every input of the build, names and contents. */
export function inputsHash(): string {
  const hash = createHash("sha256");
  for (const file of [...INPUT_DIRS.flatMap(filesUnder), ...INPUT_FILES]) {
    hash.update(`${file}\0`);
    hash.update(existsSync(path.join(ROOT, file)) ? readFileSync(path.join(ROOT, file)) : "(none)");
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** Why dist/ is stale, or null when it was built from the inputs as they are now. */
export function staleness(): string | null {
  if (!existsSync(MAIN)) return "dist/ has not been built";
  if (!existsSync(STAMP)) return "dist/ was not built by this script (no dist/.build-stamp)";
  if (readFileSync(STAMP, "utf8").trim() !== inputsHash()) return "src/, migrations/ or the build settings changed since dist/ was built";
  return null;
}

/** Builds when stale; returns whether it built. Throws if the build fails. */
export function buildIfStale(log: (line: string) => void = console.log): boolean {
  const why = staleness();
  if (!why) return false;
  // The hash of the inputs as the build starts: an edit during the build leaves dist/ stale.
  const hash = inputsHash();
  log(`Building dist/ (${why}): npm run build`);
  const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) throw new Error(`npm run build failed (exit ${build.status ?? build.signal})`);
  writeFileSync(STAMP, `${hash}\n`);
  return true;
}

if (import.meta.main) {
  if (process.argv.includes("--check")) {
    const why = staleness();
    if (why) {
      console.error(`dist/ is stale: ${why}. Run npm run build (or node scripts/build-if-stale.ts).`);
      process.exit(1);
    }
  } else {
    try {
      buildIfStale((line) => console.error(line));
    } catch (error) {
      console.error((error as Error).message);
      process.exit(1);
    }
  }
}
