#!/bin/bash
# Reports on a generated school (journal-loadgen generate), one relay binary against another in one run:
# each report once from the command line (cold: every run opens the store), then over HTTP from a running
# relay of the second binary, the first request and the median of five more.
#
#   benches/reports.sh BASELINE_RELAY RELAY GENERATED_DATA_DIR
#
# The data directory is copied twice into a scratch directory; nothing in it is changed.
set -euo pipefail
BASE=$1
NEW=$2
DATA=$3
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
PID=
cp -r "$DATA" "$WORK/base"
cp -r "$DATA" "$WORK/new"
KINDS=("report-card --student s00-01" "class-journal --class 5a --subject math --term t1"
       "term-report --class 5b --term t1" "summary --class 5c" "control --term t1")
QUERIES=("report-card?student=s00-01" "class-journal?class=5a&subject=math&term=t1"
         "term-report?class=5b&term=t1" "summary?class=5c" "control?term=t1")
timed() { { /usr/bin/time -f "%e s, %M KB" "$@" >/dev/null; } 2>&1 | tail -1; }
for i in "${!KINDS[@]}"; do
  # shellcheck disable=SC2086
  b=$(timed "$BASE" report ${KINDS[$i]} --data-dir "$WORK/base" --format pdf -o "$WORK/base.pdf")
  # shellcheck disable=SC2086
  n=$(timed "$NEW" report ${KINDS[$i]} --data-dir "$WORK/new" --format pdf -o "$WORK/new.pdf")
  echo "command line, ${KINDS[$i]%% *}: baseline $b; now $n"
done
"$NEW" directory --data-dir "$WORK/new" add-account --id bench-head --name "Завуч" --role administration >/dev/null
TOKEN=$("$NEW" directory --data-dir "$WORK/new" add-device --account bench-head --label pc | sed 's/.*: //')
PORT=18557
"$NEW" serve --data-dir "$WORK/new" --listen "127.0.0.1:$PORT" --backup-hours 0 >"$WORK/relay.log" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
get() { curl -s -o /dev/null -w "%{time_total}\n" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/admin/reports/$1&format=pdf"; }
for q in "${QUERIES[@]}"; do
  first=$(get "$q")
  warm=$(for _ in 1 2 3 4 5; do get "$q"; done | sort -n | sed -n 3p)
  echo "HTTP, ${q%%\?*}: first ${first} s, warm median ${warm} s"
done
echo "relay RSS after these reports: $(ps -o rss= -p "$PID") KB"
