# The Airbyte source image (see README, "Use it from Airbyte"):
#   docker build -t harvest-sync/source-harvest-sync:0.1.0 .
# Airbyte runs it as `spec`, `check --config …`, `discover --config …` and
# `read --config … --catalog … [--state …]`; test/airbyte/dockerfile.test.ts runs the same ENTRYPOINT.

FROM node:20 AS build
WORKDIR /airbyte/integration_code
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm ci builds (the `prepare` script) and compiles better-sqlite3 if no prebuilt binary fits
RUN npm ci && npm prune --omit=dev

FROM node:20-slim
WORKDIR /airbyte/integration_code
COPY --from=build /airbyte/integration_code/package.json ./package.json
COPY --from=build /airbyte/integration_code/node_modules ./node_modules
COPY --from=build /airbyte/integration_code/dist ./dist
ENV AIRBYTE_ENTRYPOINT="node --max-semi-space-size=4 /airbyte/integration_code/dist/cli/main.js airbyte"
ENTRYPOINT ["node", "--max-semi-space-size=4", "/airbyte/integration_code/dist/cli/main.js", "airbyte"]
LABEL io.airbyte.name=harvest-sync/source-harvest-sync
LABEL io.airbyte.version=0.1.0
