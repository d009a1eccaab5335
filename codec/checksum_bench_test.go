package codec

import (
	"bytes"
	"testing"
)

// BenchmarkChecksum measures what verifying an entry's checksum adds to
// Unmarshal: CRC-32C over the whole entry, at the sizes the Unmarshal
// benchmarks decode.
func BenchmarkChecksum(b *testing.B) {
	for _, bb := range []struct {
		name string
		size int
	}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}} {
		b.Run(bb.name, func(b *testing.B) {
			entry := bytes.Repeat([]byte{0xa5}, bb.size+300) // body and typical metadata
			b.SetBytes(int64(len(entry)))
			for b.Loop() {
				_ = checksum(entry)
			}
		})
	}
}
