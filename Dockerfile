# syntax=docker/dockerfile:1
# Parley's image: `make up` (docker compose) builds and runs it beside PostgreSQL.
# The bot runs built (dist/): Node could run the TypeScript as it is, but type stripping keeps
# ~18 MB of compiler resident. The tools (migrate, db-copy) run from src/ as they are.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# Without install scripts the `node` devDependency has no binary: drop its shim, so npm scripts
# run the image's own Node 24.
RUN npm ci --ignore-scripts && rm -f node_modules/.bin/node
COPY src ./src
COPY migrations ./migrations
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts are needed by them.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    # Reachable from outside the container (publish the port only where it should be seen).
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    # The embedded store, when DATABASE_URL is unset: mount a volume here to keep it.
    PGLITE_DATA_DIR=/data/pglite
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY migrations ./migrations
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
# Not root. The image's `node` user (uid 1000) owns only /data.
USER node
VOLUME ["/data"]
EXPOSE 8080
# /healthz answers while the process lives (readiness, with the database and Telegram, is /readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.HTTP_PORT || 8080}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node itself is PID 1 and gets `docker stop`'s SIGTERM (the bot handles it: it stops
# taking updates, finishes the turns in flight and exits 0 within 10 s, Docker's default grace).
CMD ["node", "--liftoff-only", "--max-semi-space-size=2", "dist/src/main.js"]
