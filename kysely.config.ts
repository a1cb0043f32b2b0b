// kysely-ctl configuration: `make db-migrate` (npm run db:migrate) uses the same store as the bot,
// PostgreSQL when DATABASE_URL is set, the embedded PGlite under PGLITE_DATA_DIR otherwise.
import { defineConfig } from "kysely-ctl";
import { parseDatabaseConfig, readEnvironment } from "./src/config.ts";
import { createDialect } from "./src/db/connection.ts";
import { migrationPrefix } from "./src/db/migrations.ts";

export default defineConfig({
  dialect: createDialect(parseDatabaseConfig(readEnvironment())),
  // `npx kysely migrate:make <name>` names files like the existing ones (YYYYMMDDHHMMSS_<name>.ts).
  migrations: { migrationFolder: "migrations", getMigrationPrefix: () => migrationPrefix(new Date()) },
});
