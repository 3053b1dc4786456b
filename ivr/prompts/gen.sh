#!/bin/sh
# gen.sh makes setbridge's stock prompt set with espeak-ng and sox. Run it
# through `go generate` in this directory (see prompts.go); the WAVs are
# committed, so builds and CI need neither tool.
#
# Every file is 16 kHz, 16-bit, mono. Speech is high-passed, trimmed of
# silence at both ends, given a 50 ms lead-in and a 100 ms tail of digital
# silence, then brought to about -16 dBFS RMS: sox's limiter keeps peaks
# below full scale and a second pass corrects the loudness it takes away.
# Tones are made with sox's synth and shaped the same way. espeak-ng and sox
# are deterministic (no dither: -D), so re-running gives the same files.
set -eu

cd "$(dirname "$0")"

RATE=16000
TARGET=-16      # dBFS RMS
LEAD=0.05       # seconds of silence before the first sound
TAIL=0.10       # seconds of silence after the last
VOICE=${VOICE:-en-us}
SPEED=${SPEED:-160}   # words per minute

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rms() { sox "$1" -n stats 2>&1 | awk '/^RMS lev dB/ { print $4 }'; }

# shape IN NAME: trim, pad, normalise IN into NAME.wav.
shape() {
	sox -D "$1" -b 16 -c 1 "$tmp/trim.wav" \
		highpass 60 rate -v "$RATE" \
		silence 1 0.005 -50d reverse silence 1 0.005 -50d reverse \
		pad "$LEAD" "$TAIL"
	gain=$(awk -v t="$TARGET" -v r="$(rms "$tmp/trim.wav")" 'BEGIN { printf "%.2f", t - r }')
	for _ in 1 2 3; do
		sox -D "$tmp/trim.wav" -b 16 "$tmp/out.wav" gain -l "$gain"
		gain=$(awk -v g="$gain" -v t="$TARGET" -v r="$(rms "$tmp/out.wav")" \
			'BEGIN { d = t - r; if (d < 0.25 && d > -0.25) exit 1; printf "%.2f", g + d }') || break
	done
	mv "$tmp/out.wav" "$2.wav"
}

say() {
	espeak-ng -v "$VOICE" -s "$SPEED" -w "$tmp/raw.wav" "$2"
	shape "$tmp/raw.wav" "$1"
}

# tone NAME FREQ... : 120 ms sine bursts 40 ms apart, 10 ms fades.
tone() {
	name=$1
	shift
	parts=""
	i=0
	for f in "$@"; do
		sox -D -n -r "$RATE" -b 16 -c 1 "$tmp/t$i.wav" synth 0.12 sine "$f" fade h 0.01 0.12 0.01 pad 0 0.04
		parts="$parts $tmp/t$i.wav"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	sox -D $parts "$tmp/raw.wav"
	shape "$tmp/raw.wav" "$name"
}

rm -f ./*.wav digits/*.wav
mkdir -p digits

say conf-welcome        "Welcome to Set Bridge."
say conf-getconfno      "Please enter the conference number, followed by the pound key."
say conf-getpin         "Please enter the conference PIN, followed by the pound key."
say conf-invalid        "That conference number is not valid."
say conf-invalidpin     "That PIN is not valid."
say conf-onlyperson     "You are currently the only person in this conference."
say conf-onlyone        "There is one other participant in this conference."
say conf-thereare       "There are"
say conf-otherinparty   "other participants in this conference."
say conf-muted          "You are now muted."
say conf-unmuted        "You are no longer muted."
say conf-locked         "The conference is now locked."
say conf-unlocked       "The conference is now unlocked."
say conf-recordingstarted "This conference is now being recorded."
say conf-recordingstopped "Recording has stopped."
say conf-roomlocked     "This conference is locked."
say conf-getnumber      "Please enter the number to call, followed by the pound key."
say conf-calling        "Calling."
say conf-cannotcall     "That number cannot be called."
say conf-help           "Press star six to mute or unmute yourself. Press star pound to hear the number of participants. Press star zero to hear these options again."
say vm-goodbye          "Goodbye."

tone beep-join  660 880
tone beep-leave 880 660

for n in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 30 40 50 60 70 80 90; do
	say "digits/$n" "$n"
done
say digits/hundred  "hundred"
say digits/thousand "thousand"

du -cb ./*.wav digits/*.wav | tail -n 1
