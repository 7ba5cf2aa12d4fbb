#!/usr/bin/env bash
# A/B of molotov's executor knobs on the static GET: variants of molotov's flags run
# alternately, round after round, against one nginx worker pinned to the target CPU, the load
# pinned to the load CPU; prints req/CPU-s (user+sys of molotov's whole process tree, from
# /usr/bin/time) per run and, per variant, the median ratio to the first variant over the
# rounds. Needs nginx (Debian package) and GNU time.
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
      -p 1 -w "$workers" -d "${seconds}s" --seed 1 $variant "$dir/plan.mol" > "$dir/report"
    requests=$(sed -n 's/^Requests: \([0-9,]*\) .*/\1/p' "$dir/report" | tr -d ,)
    read -r user sys < "$dir/time"
    rate=$(awk -v r="$requests" -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", r / (u + s) }')
    printf 'round %d  %-24s %9d requests  cpu %5.2fu+%5.2fs  %8d req/CPU-s\n' \
      "$round" "${variant:-(defaults)}" "$requests" "$user" "$sys" "$rate"
    echo "$round $i $rate" >> "$results"
  done
done
echo "median over rounds of req/CPU-s relative to ${variants[0]:-(defaults)} (min / median / max):"
for i in "${!variants[@]}"; do
  ratios=$(awk -v i="$i" '
    { rate[$1, $2] = $3; if ($1 > n) n = $1 }
    END { for (r = 1; r <= n; r++) printf "%.3f\n", rate[r, i] / rate[r, 0] }' "$results" | sort -n)
  count=$(echo "$ratios" | wc -l)
  median=$(echo "$ratios" | awk -v n="$count" '{ v[NR] = $1 } END { print (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }')
  printf '  %-24s %s / %s / %s\n' "${variants[$i]:-(defaults)}" "$(echo "$ratios" | head -1)" "$median" "$(echo "$ratios" | tail -1)"
done
