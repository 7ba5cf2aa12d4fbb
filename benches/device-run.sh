#!/bin/bash
# Runs on the 16-core device machine from the folder benches/pack-device lays out: the scaling
# scenario (load on CPUs 0-7, nginx with 8 workers on CPUs 8-15, molotov -p 1 and -p 8 at
# -w 50 each, wrk -t1 and -t8 as references), the same at -p 6 on CPUs 0-5 against 10 nginx
# workers on CPUs 6-15 (a target with room), then static-50 and memory with nginx on CPU 8.
# Then the open model at -p 8 (load on CPUs 0-7, nginx with 8 workers on 8-15): a rate the
# processes keep and up to what the target answers, with the schedule's accounting
# (started + dropped + missed = due) from the JSON report: benches/device-open-model.sh.
# About 230 s; outputs (tables and raw outputs) go to $OUT.
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo) kernel=$(uname -r) nofile=$(ulimit -n)/$(ulimit -Hn) memlock=$(ulimit -l) io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null)"
# Which CPUs share a core: scaling across 0-7 means 8 cores only if no two of them are siblings.
for c in 0 1 7 8 15; do printf 'cpu%s siblings %s  ' "$c" "$(cat /sys/devices/system/cpu/cpu$c/topology/thread_siblings_list 2>/dev/null)"; done; echo
C="$D/molotov-compare --molotov $D/molotov --target-server $D/molotov-target --nginx $D/nginx --wrk $D/wrk --h2load none --oha none --pause 300ms"
timeout 150 $C --scenarios scaling --load-cpus 0-7 --target-cpus 8-15 --scaling-processes 8 --rounds 3 --duration 4s --work-dir /tmp/mc-scaling > "$OUT/scaling.txt" 2>&1
echo "scaling rc=$?"; tail -25 "$OUT/scaling.txt"
# molotov's own scaling with a target that has room (10 nginx workers for 6 load CPUs): the run
# above is bounded by nginx's 8 workers at -p 8 (all 8 at 98-99% busy).
timeout 120 $C --scenarios scaling --load-cpus 0-5 --target-cpus 6-15 --scaling-processes 6 --rounds 3 --duration 4s --work-dir /tmp/mc-scaling6 > "$OUT/scaling6.txt" 2>&1
echo "scaling6 rc=$?"; tail -25 "$OUT/scaling6.txt"
timeout 80 $C --scenarios static-50,memory --load-cpus 0 --target-cpus 8 --rounds 3 --duration 3s --work-dir /tmp/mc-static > "$OUT/static.txt" 2>&1
echo "static rc=$?"; tail -30 "$OUT/static.txt"
tar czf "$OUT/raw.tgz" -C /tmp mc-scaling/raw mc-scaling6/raw mc-static/raw 2>/dev/null

# The open model at -p 8 against nginx with 8 workers on CPUs 8-15 (and oha, and molotov-b,
# when pack-device laid them out): open-model.sh, one round at 200,000, 400,000 and 800,000/s
# (the last about what the 8 nginx workers answer at most).
ROUNDS=1 RATES="200000 400000 800000" OUT="$OUT" bash "$D/open-model.sh"
