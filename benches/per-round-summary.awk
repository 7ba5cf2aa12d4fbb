# Per-tool summary of alternating benchmark rounds, shared by benches/floor.sh and
# benches/glommio-timers.sh. Input lines: ROUND TOOL_INDEX REQUESTS USER_S SYS_S.
# Variables: i (the tool's index), name (its label), ref (the index of the tool it is
# compared with in the same round; default 0). Prints the median CPU-µs per request (and its
# user part) and req/CPU-s relative to the reference's, same round: min / median / max.
function median(a, n,   k, j, t) {
  for (k = 2; k <= n; k++) { t = a[k]; for (j = k - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ cost[$1, $2] = ($4 + $5) * 1e6 / $3; user[$1, $2] = $4 * 1e6 / $3; if ($1 > n) n = $1 }
END {
  ref = ref == "" ? 0 : ref
  for (r = 1; r <= n; r++) { c[r] = cost[r, i]; u[r] = user[r, i]; q[r] = cost[r, ref] / cost[r, i] }
  mc = median(c, n); mu = median(u, n); mq = median(q, n)
  lo = q[1]; hi = q[n]
  printf "  %-16s %6.2f CPU-µs/req (user %5.2f)   x %s: %.2f / %.2f / %.2f\n", name, mc, mu, refname, lo, mq, hi
}
