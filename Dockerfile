# Parley's image: `make up` (docker compose) builds it once and runs it twice beside PostgreSQL,
# as the one-shot `migrate` and as the bot. Everything runs built (dist/): Node could run the
# TypeScript as it is, but type stripping keeps ~18 MB of compiler resident. No `# syntax=` line:
# nothing here needs a newer frontend, and fetching one fails where no registry is reachable.

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
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
# Not root. The image's `node` user (uid 1000) owns only /data. No VOLUME: an anonymous volume
# would be left behind by every `docker compose down`; mount one at /data for the embedded store.
USER node
EXPOSE 8080
# /healthz answers from the first moment of start-up while the process lives (readiness, with the
# database and Telegram, is /readyz). Probed every 5 s with bash's /dev/tcp (a few ms; a `node -e`
# probe costs a Node start-up each time), so health shows within seconds of a start.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${HTTP_PORT:-8080} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
# Exec form: node itself is PID 1 and gets `docker stop`'s SIGTERM (the bot handles it: it stops
# taking updates, finishes the turns in flight and exits 0 within 10 s, Docker's default grace).
CMD ["node", "--liftoff-only", "--max-semi-space-size=2", "dist/src/main.js"]
