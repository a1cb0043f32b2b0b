# syntax=docker/dockerfile:1
# Parley's image: `make up` (docker compose) builds and runs it beside PostgreSQL.
# Node 24 runs the TypeScript sources as they are (type stripping): there is no build step,
# only the production dependencies to install.

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
CMD ["node", "--liftoff-only", "--max-semi-space-size=2", "src/main.ts"]
