#!/usr/bin/env bash
# WebRTC room load: 6 pion WHIP talkers and N pion WHEP listeners in one
# room on one Edge + mixer engine, all in one `go test` process on
# loopback (so the CPU figures include the clients). Prints CPU per
# listener, egress packets per second (and per core of CPU used), loss,
# the mixer's tick p99 and Opus encodes per tick for each N.
#
#   ./bench/webrtc_load.sh                       # 50, 100, 200 listeners, 5 s each
#   SECONDS_PER_RUN=10 ./bench/webrtc_load.sh
#   SETBRIDGE_WEBRTC_LISTENERS=300,400 ./bench/webrtc_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
export SETBRIDGE_WEBRTC_LISTENERS=${SETBRIDGE_WEBRTC_LISTENERS:-}
echo "# webrtc room load: 6 talkers, ${SETBRIDGE_WEBRTC_LISTENERS:-50,100,200} listeners, ${SECONDS_PER_RUN} s each" \
  "($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); CPU is the whole process: server + pion clients"
out=$(go test ./webrtc/ -run '^$' -bench 'RoomLoad' -benchtime "${SECONDS_PER_RUN}x" -timeout 30m)
echo "$out" | grep -E '^\s+load_bench_test.go' || true
echo "$out" | awk '
/^BenchmarkRoomLoad\// {
  name = $1; sub(/^BenchmarkRoomLoad\/listeners=/, "", name); sub(/-[0-9]+$/, "", name)
  for (i = 5; i < NF; i += 2) v[name, $(i+1)] = $i
  names[++n] = name
}
END {
  split("cpu-%core/listener cpu-%core-total egress-pkts/s pkts/s/core rx-pkts/s/listener loss-% tick-p99-ms tick-overruns/s missed-ticks-% opus-encodes/tick leg-encodes/tick", m, " ")
  printf "%-20s", "listeners"; for (j = 1; j <= n; j++) printf "%12s", names[j]; printf "\n"
  for (k = 1; k <= length(m); k++) {
    printf "%-20s", m[k]; for (j = 1; j <= n; j++) printf "%12s", v[names[j], m[k]]; printf "\n"
  }
}'
echo "$out" | grep -E '^(FAIL|ok|PASS)' || true
