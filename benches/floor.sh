#!/usr/bin/env bash
# How close to the floor is molotov, and where is the floor? Static GET, 50 connections, one
# nginx worker pinned to the target CPU, every load pinned to the load CPU, run alternately
# round after round:
#   wrk           wrk -t1 -c50 (the peer of target 1)
#   molotov       molotov -p 1 -w 50 (the product, defaults)
#   glommio       examples/transport_floor unbuffered + COOP_TASKRUN (glommio alone, molotov's
#                 read path, no HTTP client, interpreter or stats)
#   epoll         examples/transport_floor epoll + COOP_TASKRUN (glommio's executor, readiness
#                 from one edge-triggered epoll per executor instead of a POLL_ADD per read)
#   uring         examples/uring_floor defer (no runtime: one raw io_uring, SEND linked to
#                 RECV with POLL_FIRST, fixed files, DEFER_TASKRUN)
# CPU is user+sys of each tool's whole process tree (GNU time). Prints each run, then per tool
# the CPU-µs per request (median) and req/CPU-s relative to wrk's in the same round
# (min / median / max).
#
#   cargo build --release && cargo build --release -p molotov-benches --example transport_floor --example uring_floor
#   benches/floor.sh [ROUNDS] [SECONDS]
#
# Environment: BIN (default target/release), LOAD_CPU (0), TARGET_CPU (1), PORT (18094).
set -euo pipefail
rounds=${1:-7}
seconds=${2:-3}
bin=${BIN:-target/release}
load_cpu=${LOAD_CPU:-0}
target_cpu=${TARGET_CPU:-1}
port=${PORT:-18094}
for tool in wrk nginx /usr/bin/time "$bin/molotov" "$bin/examples/transport_floor" "$bin/examples/uring_floor"; do
  command -v "$tool" > /dev/null || { echo "floor.sh: $tool is missing" >&2; exit 2; }
done
# shellcheck source=benches/one-nginx.sh
source "$(dirname "$0")/one-nginx.sh"
addr=127.0.0.1:$port
tools=(wrk molotov glommio epoll uring)

run() {
  case $1 in
    wrk) wrk -t1 -c50 -d"${seconds}s" "http://$addr/" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' ;;
    molotov) "$bin/molotov" -q -p 1 -w 50 -d "${seconds}s" "$dir/plan.mol" |
      sed -n 's/^Requests: \([0-9,]*\) .*/\1/p' | tr -d , ;;
    glommio) "$bin/examples/transport_floor" "$addr" 50 "$seconds" unbuffered "$load_cpu" coop |
      sed -n 's/.* requests=\([0-9]*\) .*/\1/p' ;;
    epoll) "$bin/examples/transport_floor" "$addr" 50 "$seconds" epoll "$load_cpu" coop |
      sed -n 's/.* requests=\([0-9]*\) .*/\1/p' ;;
    uring) "$bin/examples/uring_floor" "$addr" 50 "$seconds" defer |
      sed -n 's/.* requests=\([0-9]*\) .*/\1/p' ;;
  esac
}

# The child shell that GNU time starts runs `run` with these.
export -f run
export bin dir addr seconds load_cpu
# shellcheck source=benches/alternate.sh
source "$(dirname "$0")/alternate.sh"
alternate_rounds floor.sh
echo "per tool: CPU-µs per request, median; req/CPU-s relative to wrk's in the same round (min / median / max):"
for i in "${!tools[@]}"; do
  awk -v i="$i" -v name="${tools[$i]}" -v refname=wrk -f "$(dirname "$0")/per-round-summary.awk" "$results"
done
