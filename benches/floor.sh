#!/usr/bin/env bash
# How close to the floor is molotov, and where is the floor? Static GET, 50 connections, one
# nginx worker pinned to the target CPU, every load pinned to the load CPU, run alternately
# round after round:
#   wrk           wrk -t1 -c50 (the peer of target 1)
#   molotov       molotov -p 1 -w 50 (the product, defaults)
#   molotov-recv  molotov -p 1 -w 50 --multishot-recv (reads through multishot receives)
#   glommio       examples/transport_floor unbuffered + COOP_TASKRUN (glommio alone, molotov's
#                 read path, no HTTP client, interpreter or stats)
#   epoll         examples/transport_floor epoll + COOP_TASKRUN (glommio's executor, readiness
#                 from one edge-triggered epoll per executor instead of a POLL_ADD per read)
#   uring         examples/uring_floor defer (no runtime: one raw io_uring, SEND linked to
#                 RECV with POLL_FIRST, fixed files, DEFER_TASKRUN)
#   ms-recv       examples/uring_multishot recv (one raw io_uring: a SEND per request, one
#                 multishot RECV per connection with provided buffers)
#   ms-recv-sys   examples/uring_multishot recv-sys (the same receives, send(2) for the request)
#   ms-poll       examples/uring_multishot poll (one multishot POLL_ADD per connection, send(2)
#                 and recv(2) as molotov does)
#   async-poll    examples/async_floor poll (the glommio floor's loop, the same code, on the
#                 smallest async runtime over one raw io_uring: a one-shot POLL_ADD, then
#                 recv(2); send(2) for the request)
#   async-mspoll  examples/async_floor mspoll (one multishot POLL_ADD per connection instead)
#   async-recv    examples/async_floor recv (a RECV with POLL_FIRST into the connection's
#                 buffer)
#   (the ms- and async- modes and uring build their ring with DEFER_TASKRUN; with a -coop
#   suffix, e.g. ms-poll-coop, async-poll-coop or uring-coop, with COOP_TASKRUN as molotov's
#   rings are built)
# CPU is user+sys of each tool's whole process tree (GNU time). Prints each run, then per tool
# the CPU-µs per request (median) and req/CPU-s relative to wrk's in the same round
# (min / median / max).
#
#   cargo build --release && cargo build --release -p molotov-benches --example transport_floor --example uring_floor --example uring_multishot --example async_floor
#   benches/floor.sh [ROUNDS] [SECONDS]
#
# Environment: BIN (default target/release), LOAD_CPU (0), TARGET_CPU (1), PORT (18094),
# TOOLS (the tools to run, in order, space-separated; default all of the above but the -coop
# variants; wrk first, as the others are compared with it).
set -euo pipefail
rounds=${1:-7}
seconds=${2:-3}
bin=${BIN:-target/release}
load_cpu=${LOAD_CPU:-0}
target_cpu=${TARGET_CPU:-1}
port=${PORT:-18094}
for tool in wrk nginx /usr/bin/time "$bin/molotov" "$bin/examples/transport_floor" "$bin/examples/uring_floor" "$bin/examples/uring_multishot" "$bin/examples/async_floor"; do
  command -v "$tool" > /dev/null || { echo "floor.sh: $tool is missing" >&2; exit 2; }
done
# shellcheck source=benches/one-nginx.sh
source "$(dirname "$0")/one-nginx.sh"
addr=127.0.0.1:$port
read -r -a tools <<< "${TOOLS:-wrk molotov molotov-recv glommio epoll uring ms-recv ms-recv-sys ms-poll async-poll async-mspoll async-recv}"
[ "${tools[0]}" = wrk ] || { echo "floor.sh: TOOLS must start with wrk" >&2; exit 2; }
for tool in "${tools[@]}"; do
  case $tool in
    wrk | molotov | molotov-recv | glommio | epoll | uring | uring-coop | ms-recv | ms-recv-sys | ms-poll | \
      ms-recv-coop | ms-recv-sys-coop | ms-poll-coop | async-poll | async-mspoll | async-recv | \
      async-poll-coop | async-mspoll-coop | async-recv-coop) ;;
    *) echo "floor.sh: unknown tool $tool in TOOLS" >&2; exit 2 ;;
  esac
done

run() {
  case $1 in
    wrk) wrk -t1 -c50 -d"${seconds}s" "http://$addr/" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' ;;
    molotov) "$bin/molotov" -q -p 1 -w 50 -d "${seconds}s" "$dir/plan.mol" |
      sed -n 's/^Requests: \([0-9,]*\) .*/\1/p' | tr -d , ;;
    molotov-recv) "$bin/molotov" -q -p 1 -w 50 -d "${seconds}s" --multishot-recv "$dir/plan.mol" |
      sed -n 's/^Requests: \([0-9,]*\) .*/\1/p' | tr -d , ;;
    glommio) "$bin/examples/transport_floor" "$addr" 50 "$seconds" unbuffered "$load_cpu" coop |
      sed -n 's/.* requests=\([0-9]*\) .*/\1/p' ;;
    epoll) "$bin/examples/transport_floor" "$addr" 50 "$seconds" epoll "$load_cpu" coop |
      sed -n 's/.* requests=\([0-9]*\) .*/\1/p' ;;
    uring | uring-coop)
      local setup=defer
      [ "$1" = uring-coop ] && setup=coop
      "$bin/examples/uring_floor" "$addr" 50 "$seconds" "$setup" |
        sed -n 's/.* requests=\([0-9]*\) .*/\1/p' ;;
    ms-recv | ms-recv-sys | ms-poll | ms-recv-coop | ms-recv-sys-coop | ms-poll-coop)
      local mode=${1#ms-} setup=defer
      [ "${mode%-coop}" != "$mode" ] && { mode=${mode%-coop}; setup=coop; }
      "$bin/examples/uring_multishot" "$addr" 50 "$seconds" "$mode" "$setup" |
        sed -n 's/.* requests=\([0-9]*\) .*/\1/p' ;;
    async-*)
      local mode=${1#async-} setup=defer
      [ "${mode%-coop}" != "$mode" ] && { mode=${mode%-coop}; setup=coop; }
      "$bin/examples/async_floor" "$addr" 50 "$seconds" "$mode" "$setup" |
        sed -n 's/.* requests=\([0-9]*\) .*/\1/p' ;;
    *) echo "floor.sh: unknown tool $1" >&2; exit 2 ;;
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
