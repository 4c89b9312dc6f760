# dify-s3-gateway: build with the dev dependencies, run with the production
# ones only. Node 24 LTS, a non-root user, node itself as PID 1 (it handles
# SIGTERM: stop accepting, let transfers finish, exit 0).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# production: the embedded development S3 never runs here (S3_ENDPOINT is
# required), logs are JSON lines; 0.0.0.0 needs API_KEYS (or AUTH_DISABLED=true)
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json: the version in /openapi.json; manifest.yaml, group/ and
# endpoints/: the route table the server registers its tools from
COPY package.json manifest.yaml ./
COPY group ./group
COPY endpoints ./endpoints
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# as `npm start`: gc() for the memory pacer (src/transfer/memory-pacer.ts), a
# 1 MiB young generation, and array buffers freed in the GC pause rather than
# later by a background task (peak RSS: bench/README.md)
CMD ["node", "--expose-gc", "--max-semi-space-size=2", "--no-concurrent-array-buffer-sweeping", "dist/server.js"]
