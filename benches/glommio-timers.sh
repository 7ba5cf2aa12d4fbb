#!/usr/bin/env bash
# What glommio's per-pass timer churn costs molotov, measured against a glommio with the
# change proposed upstream (PATCH, default benches/glommio-patches/keep-timers.patch).
#
# glommio-ng 0.12, on every pass of its executor loop (`Reactor::wait`, called by `poll_io`
# before each run of the task queues and again by `park`), cancels its latency preemption
# timer and arms a new one (TIMEOUT + ASYNC_CANCEL on the latency ring) and replaces its
# throughput timer (TIMEOUT linked to an eventfd WRITE, + ASYNC_CANCEL on the main ring), then
# enters each ring to submit them. When every response wakes the executor on its own (few
# connections, or a slow server) that is paid per request.
#
# keep-timers.patch keeps every one of those timers until it fires: the throughput timer (it
# counts completions, so keeping it changes nothing else), the preemption timer, and the timer
# a sleep arms for a user timer (kept by the next sleep only when it is for the same user
# timer). It also fixes what stalled an earlier attempt at the latency half: glommio's loop
# parked, with tasks ready, when a preemption was pending before the first task ran
# (benches/RESULTS.md, "glommio's timers kept until they fire"). keep-throughput-timer.patch is
# the throughput half alone, the proposal before it.
#
# The script copies glommio-ng 0.12.0 from cargo's registry, applies the patch, builds molotov
# against it (a `--config patch` build into its own target folder: nothing in the repository
# changes), then runs alternately, round after round, with the load on LOAD_CPU:
#   c1    wrk -t1 -c1, molotov -w 1 and patched molotov -w 1 against one nginx worker
#   c50   the same at 50 connections (target 1's set-up)
#   slow  the same at 100 connections against molotov-target /slow (50 ms), as `compare` does
# CPU is user+sys of each tool's whole process tree (GNU time, 10 ms resolution: the slow runs
# use ~0.2 s, so their figures move in 5% steps). Prints each run, then per tool the median
# CPU-µs per request and req/CPU-s relative to wrk's in the same round (min / median / max).
#
#   cargo build --release
#   benches/glommio-timers.sh [ROUNDS] [SECONDS]
#
# Environment: PATCH (default benches/glommio-patches/keep-timers.patch), BIN (default
# target/release), PATCHED_TARGET (/tmp/molotov-glommio-patched), LOAD_CPU (0), TARGET_CPU (1),
# PORT (18095), SLOW_PORT (18096).
set -euo pipefail
# Since b08d180 molotov's load processes run on molotov-runtime, not glommio: a molotov built
# against a patched glommio-ng differs from the stock build only in its target server, so the
# A/B below would measure nothing. Run this script from a checkout of 9bb8f30 or earlier.
if ! grep -q '^glommio' "$(dirname "$0")/../core/Cargo.toml"; then
  echo "glommio-timers.sh: molotov no longer runs on glommio (see docs/benchmarks.md); check out 9bb8f30 to rerun this A/B" >&2
  exit 2
fi
rounds=${1:-5}
seconds=${2:-4}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${BIN:-$root/target/release}
patched_target=${PATCHED_TARGET:-/tmp/molotov-glommio-patched}
patch_file=$(realpath "${PATCH:-$here/glommio-patches/keep-timers.patch}")
load_cpu=${LOAD_CPU:-0}
target_cpu=${TARGET_CPU:-1}
port=${PORT:-18095}
slow_port=${SLOW_PORT:-18096}
for tool in wrk nginx patch /usr/bin/time "$bin/molotov" "$bin/molotov-target"; do
  command -v "$tool" > /dev/null || { echo "glommio-timers.sh: $tool is missing" >&2; exit 2; }
done

# glommio-ng as cargo fetched it for this workspace, patched in a copy.
registry_copy=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name 'glommio-ng-0.12.0' | head -1)
[ -n "$registry_copy" ] || { echo "glommio-timers.sh: glommio-ng 0.12.0 not in cargo's registry (run cargo fetch)" >&2; exit 2; }
patched_src="$patched_target/glommio-ng"
rm -rf "$patched_src"
mkdir -p "$patched_target"
cp -r "$registry_copy" "$patched_src"
patch -s -p1 -d "$patched_src" < "$patch_file"
# A copy of the workspace, so that the patched build's Cargo.lock stays out of the checkout.
workspace="$patched_target/workspace"
rm -rf "$workspace"
mkdir -p "$workspace"
(cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$workspace")
(cd "$workspace" && CARGO_TARGET_DIR="$patched_target/target" cargo build --release -q -p molotov \
  --config "patch.crates-io.glommio-ng.path=\"$patched_src\"")
patched="$patched_target/target/release/molotov"

# shellcheck source=benches/one-nginx.sh
source "$here/one-nginx.sh"
taskset -c "$target_cpu" "$bin/molotov-target" --addr "127.0.0.1:$slow_port" --cpus 1 > /dev/null 2>&1 &
target_pid=$!
trap 'kill "$(cat "$dir/nginx.pid")" "$target_pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 0.5
printf 'defaults {\n  base http://127.0.0.1:%s\n}\n\nscenario slow {\n  GET /slow\n}\n' "$slow_port" > "$dir/slow.mol"

tools=(wrk-c1 stock-c1 patched-c1 wrk-c50 stock-c50 patched-c50 wrk-slow stock-slow patched-slow)
run() {
  local molotov=$bin/molotov
  case $1 in patched-*) molotov=$patched ;; esac
  case $1 in
    wrk-c1) wrk -t1 -c1 -d"${seconds}s" "http://127.0.0.1:$port/" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' ;;
    wrk-c50) wrk -t1 -c50 -d"${seconds}s" "http://127.0.0.1:$port/" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' ;;
    wrk-slow) wrk -t1 -c100 -d"${seconds}s" "http://127.0.0.1:$slow_port/slow" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' ;;
    *-c1) "$molotov" -q -p 1 -w 1 -d "${seconds}s" "$dir/plan.mol" | sed -n 's/^Requests: \([0-9,]*\) .*/\1/p' | tr -d , ;;
    *-c50) "$molotov" -q -p 1 -w 50 -d "${seconds}s" "$dir/plan.mol" | sed -n 's/^Requests: \([0-9,]*\) .*/\1/p' | tr -d , ;;
    *-slow) "$molotov" -q -p 1 -w 100 -d "${seconds}s" "$dir/slow.mol" | sed -n 's/^Requests: \([0-9,]*\) .*/\1/p' | tr -d , ;;
  esac
}
export -f run
export bin patched dir port slow_port seconds
# shellcheck source=benches/alternate.sh
source "$here/alternate.sh"
alternate_rounds glommio-timers.sh 0.3
echo "per tool: CPU-µs per request, median; req/CPU-s relative to wrk's in the same round and set-up (min / median / max):"
for i in "${!tools[@]}"; do
  awk -v i="$i" -v ref=$((i / 3 * 3)) -v name="${tools[$i]}" -v refname=wrk \
    -f "$here/per-round-summary.awk" "$results"
done
