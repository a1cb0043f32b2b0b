/**
 * `npm run store:template`: writes the prepared embedded store (src/db/pglite-template.tar.gz), a
 * fresh PGlite cluster as PGlite's own dumpDataDir makes it. A new embedded store is unpacked from
 * it instead of running initdb in the bot's process, which took seconds and hundreds of MB
 * (doc/benchmarks.md). Run it again after upgrading @electric-sql/pglite: a unit test fails until then.
 */
import { writeFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PGLITE_TEMPLATE, PGLITE_TEMPLATE_INFO, pgliteVersion } from "./db/connection.ts";

const pglite = new PGlite("memory://");
await pglite.waitReady;
const dump = await pglite.dumpDataDir("gzip");
await pglite.close();
const bytes = Buffer.from(await dump.arrayBuffer());
writeFileSync(PGLITE_TEMPLATE, bytes);
writeFileSync(PGLITE_TEMPLATE_INFO, `${JSON.stringify({ pglite: pgliteVersion() }, null, 2)}\n`);
console.log(`Wrote ${PGLITE_TEMPLATE} (${(bytes.length / 1024 / 1024).toFixed(1)} MB) for PGlite ${pgliteVersion()}.`);
