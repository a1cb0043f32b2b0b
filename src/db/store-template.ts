/**
 * The prepared embedded store: a new PGlite data directory is unpacked from a template made by
 * `npm run store:template`, instead of running initdb in the bot's process.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The prepared embedded store (`npm run store:template`), and the PGlite version that made it. */
export const PGLITE_TEMPLATE = fileURLToPath(new URL("./pglite-template.tar.gz", import.meta.url));
export const PGLITE_TEMPLATE_INFO = fileURLToPath(new URL("./pglite-template.json", import.meta.url));

/** The installed @electric-sql/pglite's version. */
export function pgliteVersion(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@electric-sql/pglite");
  let dir = path.dirname(main);
  const isPglite = (d: string) => existsSync(path.join(d, "package.json")) && (JSON.parse(readFileSync(path.join(d, "package.json"), "utf8")) as { name?: string }).name === "@electric-sql/pglite";
  while (!isPglite(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * A new data directory is unpacked from the prepared store (if it was made by this PGlite) with
 * node-tar, outside WebAssembly: PGlite then opens it as an existing store. initdb inside the bot's
 * process took seconds and left hundreds of MB of WASM memory behind. Returns whether it unpacked;
 * false leaves the directory to PGlite's initdb.
 */
export async function unpackPgliteTemplate(dataDir: string): Promise<boolean> {
  if (existsSync(path.join(dataDir, "PG_VERSION"))) return false; // an existing store
  let info: { pglite?: string };
  try {
    info = JSON.parse(readFileSync(PGLITE_TEMPLATE_INFO, "utf8")) as typeof info;
  } catch {
    return false;
  }
  if (info.pglite !== pgliteVersion()) return false;
  // Into a fresh directory beside it, then renamed: a crash halfway leaves no half store behind.
  const partial = `${dataDir.replace(/\/+$/, "")}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const tar = await import("tar"); // only ever needed here: not loaded on the PostgreSQL store
  // Read in small pieces: node-tar's default (the whole file, inflated in 16 MB chunks) left ~50 MB
  // resident for good in the bot's process; 64 KB reads leave ~16 MB and take as long.
  tar.x({ file: PGLITE_TEMPLATE, cwd: partial, sync: true, preservePaths: false, maxReadSize: 64 * 1024 });
  rmSync(dataDir, { recursive: true, force: true }); // empty (no PG_VERSION): nothing to lose
  renameSync(partial, dataDir);
  return true;
}
