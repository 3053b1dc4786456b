#!/usr/bin/env bash
# Room service at scale: runs BenchmarkHugeRoom (fabric/roomsvc), which
# puts 100 000 participants in one room across 3 SETs of 2 machines on one
# embedded NATS server (agents, then SET services, then the central
# service and its standby, so that each level's memory can be told apart),
# and prints first-page latency, the time to page through the room,
# memory per participant on each service kind and join-to-seen-everywhere
# latency. It uses the test bed's timers: heartbeat and SET window 50 ms.
#
#   ./bench/roomsvc.sh            # one run
#   COUNT=5 ./bench/roomsvc.sh    # five runs, each printed
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-1}
out=$(go test ./fabric/roomsvc/ -run '^$' -bench '^BenchmarkHugeRoom$' -benchtime=1x \
  -count="$COUNT" -timeout 10m 2>&1) || { echo "$out"; exit 1; }
echo "$out" | awk '
/^BenchmarkHugeRoom/ {
  for (i = 3; i < NF; i += 2) v[$(i+1)] = $i
  run++
  printf "run %d (100 000 participants, 3 SETs x 2 machines)\n", run
  printf "  first page (100, cached)    p50 %7.2f ms   p99 %7.2f ms\n", v["first_page_p50_ms"], v["first_page_p99_ms"]
  printf "  first page (uncached)       p50 %7.2f ms   p99 %7.2f ms\n", v["cold_page_p50_ms"], v["cold_page_p99_ms"]
  printf "  page through all 100 000    %7.0f ms (pages of 1000)\n", v["page_all_ms"]
  printf "  memory per participant      agent %.0f B   SET service %.0f B   central %.0f B\n", v["agent_B/participant"], v["set_B/participant"], v["central_B/participant"]
  printf "  join seen on every machine  p50 %7.2f ms   p99 %7.2f ms\n", v["join_seen_p50_ms"], v["join_seen_p99_ms"]
  printf "  rebuild from empty          SET services %.0f ms   central %.0f ms\n", v["sets_rebuild_ms"], v["central_rebuild_ms"]
}
/cache hits/ { sub(/^[ \t]*bench_test.go:[0-9]+: /, "  "); print }
/^ok|FAIL/ { print }'
