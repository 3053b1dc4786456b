#!/usr/bin/env bash
# SIP load figures for the README and the issues' closing notes:
#   1. calls per second, INVITE-200-ACK-BYE with no media (sipp built-in uac)
#   2. concurrent G.711 calls with RTP both ways, held for HOLD seconds,
#      with RTP loss measured by setbridge's own counters
# Runs setbridge on loopback with its defaults; needs sipp.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SETBRIDGE_BIN:-$ROOT/bin/setbridge}
RATE=${RATE:-1000}          # offered calls/s for the rate test
CALLS=${CALLS:-20000}       # calls in the rate test
CONC=${CONC:-200}           # concurrent calls in the media test
HOLD=${HOLD:-60}            # seconds each media call is held
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

"$BIN" serve --log-level warn --http-addr 127.0.0.1:18088 --sip-udp 127.0.0.1:15088 --sip-tcp 127.0.0.1:15088 \
  --rtp-port-min 20000 --rtp-port-max 60000 2>"$work/server.log" &
srv=$!
for _ in $(seq 100); do curl -sf 127.0.0.1:18088/readyz >/dev/null && break; sleep 0.1; done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== rate: $CALLS calls offered at $RATE/s, INVITE-200-ACK-BYE, no media"
cd "$work"
start=$(date +%s.%N)
sipp -sn uac -s 1000 127.0.0.1:15088 -i 127.0.0.1 -p 16088 -r "$RATE" -m "$CALLS" -l 2000 \
  -trace_stat -stf rate.csv -timeout 120s -timeout_error -nostdin >/dev/null 2>&1 || true
end=$(date +%s.%N)
# col FILE NAME: the last row's value of the named column of a sipp -stf file
col() { awk -F';' -v name="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==name) c=i} END{print $c}' "$1"; }
succ=$(col rate.csv 'SuccessfulCall(C)'); fail=$(col rate.csv 'FailedCall(C)')
awk -v s="$start" -v e="$end" -v ok="$succ" -v bad="$fail" 'BEGIN{
  printf "successful %d failed %d: %.0f calls/s completed over %.1f s\n", ok, bad, ok/(e-s), e-s }' 

echo "== media: $CONC concurrent PCMA calls streaming a tone both ways, held ${HOLD}s"
sox -n -r 8000 -c 1 -e a-law -t al "$work/tone.al" synth 10 sine 440 vol 0.3
m0=$(curl -s 127.0.0.1:18088/metrics)
before_cpu=$(awk '{print $14+$15}' /proc/$srv/stat)
t0=$(date +%s.%N)
# sipp reads rtp_stream files when it loads the scenario: put the path in.
sed "s#\[tone\]#$work/tone.al#" "$ROOT/bench/uac_rtp_hold.xml" >"$work/hold.xml"
sipp -sf "$work/hold.xml" -s 1000 127.0.0.1:15088 -i 127.0.0.1 -p 16089 \
  -r 100 -m "$CONC" -l "$CONC" -d $((HOLD*1000)) \
  -trace_stat -stf media.csv -timeout $((HOLD+120))s -timeout_error -nostdin >/dev/null 2>&1 || true
t1=$(date +%s.%N)
after_cpu=$(awk '{print $14+$15}' /proc/$srv/stat)
m1=$(curl -s 127.0.0.1:18088/metrics)
metric() { echo "$1" | awk -v n="$2" '$1==n{print $2}'; }
echo "successful $(col media.csv 'SuccessfulCall(C)') failed $(col media.csv 'FailedCall(C)')"
awk -v a="$before_cpu" -v b="$after_cpu" -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" -v n="$CONC" 'BEGIN{
  cpu=(b-a)/hz; wall=t1-t0; printf "server cpu %.1f s over %.1f s: %.1f%% of a core, %.3f%% of a core per call\n", cpu, wall, 100*cpu/wall, 100*cpu/wall/n }'
# tick quantiles from the histogram's buckets, interpolated as Prometheus does
quant() { echo "$m1" | awk -v q="$1" -F'[ "]' '/^setbridge_mixer_tick_seconds_bucket/{le[n]=$2; c[n++]=$NF} END{
  tot=c[n-1]; want=q*tot; prevle=0; prevc=0
  for(i=0;i<n;i++){ if(c[i]>=want){ up=(le[i]=="+Inf")?prevle:le[i]; f=(c[i]>prevc)?(want-prevc)/(c[i]-prevc):0; printf "%.2f", 1000*(prevle+(up-prevle)*f); exit } prevle=le[i]; prevc=c[i] } }'; }
echo "mixer tick p50 $(quant 0.5) ms, p99 $(quant 0.99) ms (all ticks of the run); overruns $(metric "$m1" setbridge_mixer_tick_overruns_total)"
d() { awk -v a="$(metric "$m0" "$1")" -v b="$(metric "$m1" "$1")" 'BEGIN{printf "%.0f", b-a}'; }
awk -v i="$(d setbridge_rtp_packets_received_total)" -v o="$(d setbridge_rtp_packets_sent_total)" \
    -v l="$(d setbridge_rtp_packets_lost_total)" -v late="$(d setbridge_rtp_packets_late_total)" 'BEGIN{
  printf "rtp received %d sent %d lost %d late %d: %.3f%% loss\n", i, o, l, late, ((i+l)>0 ? 100*(l+late)/(i+l) : 0) }'
awk -v t="$(d setbridge_mixer_ticks_total)" -v e="$(d setbridge_mixer_shared_encodes_total)" -v p="$(d setbridge_mixer_pcm_writes_total)" -v n="$CONC" 'BEGIN{
  if (t>0) printf "encodes per tick %.2f (shared %.2f + talkers %.2f) for %d participants\n", (e+p)/t, e/t, p/t, n }'
