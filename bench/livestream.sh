#!/usr/bin/env bash
# Live streams per core: N Icecast streams of one room (one shared Opus
# encode per tick) against an in-process server that discards the body,
# all in one `go test` process on loopback, 20 ms ticks in real time.
# Prints Opus encodes per tick (1 whatever N), total CPU, CPU per stream,
# the marginal CPU of one more stream (against the 1-stream run) and the
# streams one core carries at that marginal cost.
#
#   ./bench/livestream.sh                                  # 1, 10, 50, 200 streams, 5 s each
#   SECONDS_PER_RUN=10 ./bench/livestream.sh
#   SETBRIDGE_LIVESTREAM_STREAMS=1,500,1000 ./bench/livestream.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
export SETBRIDGE_LIVESTREAM_STREAMS=${SETBRIDGE_LIVESTREAM_STREAMS:-1,10,50,200}
ticks=$((SECONDS_PER_RUN * 50))
echo "# live streams (icecast, Ogg/Opus 64 kb/s, one room): ${SETBRIDGE_LIVESTREAM_STREAMS} streams, ${SECONDS_PER_RUN} s each" \
  "($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); CPU is the whole process: manager + discarding server"
out=$(go test ./livestream/ -run '^$' -bench 'StreamsPerCore' -benchtime "${ticks}x" -benchmem -timeout 30m)
echo "$out" | awk '
/^BenchmarkStreamsPerCore\// {
  name = $1; sub(/^BenchmarkStreamsPerCore\/streams=/, "", name); sub(/-[0-9]+$/, "", name)
  for (i = 5; i < NF; i += 2) v[name, $(i+1)] = $i
  names[++n] = name
}
END {
  base = names[1]
  printf "%-24s", "streams"; for (j = 1; j <= n; j++) printf "%12s", names[j]; printf "\n"
  split("encodes/tick cpu-%core-total cpu-%core/stream drop-% allocs/op", m, " ")
  for (k = 1; k <= length(m); k++) {
    printf "%-24s", m[k]; for (j = 1; j <= n; j++) printf "%12s", v[names[j], m[k]]; printf "\n"
  }
  printf "%-24s", "marginal-%core/stream"
  for (j = 1; j <= n; j++) {
    if (names[j] == base) { printf "%12s", "-"; continue }
    mc[j] = (v[names[j], "cpu-%core-total"] - v[base, "cpu-%core-total"]) / (names[j] - base)
    printf "%12.4f", mc[j]
  }
  printf "\n%-24s", "streams/core(marginal)"
  for (j = 1; j <= n; j++) {
    if (names[j] == base || mc[j] <= 0) { printf "%12s", "-"; continue }
    printf "%12.0f", 100 / mc[j]
  }
  printf "\n"
}'
