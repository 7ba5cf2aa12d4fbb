#!/usr/bin/env bash
# User-space instructions per request of molotov (callgrind: exact and repeatable, unlike CPU
# time on a shared machine), static GET of one nginx worker at 50 workers: two bounded runs
# (-r R1 and -r R2 scenario runs per worker), the load process's instruction count of each,
# and the difference divided by the extra requests (start-up and shutdown cancel out).
# Needs valgrind and nginx (Debian packages).
#
#   cargo build --release -p molotov && benches/instructions.sh [R1] [R2]
#
# Environment: BIN (default target/release), TARGET_CPU (1), PORT (18098), WORKERS (50),
# NGINX_EXTRA (nginx directives for the location) and PLAN_DEFAULTS (lines of the generated
# plan's `defaults` block), see one-nginx.sh; PLAN (a plan file instead of the generated
# static GET, e.g. benches/plans/plan.mol: it is given the nginx as TARGET); FLAGS (more of
# molotov's flags, e.g. FLAGS=--multishot-recv).
set -euo pipefail
short=${1:-200}
long=${2:-600}
bin=${BIN:-target/release}
target_cpu=${TARGET_CPU:-1}
port=${PORT:-18098}
workers=${WORKERS:-50}
for tool in valgrind nginx "$bin/molotov"; do
  command -v "$tool" > /dev/null || { echo "instructions.sh: $tool is missing" >&2; exit 2; }
done
[ "$long" -gt "$short" ] || { echo "instructions.sh: R2 must be larger than R1" >&2; exit 2; }
molotov=$(realpath "$bin/molotov")
# shellcheck source=benches/one-nginx.sh
source "$(dirname "$0")/one-nginx.sh"
plan=$dir/plan.mol
if [ -n "${PLAN:-}" ]; then
  plan=$(realpath "$PLAN")
  export TARGET=http://127.0.0.1:$port
fi
# shellcheck disable=SC2086 # FLAGS is split into flags on purpose.
# The instructions of the load process (the child molotov forks, the one with most).
count() {
  valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$dir/cg.$1.%p" \
    "$molotov" -p 1 -w "$workers" -r "$1" -q ${FLAGS:-} "$plan" > /dev/null 2>&1
  for file in "$dir"/cg."$1".*; do
    awk '/^(summary|totals):/ {print $2; exit}' "$file"
  done | sort -n | tail -1
}
a=$(count "$short")
b=$(count "$long")
requests=$(( (long - short) * workers ))
echo "molotov -p 1 -w $workers: $a instructions at -r $short, $b at -r $long"
awk -v a="$a" -v b="$b" -v n="$requests" 'BEGIN { printf "user-space instructions per request: %.0f\n", (b - a) / n }'
