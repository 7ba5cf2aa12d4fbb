#!/usr/bin/env bash
# Two molotov builds side by side, with wrk as the yardstick: static GET on CONNS connections,
# one nginx worker pinned to the target CPU, every load pinned to the load CPU; wrk, build A
# and build B run alternately, round after round. CPU is user+sys of each process tree (GNU
# time). Prints each run, per tool the CPU-µs per request (median, and its user part) and
# req/CPU-s relative to wrk's in the same round, then B relative to A (min / median / max).
#
#   benches/build-ab.sh ROUNDS SECONDS BIN_A BIN_B
#
# BIN_A and BIN_B are molotov binaries (e.g. target/release/molotov copied aside before and
# after a change; the same binary twice measures molotov against wrk at CONNS connections,
# with A against B as the noise floor). Environment: CONNS (50), LOAD_CPU (0), TARGET_CPU (1),
# PORT (18096); PLAN=file runs that plan through both builds instead of the static GET (it is
# given the nginx as TARGET; wrk still sends its plain GET), and NGINX_EXTRA (see
# one-nginx.sh) changes what nginx answers.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 ROUNDS SECONDS BIN_A BIN_B" >&2; exit 2; }
rounds=$1
seconds=$2
bin_a=$(realpath "$3")
bin_b=$(realpath "$4")
load_cpu=${LOAD_CPU:-0}
target_cpu=${TARGET_CPU:-1}
port=${PORT:-18096}
conns=${CONNS:-50}
for tool in wrk nginx /usr/bin/time "$bin_a" "$bin_b"; do
  command -v "$tool" > /dev/null || { echo "build-ab.sh: $tool is missing" >&2; exit 2; }
done
# shellcheck source=benches/one-nginx.sh
source "$(dirname "$0")/one-nginx.sh"
addr=127.0.0.1:$port
plan=$dir/plan.mol
if [ -n "${PLAN:-}" ]; then
  plan=$(realpath "$PLAN")
  export TARGET=http://$addr
fi
tools=(wrk A B)

run() {
  case $1 in
    wrk) wrk -t1 -c"$conns" -d"${seconds}s" "http://$addr/" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' ;;
    A | B)
      local bin=$bin_a
      [ "$1" = B ] && bin=$bin_b
      "$bin" -q -p 1 -w "$conns" -d "${seconds}s" "$plan" |
        sed -n 's/^Requests: \([0-9,]*\) .*/\1/p' | tr -d , ;;
  esac
}

export -f run
export bin_a bin_b dir addr seconds load_cpu conns plan
# shellcheck source=benches/alternate.sh
source "$(dirname "$0")/alternate.sh"
echo "A = $bin_a, B = $bin_b, $conns connections"
alternate_rounds build-ab.sh
echo "per tool: CPU-µs per request, median; req/CPU-s relative to wrk's in the same round (min / median / max):"
for i in "${!tools[@]}"; do
  awk -v i="$i" -v name="${tools[$i]}" -v refname=wrk -f "$(dirname "$0")/per-round-summary.awk" "$results"
done
echo "B against A, same round:"
awk -v i=2 -v ref=1 -v name=B -v refname=A -f "$(dirname "$0")/per-round-summary.awk" "$results"
