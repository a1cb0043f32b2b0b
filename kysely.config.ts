// kysely-ctl configuration: `make db-migrate` (npm run db:migrate) uses the same store as the bot,
// PostgreSQL when DATABASE_URL is set, the embedded PGlite under PGLITE_DATA_DIR otherwise.
import { defineConfig } from "kysely-ctl";
import { parseDatabaseConfig, readEnvironment } from "./src/config.ts";
import { createDialect } from "./src/db/connection.ts";

export default defineConfig({
  dialect: createDialect(parseDatabaseConfig(readEnvironment())),
  migrations: { migrationFolder: "migrations" },
});
