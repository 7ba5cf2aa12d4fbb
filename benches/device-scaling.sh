#!/bin/bash
# Runs on the 16-core device machine from the folder benches/pack-device lays out (as
# scaling.sh): target 5's scaling scenario only (load on CPUs 0-7, nginx with 8 workers on CPUs
# 8-15, molotov -p 1 and -p 8, wrk -t1 and -t8 as references), three ways:
#   1. -w 50 per process (the target as measured so far), ROUNDS rounds;
#   2. the same with molotov-b, when pack-device was given MOLOTOV_B (an A/B of two builds);
#   3. -w 200 per process (1,600 connections at -p 8: how much of the figure is nginx's
#      batching per wake-up), ROUNDS-1 rounds.
# About 80 s per set-up at ROUNDS=4 (4 s runs); tables and raw outputs go to $OUT. The open
# model (molotov, molotov-b and oha) is open-model.sh's job: benches/device-open-model.sh.
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

