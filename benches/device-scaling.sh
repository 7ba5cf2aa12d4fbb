#!/bin/bash
# Runs on the 16-core device machine from the folder benches/pack-device lays out (as
# scaling.sh): target 5's scaling scenario only (load on CPUs 0-7, nginx with 8 workers on CPUs
# 8-15, molotov -p 1 and -p 8, wrk -t1 and -t8 as references), three ways:
#   1. -w 50 per process (the target as measured so far), ROUNDS rounds;
#   2. the same with molotov-b, when pack-device was given MOLOTOV_B (an A/B of two builds);
#   3. -w 200 per process (1,600 connections at -p 8: how much of the figure is nginx's
#      batching per wake-up), ROUNDS-1 rounds.
# About 80 s per set-up at ROUNDS=4 (4 s runs); tables and raw outputs go to $OUT.
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}
ROUNDS=${ROUNDS:-4}
mkdir -p "$OUT"
echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo) kernel=$(uname -r)"
C="$D/molotov-compare --target-server $D/molotov-target --nginx $D/nginx --wrk $D/wrk --h2load none --oha none --pause 300ms --scenarios scaling --load-cpus 0-7 --target-cpus 8-15 --scaling-processes 8 --duration 4s"
run() { # name, rounds, extra flags
  local name=$1 rounds=$2; shift 2
  timeout 150 $C --rounds "$rounds" --work-dir "/tmp/mc-$name" "$@" > "$OUT/$name.txt" 2>&1
  echo "== $name rc=$? ($*)"; grep -A 20 '^## scaling' "$OUT/$name.txt"
}
run w50 "$ROUNDS" --molotov "$D/molotov" --scaling-workers 50
[ -x "$D/molotov-b" ] && run w50-b "$ROUNDS" --molotov "$D/molotov-b" --scaling-workers 50
run w200 "$((ROUNDS - 1))" --molotov "$D/molotov" --scaling-workers 200
tar czf "$OUT/raw.tgz" -C /tmp mc-w50/raw mc-w50-b/raw mc-w200/raw 2>/dev/null

# 4. The open model below saturation, molotov against molotov-b (when given): -p 8 -w 100
#    --rate 200000 -d 3 against the same 8 nginx workers, alternated, twice each; CPU
#    (user+sys of molotov's process tree, bash's `time`) per request started.
[ -x "$D/molotov-b" ] || exit 0
om=/tmp/mc-open && rm -rf "$om" && mkdir -p "$om/body" "$om/proxy" "$om/fastcgi" "$om/uwsgi" "$om/scgi"
sed -e "s|@WORKERS@|8|; s|@AFFINITY@|1111111100000000|; s|@DIR@|$om|g; s|@PORT@|18097|" "$D/nginx.conf" > "$om/nginx.conf"
taskset -c 8-15 "$D/nginx" -p "$om" -e "$om/error.log" -c "$om/nginx.conf"; sleep 0.5
printf 'defaults {\n  base http://127.0.0.1:18097\n}\n\nscenario get {\n  GET /\n}\n' > "$om/plan.mol"
TIMEFORMAT='%U %S'
for i in 1 2; do
  for b in molotov molotov-b; do
    cpu=$( { time timeout 30 taskset -c 0-7 "$D/$b" -q -p 8 -w 100 --rate 200000 -d 3 --json "$om/r.json" "$om/plan.mol" > /dev/null 2>"$om/err"; } 2>&1 )
    python3 - "$om/r.json" "$b" "$cpu" <<'PY' | tee -a "$OUT/open-model-ab.txt"
import json, sys
r = json.load(open(sys.argv[1]))
t, s, l = r["totals"], r["schedule"], r["latency_us"]
u, k = map(float, sys.argv[3].split())
print(f"{sys.argv[2]:10} 200000/s: requests {t['requests']} missed {s['missed_starts']} late {s['late_starts']} "
      f"p50_ms {l['p50'] / 1000:.3f} p99_ms {l['p99'] / 1000:.3f} cpu_s {u + k:.2f} (user {u:.2f} sys {k:.2f}) "
      f"cpu_us_per_req {(u + k) * 1e6 / max(t['requests'], 1):.2f}")
PY
  done
done
kill "$(cat "$om/nginx.pid")" 2>/dev/null
