#!/usr/bin/env bash
# A/B of molotov's executor knobs on the static GET: variants of molotov's flags run
# alternately, round after round, against one nginx worker pinned to the target CPU, the load
# pinned to the load CPU; prints req/CPU-s (user+sys of molotov's whole process tree, from
# /usr/bin/time), requests, p50 and p99 per run and, per variant, the median ratio of req/CPU-s
# to the first variant over the rounds, with the variant's median requests, p50 and p99 (a
# knob that trades latency for CPU shows both). Needs nginx (Debian package), GNU time and
# python3.
#
#   benches/knob-ab.sh [ROUNDS] [SECONDS] -- "" "--ring-depth 32" "--ring-depth 1024"
#
# The empty variant is molotov's defaults. Environment: BIN (default target/release),
# LOAD_CPU (0), TARGET_CPU (1), WORKERS (50), PORT (18093).
set -euo pipefail
rounds=${1:-5}
seconds=${2:-4}
shift 2 || true
[ "${1:-}" = "--" ] && shift
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=("")
bin=${BIN:-target/release}
load_cpu=${LOAD_CPU:-0}
target_cpu=${TARGET_CPU:-1}
workers=${WORKERS:-50}
port=${PORT:-18093}
# shellcheck source=benches/one-nginx.sh
source "$(dirname "$0")/one-nginx.sh"

results="$dir/results"
: > "$results"
for round in $(seq 1 "$rounds"); do
  for i in "${!variants[@]}"; do
    variant=${variants[$i]}
    # shellcheck disable=SC2086
    /usr/bin/time -f "%U %S" -o "$dir/time" taskset -c "$load_cpu" "$bin/molotov" -q \
      -p 1 -w "$workers" -d "${seconds}s" --seed 1 $variant --json "$dir/report.json" \
      "$dir/plan.mol" > "$dir/report"
    read -r requests p50 p99 < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
latency = r["latency_us"] or {}
print(r["totals"]["requests"], latency.get("p50", 0), latency.get("p99", 0))' "$dir/report.json")
    read -r user sys < "$dir/time"
    rate=$(awk -v r="$requests" -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", r / (u + s) }')
    printf 'round %d  %-24s %9d requests  cpu %5.2fu+%5.2fs  %8d req/CPU-s  p50 %6d µs  p99 %6d µs\n' \
      "$round" "${variant:-(defaults)}" "$requests" "$user" "$sys" "$rate" "$p50" "$p99"
    echo "$round $i $rate $requests $p50 $p99" >> "$results"
  done
done
echo "median over rounds of req/CPU-s relative to ${variants[0]:-(defaults)} (min / median / max),"
echo "and the variant's median requests, p50 and p99:"
for i in "${!variants[@]}"; do
  ratios=$(awk -v i="$i" '
    { rate[$1, $2] = $3; if ($1 > n) n = $1 }
    END { for (r = 1; r <= n; r++) printf "%.3f\n", rate[r, i] / rate[r, 0] }' "$results" | sort -n)
  count=$(echo "$ratios" | wc -l)
  median=$(echo "$ratios" | awk -v n="$count" '{ v[NR] = $1 } END { print (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }')
  medians=$(awk -v i="$i" '$2 == i { print $4, $5, $6 }' "$results" | python3 -c '
import statistics, sys
rows = [list(map(float, line.split())) for line in sys.stdin]
print("%9d requests  p50 %6d µs  p99 %6d µs" % tuple(statistics.median(c) for c in zip(*rows)))')
  printf '  %-24s %s / %s / %s  %s\n' "${variants[$i]:-(defaults)}" "$(echo "$ratios" | head -1)" \
    "$median" "$(echo "$ratios" | tail -1)" "$medians"
done
