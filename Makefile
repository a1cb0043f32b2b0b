# Parley: the two commands a newcomer needs are `make start` and `make test`.
# Everything runs through npm scripts, so Node 24 (the `node` devDependency) is used
# even where the machine's own node is older.

NPM ?= npm
STAMP := node_modules/.installed

.PHONY: help install start dev test lint typecheck bench db-up db-down db-migrate db-reset

help:
	@echo "make start       run the bot (installs dependencies; embedded PGlite store unless DATABASE_URL is set)"
	@echo "make dev         run the bot, restarting on changes, with readable logs"
	@echo "make test        run all tests (PostgreSQL suites too when TEST_DATABASE_URL is set)"
	@echo "make lint        eslint"
	@echo "make typecheck   tsc --noEmit"
	@echo "make bench       benchmarks against their goals; report in data/benchmarks.md (BENCH_REPORT=doc/benchmarks.md to update the committed one)"
	@echo "make db-up       start PostgreSQL in Docker (docker-compose.yml)"
	@echo "make db-down     stop it (the data volume is kept)"
	@echo "make db-migrate  apply pending migrations to the configured store"
	@echo "make db-reset    roll every migration back, then apply them again (erases all data; asks first, or FORCE=1)"

# Install (or re-install) whenever the lock file changes.
$(STAMP): package.json package-lock.json
	$(NPM) ci
	@touch $@

install: $(STAMP)

.env:
	@cp .env.example .env
	@echo "Created .env from .env.example: set TELEGRAM_BOT_TOKEN and OPENAI_API_KEY (or OPENAI_BASE_URL) in it."

start: install .env
	$(NPM) start

dev: install .env
	$(NPM) run dev

test: install
	$(NPM) test -- $(TEST_ARGS)

lint: install
	$(NPM) run lint

typecheck: install
	$(NPM) run typecheck

bench: install
	$(NPM) run bench

db-up:
	docker compose up --detach --wait postgres

db-down:
	docker compose down

db-migrate: install
	$(NPM) run db:migrate

db-reset: install
	$(NPM) run db:reset -- $(if $(filter 1,$(FORCE)),--force)
