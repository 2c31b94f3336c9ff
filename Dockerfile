# syntax=docker/dockerfile:1
# The Harrier image: every role (`run standalone`, `run proxy`, ...) from one image.
#
#   docker build -t harrier:0.1.0 .
#   docker run -p 19530:19530 -p 9091:9091 -v harrier-data:/var/lib/harrier harrier:0.1.0
#   docker run harrier:0.1.0 run querynode --etcd etcd1:2379 --object-store 's3://...' --wal nats://nats1:4222
#
# Where no registry is reachable (node:20-bookworm-slim cannot be pulled), deploy/local-image.sh
# builds an equivalent image FROM scratch out of the local node binary.

# ---- build: compile TypeScript, then keep only production dependencies
FROM node:20-bookworm-slim AS build
# npm ci compiles Harrier's native graph addon (native/) with node-gyp against the image's node headers.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /harrier
COPY package.json package-lock.json ./
COPY native ./native
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY tests ./tests
COPY bench ./bench
RUN npx tsc -p . \
 && find dist -name '*.test.js' -o -name '*.test.js.map' -o -name '*.test.d.ts' -o -name '*.bench.js' -o -name '*.bench.js.map' | xargs rm -f \
 && rm -rf dist/tests dist/bench \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HARRIER_HOST=0.0.0.0 \
    HARRIER_DATA_DIR=/var/lib/harrier
WORKDIR /harrier
COPY --from=build /harrier/package.json ./
COPY --from=build /harrier/node_modules ./node_modules
COPY --from=build /harrier/dist/src ./dist/src
COPY --from=build /harrier/native/build/Release/harrier_graph.node ./native/build/Release/harrier_graph.node
RUN mkdir -p /var/lib/harrier && chown node:node /var/lib/harrier
USER node
VOLUME ["/var/lib/harrier"]
# 19530 Milvus gRPC (proxy/standalone), 9091 /healthz + /metrics; internal gRPC of the other roles:
# 53100 mixcoord, 21124 datanode, 21123 querynode, 21121 indexnode.
EXPOSE 19530 9091 53100 21124 21123 21121
# No curl in the image: node's fetch checks /healthz (200 when serving, 503 while waiting for deps).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=6 \
  CMD ["/usr/local/bin/node", "-e", "fetch('http://127.0.0.1:9091/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM makes Harrier flush growing segments before it exits; give it the time (docker stop -t 60).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/node", "/harrier/dist/src/roles/cli.js"]
CMD ["run", "standalone"]
