# Parley: the two commands a newcomer needs are `make start` and `make test`.
# Everything runs through npm scripts, so Node 24 (the `node` devDependency) is used
# even where the machine's own node is older.

NPM ?= npm
STAMP := node_modules/.installed

.PHONY: help install start dev test lint typecheck bench db-up db-down db-migrate db-reset db-copy up down logs docker-smoke

help:
	@echo "make start       run the bot (installs dependencies; embedded PGlite store unless DATABASE_URL is set)"
	@echo "make dev         run the bot, restarting on changes, with readable logs"
	@echo "make test        run all tests (PostgreSQL suites too when TEST_DATABASE_URL is set)"
	@echo "make lint        eslint"
	@echo "make typecheck   tsc --noEmit"
	@echo "make bench       benchmarks against their goals; report in data/benchmarks.md (BENCH_REPORT=doc/benchmarks.md to update the committed one)"
	@echo "make up          build and run everything in Docker: PostgreSQL, migrations, the bot (settings from .env;"
	@echo "                 host ports PARLEY_HTTP_PORT=8080 and PARLEY_DB_PORT=5432 when those are taken)"
	@echo "make down        stop it (the data volume is kept)"
	@echo "make logs        follow the bot's logs"
	@echo "make db-up       start PostgreSQL in Docker (docker-compose.yml)"
	@echo "make db-down     stop PostgreSQL only (the data volume is kept)"
	@echo "make docker-smoke build the image and try the container path against fakes (needs Docker)"
	@echo "make db-migrate  apply pending migrations to the configured store"
	@echo "make db-reset    roll every migration back, then apply them again (erases all data; asks first, or FORCE=1)"
	@echo "make db-copy     copy the embedded store (PGLITE_DATA_DIR) into the migrated, empty PostgreSQL of DATABASE_URL"

# Install (or re-install) whenever the lock file changes.
$(STAMP): package.json package-lock.json
	$(NPM) ci
	@touch $@

install: $(STAMP)

# The first run creates .env and stops there, cleanly, unless the settings already come from the
# environment: a bot without a token could only fail.
FIRST_RUN = if [ ! -f .env ]; then \
	  cp .env.example .env; \
	  echo "Created .env from .env.example."; \
	  if [ -z "$$TELEGRAM_BOT_TOKEN" ]; then \
	    echo "Fill in TELEGRAM_BOT_TOKEN (from @BotFather) and OPENAI_API_KEY (or OPENAI_BASE_URL) in .env, then run make $@ again."; \
	    exit 0; \
	  fi; \
	fi

start: install
	@$(FIRST_RUN); exec $(NPM) start

dev: install
	@$(FIRST_RUN); exec $(NPM) run dev

test: install
	$(NPM) test -- $(TEST_ARGS)

lint: install
	$(NPM) run lint

typecheck: install
	$(NPM) run typecheck

bench: install
	$(NPM) run bench

NO_COMPOSE = echo "make $@ needs Docker with Compose ('docker compose'), which is not here: set DATABASE_URL to an existing PostgreSQL server instead, or leave it unset for the embedded store."; exit 1

db-up:
	@docker compose version >/dev/null 2>&1 || { $(NO_COMPOSE); }
	docker compose up --detach --wait postgres

db-down:
	@docker compose version >/dev/null 2>&1 || { $(NO_COMPOSE); }
	docker compose stop postgres

# Like make start: a first run creates .env and stops there; a .env without a token stops here
# too (in Docker the bot would only restart, failing, under restart: unless-stopped).
up:
	@docker compose version >/dev/null 2>&1 || { $(NO_COMPOSE); }
	@$(FIRST_RUN); \
	if ! grep -Eq '^TELEGRAM_BOT_TOKEN=[^[:space:]]+' .env; then \
	  echo "TELEGRAM_BOT_TOKEN is not set in .env: fill it in (from @BotFather), then run make up again."; exit 1; \
	fi; \
	docker compose up --detach --build --wait && \
	echo "Parley is running in Docker (healthy): make logs to follow it, make down to stop it." || \
	{ echo "Parley did not become healthy in Docker: its last lines follow (make logs for more)."; docker compose logs --tail 20 bot migrate; exit 1; }

down:
	@docker compose version >/dev/null 2>&1 || { $(NO_COMPOSE); }
	docker compose down

logs:
	@docker compose version >/dev/null 2>&1 || { $(NO_COMPOSE); }
	docker compose logs --follow bot

db-migrate: install
	$(NPM) run db:migrate

db-reset: install
	$(NPM) run db:reset -- $(if $(filter 1,$(FORCE)),--force)

db-copy: install
	$(NPM) run db:copy

# The container path for real: image, migrate, non-root, health, an answer, data across down/up,
# exit 0 on docker stop (scripts/docker-smoke.ts). On machines without a registry, first:
# eval "$$(../shared/tools/docker-offline/setup)" (doc/operations.md).
docker-smoke: install
	@docker compose version >/dev/null 2>&1 || { $(NO_COMPOSE); }
	$(NPM) exec -- node scripts/docker-smoke.ts
