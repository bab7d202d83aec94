# syntax=docker/dockerfile:1
# One image for every role: ROLE=all (default, API + worker threads, SQLite on /app/data),
# ROLE=api or ROLE=worker (see docker-compose.yml and docker/compose.postgres.yml).
# Migrations are applied by the service itself at start-up, safely when several containers start at once.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 compiles from source against this image's Node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# npm ci runs the postinstall generator (scripts/prisma-generate.mjs), which reads prisma/.
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY scripts ./scripts
RUN npm ci
COPY tsconfig.base.json tsconfig.json ./
COPY apps ./apps
# Compile the product (apps/*/src, the generated Prisma clients included; no tests or scripts),
# then keep production dependencies only.
RUN npx tsc -b tsconfig.json \
 && npm prune --omit=dev --ignore-scripts \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# HOST=0.0.0.0: a container is reached through its published port, never on its own loopback
# (outside a container the service listens on 127.0.0.1 until API_KEYS is set). Anyone who can
# reach that port can use the API: set API_KEYS (docs/security.md).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=file:/app/data/jobs.db
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
# The dashboard's static page (served from the source tree, not compiled).
COPY --from=build /app/apps/api/public ./apps/api/public
# The SQLite file lives on a volume mounted here; the non-root user must own it.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8000
# No curl in slim images: node itself asks /healthz on the container's PORT.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM from `docker stop` reaches node directly (exec form): graceful drain within SHUTDOWN_GRACE_MS.
CMD ["node", "dist/apps/service/src/main.js"]
