#!/usr/bin/env bash
# Loopback comparison used for docs/http-client.md: molotov-http's loadloop vs wrk on CPU 0,
# nginx (one worker) on CPU 1, plus the spin_before_park, idle-probe and deadline-cost runs.
#
# It runs binaries from one folder so it also works on a machine without a package registry
# (the device machine): put nginx, wrk, taskset, loadloop, deadline_cost and every library
# `ldd` lists for them (ld-linux-x86-64.so.2 included, under lib/) in a folder, copy this
# script there and run it:
#   D=.device/http-bench; mkdir -p $D/lib
#   cp $(which nginx wrk taskset) target/release/examples/{loadloop,deadline_cost} $D/
#   ldd $(which nginx wrk) target/release/examples/loadloop | grep -o '/[^ ]*' | sort -u | xargs -I{} cp -L {} $D/lib/
#   cp http-client/scripts/loopback-bench.sh $D/run.sh && bash $D/run.sh
set -u
D=$(cd "$(dirname "$0")" && pwd)
LD="$D/lib/ld-linux-x86-64.so.2 --library-path $D/lib"
TS="$LD $D/taskset"
TIMEFORMAT='cpu user=%U sys=%S wall=%R'
echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo) kernel=$(uname -r) memlock=$(ulimit -l) io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null)"
N=/tmp/ngx; mkdir -p $N/logs
cat > $N/nginx.conf <<CONF
worker_processes 1;
worker_cpu_affinity 10;
pid $N/nginx.pid;
error_log $N/logs/error.log warn;
daemon on;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $N/body; proxy_temp_path $N/proxy; fastcgi_temp_path $N/fcgi;
    uwsgi_temp_path $N/uwsgi; scgi_temp_path $N/scgi;
    server { listen 127.0.0.1:8081; location / { default_type application/json; return 200 '{"ok":true}'; } }
}
CONF
$LD $D/nginx -p $N -e $N/logs/error.log -c $N/nginx.conf || { cat $N/logs/error.log; exit 1; }
sleep 0.5
URL=http://127.0.0.1:8081/
pair() { # connections seconds pairs [loadloop args]
  local c=$1 s=$2 p=$3; shift 3
  for i in $(seq 1 $p); do
    echo "-- c=$c pair $i loadloop $*"
    $LD $D/loadloop --url $URL -c $c -d $s --cpu 0 "$@" 2>&1 | grep -E "requests=|req/s|req_per_cpu|  [a-z_]+: "
    echo "-- c=$c pair $i wrk"
    { time $TS -c 0 $LD $D/wrk -t1 -c$c -d${s}s $URL > /tmp/wrk.out 2>&1 ; } 2>&1
    grep -E "requests in|Socket errors|Non-2xx" /tmp/wrk.out
  done
}
pair 50 5 5
pair 200 5 3
for spin in 0 50; do
  for i in 1 2; do
    echo "-- c=1 spin_us=$spin run $i"
    $LD $D/loadloop --url $URL -c 1 -d 3 --cpu 0 --spin-us $spin 2>&1 | grep -E "req/s|req_per_cpu"
  done
done
for i in 1 2; do
  echo "-- c=50 spin_us=50 run $i"
  $LD $D/loadloop --url $URL -c 50 -d 5 --cpu 0 --spin-us 50 2>&1 | grep -E "req/s|req_per_cpu"
done
for probe in always never; do
  echo "-- c=50 probe=$probe"
  $LD $D/loadloop --url $URL -c 50 -d 5 --cpu 0 --probe $probe 2>&1 | grep -E "req/s|req_per_cpu"
done
echo "-- deadline_cost yield"
$LD $D/deadline_cost yield
echo "-- deadline_cost http"
$LD $D/deadline_cost http 127.0.0.1:8081 50 2
kill $(cat $N/nginx.pid)
