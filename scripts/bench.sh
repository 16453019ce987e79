#!/usr/bin/env bash
# `make bench`: Airlock beside Verdaccio and nginx in one run of the shared harness (bench/).
# Installs what is missing (wrk, nginx-light, Verdaccio 6.8.0), builds the corpus once, and
# prints the markdown table; the JSON and markdown land in bench/results/.
# BENCH_ONLY=label,label picks targets (default: airlock,verdaccio,nginx-static);
# AIRLOCK_BEFORE_BIN=<airlock of another checkout> adds the "airlock-before" target;
# BENCH_ARGS overrides the run options (default: the reference run's).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/airlock-bench}
mkdir -p "$WORK" "$ROOT/bench/results"

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
[ -x /tmp/verdaccio-bench/node_modules/.bin/verdaccio ] || sh "$ROOT/bench/verdaccio/install.sh"
[ -f "$WORK/corpus/corpus.json" ] || python3 "$ROOT/bench/corpus.py" --out "$WORK/corpus"

only=${BENCH_ONLY:-airlock,verdaccio,nginx-static}
if [ -n "${AIRLOCK_BEFORE_BIN:-}" ] && [ -z "${BENCH_ONLY:-}" ]; then
  only="airlock-before,$only"
fi
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
stamp=$(date -u +%Y-%m-%dT%H%M)
data="$WORK/data"
rm -rf "$data" && mkdir -p "$data"
export AIRLOCK_BIN="$ROOT/.venv/bin/airlock" AIRLOCK_BENCH_DATA="$data" AIRLOCK_REV="$rev"
# shellcheck disable=SC2086 # BENCH_ARGS is a list of options
python3 "$ROOT/bench/bench.py" run --targets "$ROOT/bench/targets.airlock.json" --only "$only" \
  --corpus "$WORK/corpus" --workdir "$WORK/work" \
  ${BENCH_ARGS:---concurrency 64 --duration 10 --warmup 3 --reps 2 --publish-reps 1 --install-runs 3} \
  --out "$ROOT/bench/results/airlock-$rev-$stamp.json" --md "$ROOT/bench/results/airlock-$rev-$stamp.md"
cat "$ROOT/bench/results/airlock-$rev-$stamp.md"
