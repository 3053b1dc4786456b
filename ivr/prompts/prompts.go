// Package prompts holds setbridge's stock IVR prompt set: 16 kHz, 16-bit,
// mono WAV files named like Asterisk's stock prompts (conf-getpin.wav,
// digits/7.wav, ...), each with a 50 ms lead-in and a 100 ms tail of
// digital silence and a loudness of about -16 dBFS RMS.
//
// The files are made by gen.sh with espeak-ng and sox and committed, so
// building needs neither tool. To regenerate them:
//
//	go generate ./ivr/prompts
//
// Package ivr loads them through FS; operators overlay them with their own
// recordings (see ivr.LoadPrompts).
package prompts

import "embed"

//go:generate sh gen.sh

// FS holds the stock prompt files: *.wav and digits/*.wav.
//
//go:embed *.wav digits/*.wav
var FS embed.FS

// Rate is the sample rate of every file in FS.
const Rate = 16000
