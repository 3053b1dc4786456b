//go:build spandsp && cgo

package spandsp

/*
#cgo pkg-config: spandsp
#include <stdint.h>
#include <stdlib.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>
*/
import "C"

import "unsafe"

// Encoder is a spandsp G.722 encoder at 64000 bit/s with no options.
type Encoder struct{ s *C.g722_encode_state_t }

// NewEncoder allocates a spandsp encoder; Close frees it.
func NewEncoder() *Encoder {
	return &Encoder{s: C.g722_encode_init(nil, 64000, 0)}
}

// Encode encodes pcm (an even number of samples) and returns the bytes.
func (e *Encoder) Encode(pcm []int16) []byte {
	out := make([]byte, len(pcm)/2)
	if len(pcm) < 2 {
		return out
	}
	n := C.g722_encode(e.s, (*C.uint8_t)(unsafe.Pointer(&out[0])),
		(*C.int16_t)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)&^1))
	return out[:int(n)]
}

// Close frees the encoder.
func (e *Encoder) Close() { C.g722_encode_free(e.s) }

// Decoder is a spandsp G.722 decoder at 64000 bit/s with no options.
type Decoder struct{ s *C.g722_decode_state_t }

// NewDecoder allocates a spandsp decoder; Close frees it.
func NewDecoder() *Decoder {
	return &Decoder{s: C.g722_decode_init(nil, 64000, 0)}
}

// Decode decodes data and returns the samples.
func (d *Decoder) Decode(data []byte) []int16 {
	out := make([]int16, 2*len(data))
	if len(data) == 0 {
		return out
	}
	n := C.g722_decode(d.s, (*C.int16_t)(unsafe.Pointer(&out[0])),
		(*C.uint8_t)(unsafe.Pointer(&data[0])), C.int(len(data)))
	return out[:int(n)]
}

// Close frees the decoder.
func (d *Decoder) Close() { C.g722_decode_free(d.s) }
