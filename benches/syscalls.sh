#!/usr/bin/env bash
# Syscalls per request, by name, for wrk and molotov on the static GET at 50 connections
# (one nginx worker pinned to the target CPU, the load pinned to the load CPU). strace slows
# both tools down a lot, so only the counts per request mean anything here, not the rates.
# (Operations that molotov hands to its io_uring are not syscalls: they show as part of
# io_uring_enter.)
#
#   cargo build --release -p molotov && benches/syscalls.sh [SECONDS]
#
# Environment: BIN (default target/release), LOAD_CPU (0), TARGET_CPU (1), PORT (18095).
set -euo pipefail
seconds=${1:-3}
bin=${BIN:-target/release}
load_cpu=${LOAD_CPU:-0}
target_cpu=${TARGET_CPU:-1}
port=${PORT:-18095}
for tool in wrk nginx strace "$bin/molotov"; do
  command -v "$tool" > /dev/null || { echo "syscalls.sh: $tool is missing" >&2; exit 2; }
done
# shellcheck source=benches/one-nginx.sh
source "$(dirname "$0")/one-nginx.sh"
# Prints "name calls per-request" for every syscall made at least 0.01 times per request.
per_request() {
  # strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall.
  awk -v n="$2" '$1 ~ /^[0-9.]+$/ && $NF != "total" && $4 / n >= 0.01 {
      printf "  %-20s %10d %8.2f per request\n", $NF, $4, $4 / n }' "$1"
}
strace -f -c -o "$dir/wrk.strace" taskset -c "$load_cpu" wrk -t1 -c50 -d"${seconds}s" "http://127.0.0.1:$port/" > "$dir/wrk.out"
wrk_requests=$(awk '/requests in/ {print $1}' "$dir/wrk.out")
echo "wrk -t1 -c50: $wrk_requests requests"
per_request "$dir/wrk.strace" "$wrk_requests"
strace -f -c -o "$dir/molotov.strace" taskset -c "$load_cpu" "$bin/molotov" -p 1 -w 50 -d "${seconds}s" --json "$dir/molotov.json" "$dir/plan.mol" > /dev/null
molotov_requests=$(grep -o '"requests": *[0-9]*' "$dir/molotov.json" | head -1 | grep -o '[0-9]*$')
echo "molotov -p 1 -w 50: $molotov_requests requests"
per_request "$dir/molotov.strace" "$molotov_requests"
