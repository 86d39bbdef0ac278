#!/usr/bin/env bash
# Packs .gpu-host/ for the GPU host (../shared/gpu-host/pack.sh), then drops the dev-only
# packages its tsx install drags in (TypeScript, playwright-core, @types): the host needs only
# koffi, cac and tsx, and the whole tree sent there must stay under 64 MiB.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/gpu-host/pack.sh
rm -rf .gpu-host/prod/node_modules/{@typescript,typescript,playwright-core,@types}
du -sh .gpu-host | awk '{print "pruned .gpu-host: " $1}' >&2
