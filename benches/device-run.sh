#!/bin/bash
# Runs on the 16-core device machine from the folder benches/pack-device lays out: the scaling
# scenario (load on CPUs 0-7, nginx with 8 workers on CPUs 8-15, molotov -p 1 and -p 8 at
# -w 50 each, wrk -t1 and -t8 as references), the same at -p 4 on CPUs 0-3 against 12 nginx
# workers on CPUs 4-15 (a target with room), then static-50 and memory with nginx on CPU 8.
# About 160 s; outputs (tables and raw outputs) go to $OUT.
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo) kernel=$(uname -r) nofile=$(ulimit -n)/$(ulimit -Hn) memlock=$(ulimit -l) io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null)"
C="$D/molotov-compare --molotov $D/molotov --target-server $D/molotov-target --nginx $D/nginx --wrk $D/wrk --h2load none --oha none --pause 300ms"
timeout 150 $C --scenarios scaling --load-cpus 0-7 --target-cpus 8-15 --scaling-processes 8 --rounds 3 --duration 4s --work-dir /tmp/mc-scaling > "$OUT/scaling.txt" 2>&1
echo "scaling rc=$?"; tail -25 "$OUT/scaling.txt"
# molotov's own scaling with a target that has room (12 nginx workers for 4 load CPUs): the run
# above is bounded by nginx's 8 workers at -p 8 (they were 99-100% busy).
timeout 120 $C --scenarios scaling --load-cpus 0-3 --target-cpus 4-15 --scaling-processes 4 --rounds 3 --duration 4s --work-dir /tmp/mc-scaling4 > "$OUT/scaling4.txt" 2>&1
echo "scaling4 rc=$?"; tail -25 "$OUT/scaling4.txt"
timeout 80 $C --scenarios static-50,memory --load-cpus 0 --target-cpus 8 --rounds 3 --duration 3s --work-dir /tmp/mc-static > "$OUT/static.txt" 2>&1
echo "static rc=$?"; tail -30 "$OUT/static.txt"
tar czf "$OUT/raw.tgz" -C /tmp mc-scaling/raw mc-scaling4/raw mc-static/raw 2>/dev/null
