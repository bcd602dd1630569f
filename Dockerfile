# syntax=docker/dockerfile:1
# One image, four entrypoints on PATH: breakwater-operator, breakwater-runtime (the default),
# breakwater-llm-sim and kubectl-breakwater (the kubectl plugin, for a debug or toolbox pod).
# Non-root (uid 65532), nothing written to disk at run time, so it runs with a read-only root
# filesystem.
#
#   make image    # docker, or podman/buildah with local bases where none can be pulled (README)
ARG NODE_IMAGE=node:24-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# Compile TypeScript to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# `npm ci` rejects this lock file over platform-specific optional packages; `npm install`
# still installs exactly the locked versions (see the Makefile's setup target).
# Behind a TLS-intercepting proxy, pass its CA bundle as the build secret `ca`
# (`--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt`; `make image` does when
# NODE_EXTRA_CA_CERTS is set): npm trusts it during this step only, and no layer keeps it.
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm install --no-audit --no-fund --ignore-scripts --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY operator/src operator/src
COPY contract/src contract/src
COPY platform/src platform/src
COPY runtime/src runtime/src
COPY simulator/src simulator/src
COPY plugin/src plugin/src
# As make build: the Lua scripts the store and the journal read go beside the code, and each
# program is bundled with its dependencies (dist/runtime/bundle/ and dist/bundle/, which the
# launchers run; tools/build/bundlePrograms.ts).
COPY scripts/build-dist.sh scripts/build-dist.sh
COPY tools/build tools/build
RUN scripts/build-dist.sh

# The packages the bundled programs load from node_modules at run time (dist/node-modules.json:
# the CommonJS ones loaded with import() and those loaded through createRequire) and what they
# depend on, nothing else (tools/build/pruneNodeModules.ts): every other package is inside a
# bundle. A launcher per package.json "bin" entry: distroless has no /usr/bin/env for the
# `#!/usr/bin/env node` line, so each launcher names node itself. What no program loads goes
# from the packages kept: type declarations and TypeScript sources (Node refuses to strip types
# under node_modules), source maps (nothing runs with --enable-source-maps) and markdown.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=build /src/dist/node-modules.json /src/tools/build/pruneNodeModules.ts /prune/
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm install --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error \
 && node /prune/pruneNodeModules.ts node_modules /prune/node-modules.json \
 && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
      -o -name '*.md' \) -delete \
 && rm -rf package-lock.json /prune \
 && mkdir -p /launchers \
 && node -e ' \
      const { writeFileSync } = require("node:fs"); \
      for (const [name, file] of Object.entries(require("/app/package.json").bin)) \
        writeFileSync(`/launchers/${name}`, `#!/nodejs/bin/node\nimport(${JSON.stringify("/app/" + file)});\n`, { mode: 0o555 });'

# Node's compile cache for the runtime's start-up (runtime/src/compileCacheWarmup.ts): the
# runtime started here once, as the image's user and with the image's files, writes the V8
# code of the bundle's files it compiles before it is ready, and every container reads it
# (NODE_COMPILE_CACHE below): ready in about 0.6 of the time, for 0.9 MB more resident, the
# entries Node keeps in memory (make bench-image). Node keys the cache by its version, its
# flags and the user id, so a container that differs compiles as before;
# NODE_DISABLE_COMPILE_CACHE=1 turns it off.
FROM ${RUNTIME_IMAGE} AS warm
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/tmp/compile-cache \
    PATH=/usr/local/bin:/nodejs/bin:/usr/bin:/bin
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/bundle ./dist/bundle
COPY --from=build /src/dist/runtime/bundle ./dist/runtime/bundle
COPY --from=build /src/dist/platform/src/node ./dist/platform/src/node
COPY --from=deps /launchers/ /usr/local/bin/
USER 65532:65532
RUN ["/nodejs/bin/node", "/app/dist/bundle/compileCacheWarmup.js", "/usr/local/bin/breakwater-runtime"]

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="breakwater" \
      org.opencontainers.image.description="Breakwater operator and agent runtime" \
      org.opencontainers.image.source="https://github.com/breakwater-dev/breakwater" \
      org.opencontainers.image.licenses="Apache-2.0"
# glibc's malloc keeps what a process freed unless the free space at the top of its heap passes
# a threshold, which grows with every large block freed: the runtime frees much of what it
# allocated to start (sources read, code compiled) and kept about 2 MB of it resident for good.
# A fixed threshold (and two arenas, not one per thread) gives it back: idle RSS -2.1 MB for the
# runtime, -0.2 for a bare node:http server, CPU per call unchanged (make bench-image; bench/
# runtime.ts --only hotpath --baseline-env, bench/results/HISTORY.md).
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/app/compile-cache \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    PATH=/usr/local/bin:/nodejs/bin:/usr/bin:/bin
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
# The programs' bundles, and `breakwater` (the image's entrypoint, which runs one of them).
COPY --from=build /src/dist/bundle ./dist/bundle
COPY --from=build /src/dist/runtime/bundle ./dist/runtime/bundle
COPY --from=build /src/dist/platform/src/node ./dist/platform/src/node
COPY --from=deps /launchers/ /usr/local/bin/
# Read-only for all, owned by root: a container only reads it.
COPY --from=warm /tmp/compile-cache /app/compile-cache
USER 65532:65532
EXPOSE 8080 9090
# One entrypoint: `breakwater [program] [flags]` runs the program named first (the simulator,
# the operator, the kubectl plugin), the agent runtime when none is named.
ENTRYPOINT ["breakwater"]
