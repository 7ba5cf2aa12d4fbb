#!/usr/bin/env bash
# The open model (`--rate`) against one nginx worker, two measurements:
#
#   benches/open-model.sh schedule ROUNDS A B
#       molotov builds A and B alternately (e.g. an older checkout's binary and this one), in
#       set-ups where the generator itself can make starts late: many idle workers
#       (-w 2000 and -w 10000 at 1,000 starts/s) and a start right after the fork (-p 2
#       -w 3000 --rate 4000 -d 20ms: 80 arrivals, all inside the processes' start-up). Prints,
#       per run, requests sent, connections opened, late starts, the worst lateness and the
#       latency p50/p99 (from the intended start) from the JSON report.
#   benches/open-model.sh cpu ROUNDS A B RATE...
#       CPU per request at fixed rates, 50 connections, 5 s: molotov A, molotov B and
#       `oha -q RATE` (the one peer installed here with a request-rate option; wrk has none),
#       each alone on LOAD_CPU. A and B may be the same binary twice, or a build against a
#       patched glommio (benches/glommio-timers.sh leaves one in
#       /tmp/molotov-glommio-patched/target/release/molotov).
#   benches/open-model.sh window ROUNDS BIN RATE...
#       What early starts buy: molotov BIN with exact starts (`--max-early 0`), with the
#       defaults (`--max-early 1ms --early-batch 8`) and with no bound on the batch
#       (`--early-batch 1000000`: every arrival due within 1 ms), and `oha -q RATE
#       --latency-correction`, alternated, 50 connections, 5 s each: CPU per request, latency
#       p50/p99 from the intended start, early and late starts; then the median of each.
#
# Environment: LOAD_CPU (0), TARGET_CPU (1), PORT (18097). Needs nginx, python3, GNU time,
# and oha for `cpu`. Latest figures: benches/RESULTS.md, "The open model".
set -euo pipefail
mode=${1:?usage: open-model.sh schedule|cpu ROUNDS A B [RATE...] | window ROUNDS BIN RATE...}
rounds=${2:?rounds}
a=${3:?binary A}
if [ "$mode" = window ]; then
  b=$a
  shift 3
else
  b=${4:?binary B}
  shift 4
fi
load_cpu=${LOAD_CPU:-0}
target_cpu=${TARGET_CPU:-1}
port=${PORT:-18097}
for tool in nginx python3 /usr/bin/time "$a" "$b"; do
  command -v "$tool" > /dev/null || { echo "open-model.sh: $tool not found" >&2; exit 2; }
done
# shellcheck source=benches/one-nginx.sh
source "$(dirname "$0")/one-nginx.sh"

# The figures of a molotov JSON report: label, args, requests, connections, schedule, latency.
summary() {
  python3 - "$@" << 'PY'
import json, sys
label, args, path = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(path))
t, s, l = r["totals"], r["schedule"], r["latency_us"]
print(f"{label:2} {args:36} requests {t['requests']:6} connections {t['connections']:5} "
      f"late {s['late_starts']:5} late_max_ms {s['late_max_us'] / 1000:6.2f} "
      f"p50_ms {l['p50'] / 1000:6.3f} p99_ms {l['p99'] / 1000:6.3f}")
PY
}

case $mode in
  schedule)
    for _ in $(seq "$rounds"); do
      for args in "-p 1 -w 2000 --rate 1000 -d 2" "-p 2 -w 3000 --rate 4000 -d 20ms" \
        "-p 1 -w 10000 --rate 1000 -d 2"; do
        for label in A B; do
          bin=$a; [ "$label" = B ] && bin=$b
          # shellcheck disable=SC2086 # the set-up's flags are meant to split
          "$bin" -q $args --json "$dir/r.json" "$dir/plan.mol" > /dev/null
          summary "$label" "$args" "$dir/r.json"
        done
      done
    done
    ;;
  cpu)
    [ $# -gt 0 ] || { echo "open-model.sh cpu: give at least one RATE" >&2; exit 2; }
    command -v oha > /dev/null || { echo "open-model.sh: oha not found" >&2; exit 2; }
    for _ in $(seq "$rounds"); do
      for rate in "$@"; do
        for label in A B oha; do
          if [ "$label" = oha ]; then
            /usr/bin/time -f "%U %S" -o "$dir/time" taskset -c "$load_cpu" \
              oha --no-tui --output-format json -c 50 -q "$rate" -z 5s "http://127.0.0.1:$port/" > "$dir/oha.json"
            n=$(python3 -c "import json,sys; print(sum(json.load(open(sys.argv[1]))['statusCodeDistribution'].values()))" "$dir/oha.json")
          else
            bin=$a; [ "$label" = B ] && bin=$b
            /usr/bin/time -f "%U %S" -o "$dir/time" taskset -c "$load_cpu" \
              "$bin" -q -p 1 -w 50 --rate "$rate" -d 5 --json "$dir/r.json" "$dir/plan.mol" > /dev/null
            n=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['totals']['requests'])" "$dir/r.json")
          fi
          read -r user sys < "$dir/time"
          awk -v l="$label" -v r="$rate" -v n="$n" -v u="$user" -v s="$sys" 'BEGIN {
            printf "%-4s rate %6d requests %7d cpu %.2fu+%.2fs %7.2f CPU-µs/req\n", l, r, n, u, s, (u + s) * 1e6 / n }'
        done
      done
    done
    ;;
  window)
    [ $# -gt 0 ] || { echo "open-model.sh window: give at least one RATE" >&2; exit 2; }
    command -v oha > /dev/null || { echo "open-model.sh: oha not found" >&2; exit 2; }
    for _ in $(seq "$rounds"); do
      for rate in "$@"; do
        for label in exact default unbounded oha; do
          if [ "$label" = oha ]; then
            /usr/bin/time -f "%U %S" -o "$dir/time" taskset -c "$load_cpu" \
              oha --no-tui --output-format json -c 50 -q "$rate" -z 5s --latency-correction \
              "http://127.0.0.1:$port/" > "$dir/out.json"
          else
            case $label in
              exact) early=(--max-early 0) ;;
              default) early=() ;;
              unbounded) early=(--early-batch 1000000) ;;
            esac
            /usr/bin/time -f "%U %S" -o "$dir/time" taskset -c "$load_cpu" \
              "$a" -q -p 1 -w 50 --rate "$rate" -d 5 ${early[@]+"${early[@]}"} \
              --json "$dir/out.json" "$dir/plan.mol" > /dev/null
          fi
          python3 - "$label" "$rate" "$dir/time" "$dir/out.json" << 'PY'
import json, sys
label, rate, time_path, path = sys.argv[1:]
user, system = map(float, open(time_path).read().split()[-2:])
r = json.load(open(path))
if label == "oha":
    n = sum(r["statusCodeDistribution"].values())
    p50, p99 = (r["latencyPercentiles"][k] * 1000 for k in ("p50", "p99"))
    early = late = "-"
else:
    n = r["totals"]["requests"]
    p50, p99 = (r["latency_us"][k] / 1000 for k in ("p50", "p99"))
    early, late = r["schedule"]["early_starts"], r["schedule"]["late_starts"]
print(f"{label:9} rate {rate:>6} requests {n:7} {(user + system) * 1e6 / n:7.2f} CPU-µs/req "
      f"p50_ms {p50:6.3f} p99_ms {p99:7.3f} early {early} late {late}")
PY
        done
      done
    done | tee "$dir/lines"
    echo
    echo "medians over $rounds rounds (CPU-µs/req, p50 ms, p99 ms):"
    python3 - "$dir/lines" << 'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault((int(f[2]), f[0]), []).append((float(f[5]), float(f[8]), float(f[10])))
for (rate, label), v in sorted(rows.items(), key=lambda kv: (kv[0][0], ["exact", "default", "unbounded", "oha"].index(kv[0][1]))):
    cpu, p50, p99 = (statistics.median(x) for x in zip(*v))
    print(f"rate {rate:>6} {label:9} {cpu:7.2f} CPU-µs/req  p50 {p50:6.3f} ms  p99 {p99:7.3f} ms"
          f"  (CPU {min(x[0] for x in v):.2f}-{max(x[0] for x in v):.2f})")
PY
    ;;
  *)
    echo "open-model.sh: unknown mode $mode (schedule, cpu or window)" >&2
    exit 2
    ;;
esac
