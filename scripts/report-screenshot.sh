#!/usr/bin/env bash
# Renders an HTML report in headless Chromium and saves a PNG, to look at the page on a
# machine without a desktop. Not run by CI.
#
#   scripts/report-screenshot.sh [REPORT.html] [OUT.png]
#
# Without REPORT.html it first makes one: a 10 s demo run (`molotov demo -q --html`).
# Needs Debian's `chromium` (apt-get install chromium). Prints Chromium's console messages
# and errors, if any: a clean page prints none.
set -euo pipefail
cd "$(dirname "$0")/.."
report=${1:-}
out=${2:-report.png}
if [ -z "$report" ]; then
  report=$(mktemp --suffix=.html)
  cargo run --release -q -- demo -q -d 10 --html "$report" > /dev/null
fi
command -v chromium >/dev/null || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 1; }
log=$(mktemp)
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size=1280,2600 --enable-logging=stderr --v=0 \
  --screenshot="$out" "file://$(realpath "$report")" 2> "$log" || { cat "$log" >&2; exit 1; }
# Page problems (console messages, failed loads) are logged as CONSOLE or ERROR lines;
# Chromium's own start-up noise (dbus, GPU, sandbox) is not about the page.
grep -E "CONSOLE|Uncaught|Failed to load|net::ERR" "$log" || echo "no console message, no failed load"
echo "screenshot: $out"
