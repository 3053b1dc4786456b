#!/usr/bin/env bash
# Fabric load: starts a hub (origin, NATS) and SETS SETs of 3 nodes (two
# retrieval nodes each) as separate setbridge processes on loopback, then
# runs `setbridge loadtest` with STREAMS streams and ENDPOINTS probe
# endpoints for DURATION, and prints packets per second per node, origin
# egress, delay per hop and loss.
#
#   SETS=3 STREAMS=50 ENDPOINTS=2000 DURATION=20s ./bench/fabric_load.sh
set -euo pipefail
BIN=$(realpath "${SETBRIDGE_BIN:-$(dirname "$0")/../bin/setbridge}")
SETS=${SETS:-3}
STREAMS=${STREAMS:-50}
ENDPOINTS=${ENDPOINTS:-2000}
DURATION=${DURATION:-20s}
NATS_PORT=${NATS_PORT:-14222}
dir=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
wait_nats() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$NATS_PORT) 2>/dev/null && return; sleep 0.1; done; echo "NATS did not come up:"; cat "$dir"/hub/log; exit 1; }

node() { # id set roles nats-yaml
  local id=$1 set=$2 roles=$3 nats=$4
  mkdir -p "$dir/$id"
  printf 'log:\n  level: warn\nnode:\n  id: %s\n  set: %s\n  roles: [%s]\n%s' "$id" "$set" "$roles" "$nats" >"$dir/$id/node.yaml"
  (cd "$dir/$id" && exec "$BIN" serve --config node.yaml --http-addr 127.0.0.1:0 \
    --sip-udp 127.0.0.1:0 --sip-tcp 127.0.0.1:0 2>"$dir/$id/log") &
  pids+=($!)
}
node hub s0 interface "  nats:
    listen: 127.0.0.1:$NATS_PORT
"
wait_nats
for s in $(seq 1 "$SETS"); do
  for i in 1 2 3; do
    roles=interface
    [ "$i" -le 2 ] && roles="interface, retrieval"
    node "s${s}n$i" "s$s" "$roles" "  nats:
    url: nats://127.0.0.1:$NATS_PORT
"
  done
done
sleep 2
echo "# fabric load: hub + $SETS SETs x 3 nodes, $STREAMS streams, $ENDPOINTS endpoints, $DURATION ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
"$BIN" loadtest --nats "nats://127.0.0.1:$NATS_PORT" --origin hub --streams "$STREAMS" --endpoints "$ENDPOINTS" --duration "$DURATION"
