#!/usr/bin/env bash
# HTTPS efficiency for docs/http-client.md and the TLS issue: requests per CPU-second of
# `molotov` (and of molotov-http's loadloop) next to `wrk` over TLS, against nginx (Debian
# package) with a self-signed certificate, one nginx worker pinned to CPU 1, the load
# generators pinned to CPU 0, runs alternated. Keep-alive first, then every request on a new
# connection (`Connection: close`: the handshake rate), then the same keep-alive pair in
# clear for reference.
#
#   cargo build --release -p molotov && cargo build --release -p molotov-http --examples
#   BIN=target/release PAIRS=3 bash http-client/scripts/tls-bench.sh
#
# CPU is `/usr/bin/time -f "%U %S"`, which includes molotov's reaped child processes.
set -u
BIN=${BIN:-target/release}
PAIRS=${PAIRS:-3}
SECS=${SECS:-5}
C=${C:-50}
N=${N:-/tmp/molotov-tls-bench}
command -v nginx >/dev/null && command -v wrk >/dev/null && command -v openssl >/dev/null ||
  { echo "needs nginx, wrk and openssl (apt-get install nginx-light wrk openssl)"; exit 1; }
echo "nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo) kernel=$(uname -r) $(nginx -v 2>&1) $(wrk -v 2>&1 | head -1)"
rm -rf "$N"; mkdir -p "$N/logs" "$N/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$N/key.pem" -out "$N/cert.pem" -days 30 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" 2>/dev/null
cat > "$N/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 10;
pid $N/nginx.pid;
error_log $N/logs/error.log warn;
daemon on;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $N/tmp/body; proxy_temp_path $N/tmp/proxy;
    fastcgi_temp_path $N/tmp/fcgi; uwsgi_temp_path $N/tmp/uwsgi; scgi_temp_path $N/tmp/scgi;
    server {
        listen 127.0.0.1:8443 ssl;
        listen 127.0.0.1:8081;
        ssl_certificate $N/cert.pem;
        ssl_certificate_key $N/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        ssl_session_tickets on;
        location / { default_type application/json; return 200 '{"ok":true}'; }
    }
}
CONF
nginx -p "$N" -e "$N/logs/error.log" -c "$N/nginx.conf" || { cat "$N/logs/error.log"; exit 1; }
trap 'kill $(cat "$N/nginx.pid") 2>/dev/null' EXIT
sleep 0.5

plan() { # base, extra header line
  printf 'defaults {\n  base %s\n  timeout 10s\n}\n\nscenario get {\n  GET /\n%s}\n' "$1" "$2"
}
plan https://127.0.0.1:8443 "" > "$N/keepalive.mol"
plan https://127.0.0.1:8443 "  Connection: close
" > "$N/close.mol"
plan http://127.0.0.1:8081 "" > "$N/plain.mol"

# molotov: prints "molotov requests=R cpu=S"
run_molotov() { # plan
  local out
  out=$( { /usr/bin/time -f "TIME %U %S" taskset -c 0 "$BIN/molotov" -q -w "$C" -d "$SECS" \
      --cacert "$N/cert.pem" "$1"; } 2>&1 )
  local req cpu
  req=$(echo "$out" | awk '/^Requests: /{gsub(",","",$2); print $2}')
  cpu=$(echo "$out" | awk '/^TIME /{print $2+$3}')
  local errors
  errors=$(echo "$out" | awk '/^Requests: /{print $0}' | grep -o '[0-9,]* errors' | tr -d ',')
  echo "molotov requests=$req cpu=$cpu ($errors)"
}
run_wrk() { # url [extra wrk args]
  local url=$1; shift
  local out
  out=$( { /usr/bin/time -f "TIME %U %S" taskset -c 0 wrk -t1 -c"$C" -d"${SECS}s" "$@" "$url"; } 2>&1 )
  local req cpu
  req=$(echo "$out" | awk '/requests in/{print $1}')
  cpu=$(echo "$out" | awk '/^TIME /{print $2+$3}')
  local errors
  errors=$(echo "$out" | grep -E "Socket errors|Non-2xx" | tr '\n' ' ')
  echo "wrk requests=$req cpu=$cpu $errors"
}
run_loadloop() { # url [args]
  local url=$1; shift
  taskset -c 0 "$BIN/examples/loadloop" --url "$url" -c "$C" -d "$SECS" --cpu 0 "$@" |
    tr '\n' ' '; echo
}
per_cpu() { # "tool requests=R cpu=S ..." -> adds req/cpu-s
  awk '{r=""; c=""; for(i=1;i<=NF;i++){ if($i ~ /^requests=/){split($i,a,"="); r=a[2]} if($i ~ /^cpu=/){split($i,b,"="); c=b[2]} }
        if (c > 0) printf "%s  => %.0f req/s, %.0f req/CPU-s\n", $0, r/'"$SECS"', r/c; else print $0 }'
}

echo "== keep-alive over TLS, c=$C, ${SECS}s, $PAIRS pairs"
for i in $(seq 1 "$PAIRS"); do
  run_molotov "$N/keepalive.mol" | per_cpu
  run_wrk https://127.0.0.1:8443/ | per_cpu
done
echo "== a new TLS connection per request (Connection: close), c=$C, ${SECS}s, $PAIRS pairs"
for i in $(seq 1 "$PAIRS"); do
  run_molotov "$N/close.mol" | per_cpu
  run_wrk https://127.0.0.1:8443/ -H "Connection: close" | per_cpu
done
echo "== loadloop (molotov-http alone) over TLS: keep-alive, then Connection: close"
run_loadloop https://127.0.0.1:8443/ --cacert "$N/cert.pem"
run_loadloop https://127.0.0.1:8443/ --cacert "$N/cert.pem" --close
run_loadloop https://127.0.0.1:8443/ --cacert "$N/cert.pem" --close --no-resume
echo "== reference: keep-alive in clear, one pair"
run_molotov "$N/plain.mol" | per_cpu
run_wrk http://127.0.0.1:8081/ | per_cpu
