#!/usr/bin/env bash
# Everything the GPU host is asked to measure, in one device call: the GPU suite, the default
# bench (the efficiency sweep and peers), the jobs bench, the jobs soak and one worker's per-job
# overhead; `breakdown`, asked for by name, times the phases of a short job against the peers'
# loop on tandem's object model, at 16 × 4 MiB and at 8 × 64 MiB. Each step's full output goes
# to $OUT (the device tool brings it back); a short table of what to compare with
# docs/benchmarks.md is printed last. A step that fails is reported and the next one still runs.
#   here:     npx tsc -p tsconfig.json && bash scripts/pack-gpu-host.sh && bash scripts/pack-redis.sh
#   the host: bash scripts/gpu-session.sh [steps...]   (carry .gpu-host and dist; steps: suite
#             bench jobs soak worker breakdown, default all but breakdown; all of them may outlast
#             one 10-minute device call: split them over two, e.g. `suite bench` then
#             `breakdown jobs soak worker`)
set -uo pipefail
cd "$(git rev-parse --show-toplevel 2>/dev/null || pwd)"
OUT=${OUT:-out/gpu-session}
mkdir -p "$OUT"
run() { bash .gpu-host/run.sh "$@"; }
steps=${*:-suite bench jobs soak worker}
summary=()
step() {
  local name=$1 started=$SECONDS rc
  shift
  "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  summary+=("$(printf '%-7s exit %-3s %4ss' "$name" "$rc" "$((SECONDS - started))")")
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
git log -1 --format='%h %s' 2>/dev/null | tee "$OUT/commit.txt"
for s in $steps; do
  case $s in
    suite) step suite run node --test --test-concurrency=1 dist/test/gpu/*.test.js ;;
    bench) step bench run node bin/tandem.js bench --out "$OUT/bench" ;;
    jobs) step jobs run node bin/tandem.js bench --jobs --out "$OUT/jobs" ;;
    breakdown)
      step breakdown env OUT="$OUT" bash .gpu-host/run.sh node dist/bench/jobs-breakdown.js
      mkdir -p "$OUT/breakdown-64"
      step breakdown-64 env OUT="$OUT/breakdown-64" bash .gpu-host/run.sh node dist/bench/jobs-breakdown.js \
        --chunk-mib 64 --chunks 8 --jobs 50 --warm-up 50
      ;;
    soak) step soak env OUT="$OUT" bash .gpu-host/run.sh node --expose-gc dist/bench/jobs-soak.js ;;
    worker)
      step worker env OUT="$OUT" TANDEM_REDIS_SERVER="$PWD/.gpu-host/redis/redis-server" \
        bash .gpu-host/run.sh node dist/bench/worker-overhead.js --jobs 10
      ;;
    *) echo "unknown step '$s' (suite bench jobs soak worker breakdown)" >&2 ;;
  esac
done

echo "== steps"
printf '%s\n' "${summary[@]}"
[ -f "$OUT/suite.log" ] && grep -E '^# (pass|fail|skipped)|^not ok' "$OUT/suite.log"
[ -f "$OUT/bench.log" ] && echo "== bench" && tail -21 "$OUT/bench.log" | cut -c1-150
[ -f "$OUT/jobs.log" ] && echo "== jobs" && tail -14 "$OUT/jobs.log"
[ -f "$OUT/breakdown.log" ] && echo "== breakdown" && grep -v '^    chunk' "$OUT/breakdown.log"
[ -f "$OUT/breakdown-64.log" ] && echo "== breakdown 8 x 64 MiB" && grep -v '^    chunk' "$OUT/breakdown-64.log"
[ -f "$OUT/soak.log" ] && echo "== soak" && tail -6 "$OUT/soak.log"
[ -f "$OUT/worker.log" ] && echo "== worker" && tail -8 "$OUT/worker.log"
exit 0
