package media

import "github.com/setbridge/setbridge/media/g722"

type g722Encoder struct{ e *g722.Encoder }

func newG722Encoder() g722Encoder { return g722Encoder{g722.NewEncoder()} }

func (c g722Encoder) Encode(dst []byte, pcm []int16) (int, error) {
	if len(dst) < len(pcm)/2 {
		return 0, ErrShortBuffer
	}
	return c.e.Encode(dst, pcm), nil
}

type g722Decoder struct{ d *g722.Decoder }

func newG722Decoder() g722Decoder { return g722Decoder{g722.NewDecoder()} }

func (c g722Decoder) Decode(dst []int16, payload []byte) (int, error) {
	if len(dst) < 2*len(payload) {
		return 0, ErrShortBuffer
	}
	return c.d.Decode(dst, payload), nil
}
