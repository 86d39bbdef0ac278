#!/usr/bin/env bash
# Packs .gpu-host/ for the GPU host (../shared/gpu-host/pack.sh), then drops what the host does
# not run: the dev-only packages (TypeScript, playwright-core, @types) and tsx with esbuild, since
# the host runs the built dist/ (build first). The whole tree sent there, node and the packed
# redis-server included (scripts/pack-redis.sh), must stay under 64 MiB.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/gpu-host/pack.sh
rm -rf .gpu-host/prod/node_modules/{@typescript,typescript,playwright-core,@types,tsx,esbuild,@esbuild,get-tsconfig,resolve-pkg-maps}
du -sh .gpu-host | awk '{print "pruned .gpu-host: " $1}' >&2
