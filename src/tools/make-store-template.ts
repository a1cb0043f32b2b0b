/**
 * `npm run store:template`: writes the prepared embedded store (src/db/pglite-template.tar.gz), a
 * fresh PGlite cluster as PGlite's own dumpDataDir makes it. A new embedded store is unpacked from
 * it instead of running initdb in the bot's process, which took seconds and hundreds of MB
 * (doc/benchmarks.md). Run it again after upgrading @electric-sql/pglite: a unit test fails until then.
 */
import { writeFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PGLITE_TEMPLATE, PGLITE_TEMPLATE_INFO, pgliteVersion } from "../db/store-template.ts";

const pglite = new PGlite("memory://");
await pglite.waitReady;
// The bot uses the database "postgres" alone. template0 and template1 only serve CREATE DATABASE,
// which the bot never runs: without them a new store is a third of the files (~1 000 → ~400),
// and creating files is most of what unpacking it costs.
for (const name of ["template0", "template1"]) {
  await pglite.exec(`alter database ${name} with allow_connections false is_template false`);
  await pglite.exec(`drop database ${name}`); // alone: DROP DATABASE cannot run in a transaction block
}
const dump = await pglite.dumpDataDir("gzip");
await pglite.close();
const bytes = Buffer.from(await dump.arrayBuffer());
writeFileSync(PGLITE_TEMPLATE, bytes);
writeFileSync(PGLITE_TEMPLATE_INFO, `${JSON.stringify({ pglite: pgliteVersion() }, null, 2)}\n`);
console.log(`Wrote ${PGLITE_TEMPLATE} (${(bytes.length / 1024 / 1024).toFixed(1)} MB) for PGlite ${pgliteVersion()}.`);
