# Sourced by benches/knob-ab.sh and benches/floor.sh: starts one nginx worker (benches/nginx.conf,
# everything under a fresh folder in /tmp) pinned to $target_cpu on 127.0.0.1:$port, stops it
# and removes the folder when the script exits, leaves the folder's path in $dir, and writes
# $dir/plan.mol: molotov's static GET of that nginx. $NGINX_EXTRA, when set, is put before the
# location's `return 200` (nginx directives, e.g. 'add_header X-Request-Id $request_id; ').
# $PLAN_DEFAULTS, when set, is put in the plan's `defaults` block (lines of the plan language,
# e.g. $'  Accept: application/json\n  X-Tenant: acme').
dir=$(mktemp -d /tmp/molotov-bench.XXXXXX)
mkdir -p "$dir/body" "$dir/proxy" "$dir/fastcgi" "$dir/uwsgi" "$dir/scgi"
# One worker bound to the target CPU: nginx's mask is a 1 followed by one 0 per lower CPU.
affinity="1$(printf '%*s' "$target_cpu" '' | tr ' ' 0)"
sed -e "s|@WORKERS@|1|; s|@AFFINITY@|$affinity|; s|@DIR@|$dir|g; s|@PORT@|$port|" \
  -e "s|return 200|${NGINX_EXTRA:-}return 200|" "$(dirname "$0")/nginx.conf" > "$dir/nginx.conf"
taskset -c "$target_cpu" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
trap 'kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
sleep 0.3
printf 'defaults {\n  base http://127.0.0.1:%s\n%s}\n\nscenario get {\n  GET /\n}\n' "$port" \
  "${PLAN_DEFAULTS:+$PLAN_DEFAULTS
}" > "$dir/plan.mol"
