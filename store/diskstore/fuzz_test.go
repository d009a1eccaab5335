package diskstore

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	for _, tt := range []struct {
		key, value string
		expires    int64
	}{
		{"", "", 0},
		{"k", "v", 1},
		{"GET https://example.com/", "body", 1735689600000000000},
		{"nul\x00../../x", string(make([]byte, 300)), -1},
	} {
		head := encodeHeader(tt.key, []byte(tt.value), tt.expires)
		f.Add(append(head, tt.value...))
		f.Add(head[:len(head)/2])
	}
	f.Add([]byte(magic))
	f.Add(make([]byte, headerSize))
}

// FuzzDecodeHeader: decodeHeader never panics, and accepts a header only
// if its checksum over the fixed header and the key matches.
func FuzzDecodeHeader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, key, err := decodeHeader(b)
		if err != nil {
			return
		}
		if len(b) < headerSize+len(key) || !bytes.Equal(key, b[headerSize:headerSize+len(key)]) {
			t.Fatalf("accepted key %q is not the bytes after the header", key)
		}
		want := crc32.Checksum(append(bytes.Clone(b[:offHeaderCRC]), key...), crc32.MakeTable(crc32.Castagnoli))
		if got := binary.LittleEndian.Uint32(b[offHeaderCRC:]); got != want {
			t.Fatalf("accepted a header whose checksum %#x should be %#x", got, want)
		}
		if string(b[:4]) != magic || b[4] != version || h.keyLen != uint32(len(key)) || h.size() < 0 {
			t.Fatalf("accepted a malformed header: %+v", h)
		}
	})
}

// FuzzDecodeEntry: decodeEntry never panics, accepts a file only if both
// checksums match and its length is the header's, and what it accepts
// encodes back to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, key, value, err := decodeEntry(b)
		if err != nil {
			return
		}
		if crc32.Checksum(value, crc32.MakeTable(crc32.Castagnoli)) != h.valueCRC {
			t.Fatal("accepted a value whose checksum fails")
		}
		again := append(encodeHeader(string(key), value, h.expires), value...)
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which encodes back as %x", b, again)
		}
	})
}

// FuzzParseMarker: parseMarker never panics, and accepts only a marker
// whose first three lines are the title, this format and an id of 16
// lower-case hex digits, which it returns.
func FuzzParseMarker(f *testing.F) {
	f.Add([]byte(markerText("0123456789abcdef")))
	f.Add([]byte("cachestack diskstore\nformat 2\nid 0123456789abcdef\n"))
	f.Add([]byte("cachestack diskstore\nformat 01\nid 0123456789abcdef"))
	f.Add([]byte("cachestack diskstore\r\nformat 1\r\nid 0123456789abcdef\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := parseMarker(b)
		if err != nil {
			return
		}
		if len(id) != idLen || !isLowerHex(id) {
			t.Fatalf("accepted id %q", id)
		}
		lines := bytes.SplitN(b, []byte("\n"), 4)
		if len(lines) < 3 || string(bytes.TrimSuffix(lines[0], []byte("\r"))) != markerTitle ||
			string(bytes.TrimSuffix(lines[1], []byte("\r"))) != "format 1" {
			t.Fatalf("accepted %q", b)
		}
	})
}
