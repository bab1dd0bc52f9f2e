# One image for the API and the workers (docker-compose picks the command).
FROM oven/bun:1 AS deps
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production

FROM oven/bun:1
WORKDIR /app
ENV NODE_ENV=production PORT=8000
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY workers ./workers
USER bun
EXPOSE 8000
# No HEALTHCHECK here: the image runs both roles and each is checked differently (the API on
# PORT /ready, a worker on WORKER_METRICS_PORT /health); docker-compose.yml sets both.
CMD ["bun", "--max-http-header-size=65536", "run", "src/main.ts"]
