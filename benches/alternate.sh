# Sourced by benches/floor.sh and benches/glommio-timers.sh: runs every tool of ${tools[@]}
# once per round, alternating, for $rounds rounds, each as `run TOOL` (a function the caller
# exports, printing the number of requests made) under GNU time, pinned to $load_cpu. Prints
# each run and appends "ROUND TOOL_INDEX REQUESTS USER_S SYS_S" to $dir/results, the input of
# benches/per-round-summary.awk. $1 names the calling script in errors; $2 (optional) pauses
# between runs, in seconds.
alternate_rounds() {
  local script=$1 pause=${2:-0} round i tool requests user sys
  results="$dir/results"
  : > "$results"
  for round in $(seq 1 "$rounds"); do
    for i in "${!tools[@]}"; do
      tool=${tools[$i]}
      requests=$(/usr/bin/time -f "%U %S" -o "$dir/time" taskset -c "$load_cpu" bash -c "run $tool")
      read -r user sys < "$dir/time"
      [ -n "$requests" ] && [ "$requests" -gt 0 ] || { echo "$script: $tool made no request" >&2; exit 1; }
      awk -v r="$round" -v t="$tool" -v n="$requests" -v u="$user" -v s="$sys" 'BEGIN {
        printf "round %d  %-16s %9d requests  cpu %5.2fu+%5.2fs  %6.2f CPU-µs/req (user %5.2f)\n",
          r, t, n, u, s, (u + s) * 1e6 / n, u * 1e6 / n }'
      echo "$round $i $requests $user $sys" >> "$results"
      sleep "$pause"
    done
  done
}
