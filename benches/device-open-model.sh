#!/bin/bash
# Runs on the 16-core device machine from the folder benches/pack-device lays out (as
# open-model.sh): the open model on 8 CPUs against nginx with 8 workers on CPUs 8-15, molotov
# (`-p 8 -w 100 --rate R -d 3`), the same with `--max-early 0` (molotov-exact: a wake-up per
# arrival, as before `--max-early`), molotov-b when pack-device was given MOLOTOV_B, and
# `oha -q R -c 800 -z 3s --latency-correction` (tokio, one thread per allowed CPU) when oha was
# laid out, alternated, ROUNDS rounds over RATES. Per run: requests, the rate achieved,
# CPU (user + sys of the process tree, bash's `time`) per request, latency p50/p99 from the
# intended start (both tools correct for coordinated omission), and molotov's schedule: early
# and late starts (and the worst), started, dropped, missed and due (started + dropped +
# missed).
# Output: $OUT/open-model-peers.txt.
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}
ROUNDS=${ROUNDS:-2}
RATES=${RATES:-200000 400000 600000}
mkdir -p "$OUT"
om=/tmp/mc-open-peers && rm -rf "$om" && mkdir -p "$om/body" "$om/proxy" "$om/fastcgi" "$om/uwsgi" "$om/scgi"
sed -e "s|@WORKERS@|8|; s|@AFFINITY@|1111111100000000|; s|@DIR@|$om|g; s|@PORT@|18098|" "$D/nginx.conf" > "$om/nginx.conf"
taskset -c 8-15 "$D/nginx" -p "$om" -e "$om/error.log" -c "$om/nginx.conf"; sleep 0.5
printf 'defaults {\n  base http://127.0.0.1:18098\n}\n\nscenario get {\n  GET /\n}\n' > "$om/plan.mol"
tools="molotov molotov-exact"
[ -x "$D/molotov-b" ] && tools="$tools molotov-b"
[ -x "$D/oha" ] && tools="$tools oha"
TIMEFORMAT='%U %S'
for round in $(seq "$ROUNDS"); do
  for rate in $RATES; do
    for tool in $tools; do
      if [ "$tool" = oha ]; then
        cpu=$( { time timeout 30 taskset -c 0-7 "$D/oha" --no-tui --output-format json -c 800 -q "$rate" -z 3s \
          --latency-correction "http://127.0.0.1:18098/" > "$om/oha.json" 2>"$om/err"; } 2>&1 )
        report=$om/oha.json
      else
        bin=$tool extra=()
        [ "$tool" = molotov-exact ] && bin=molotov extra=(--max-early 0)
        cpu=$( { time timeout 30 taskset -c 0-7 "$D/$bin" -q -p 8 -w 100 --rate "$rate" -d 3 ${extra[@]+"${extra[@]}"} \
          --json "$om/r.json" "$om/plan.mol" > /dev/null 2>"$om/err"; } 2>&1 )
        report=$om/r.json
      fi
      python3 - "$report" "$tool" "$rate" "$round" "$cpu" <<'PY' | tee -a "$OUT/open-model-peers.txt"
import json, sys
path, tool, rate, rnd, cpu = sys.argv[1:6]
u, k = map(float, cpu.split())
try:
    r = json.load(open(path))
except Exception as e:  # a run that wrote no report is shown, not skipped
    print(f"round {rnd} {tool:13} rate {rate:>7}: no report ({e})")
    sys.exit()
if tool == "oha":
    n = sum(r["statusCodeDistribution"].values())
    errors = sum(r["errorDistribution"].values())
    secs = r["summary"]["total"]
    p50, p99 = r["latencyPercentiles"]["p50"] * 1e3, r["latencyPercentiles"]["p99"] * 1e3
    extra = f"errors {errors}"
else:
    t, s, l = r["totals"], r["schedule"], r["latency_us"]
    n, secs = t["requests"], 3.0
    p50, p99 = l["p50"] / 1e3, l["p99"] / 1e3
    due = s["started_runs"] + s["dropped_starts"] + s["missed_starts"]
    extra = (f"early {s.get('early_starts', 0)} late {s['late_starts']} (worst {s['late_max_us'] / 1e3:.2f} ms) started {s['started_runs']} "
             f"dropped {s['dropped_starts']} missed {s['missed_starts']} due {due}")
print(f"round {rnd} {tool:13} rate {rate:>7}: requests {n:8} ({n / secs:9.0f}/s) cpu {u + k:6.2f} s "
      f"({(u + k) * 1e6 / max(n, 1):6.2f} CPU-µs/req) p50 {p50:7.3f} ms p99 {p99:8.3f} ms {extra}")
PY
    done
  done
done
kill "$(cat "$om/nginx.pid")" 2>/dev/null
