package diskstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// The entry file format; see the package documentation.
const (
	magic      = "CSDS" // cachestack disk store
	version    = 1
	headerSize = 36

	offVersion   = 4
	offReserved  = 5 // 3 bytes, zero
	offExpires   = 8
	offValueLen  = 16
	offKeyLen    = 24
	offValueCRC  = 28
	offHeaderCRC = 32
)

// castagnoli is the CRC-32C table; it is read-only after initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reasons a file is not a valid entry. They never leave the package: a file
// that fails to decode is a miss.
var (
	errShort     = errors.New("diskstore: entry shorter than its header")
	errMagic     = errors.New("diskstore: not an entry file (bad magic)")
	errVersion   = errors.New("diskstore: unknown entry format version")
	errReserved  = errors.New("diskstore: reserved header bytes are not zero")
	errHeaderCRC = errors.New("diskstore: header checksum mismatch")
	errLength    = errors.New("diskstore: entry length does not match its header")
	errValueCRC  = errors.New("diskstore: value checksum mismatch")
)

// header is the decoded fixed part of an entry file.
type header struct {
	expires  int64 // Unix nanoseconds; 0 means never
	valueLen uint64
	keyLen   uint32
	valueCRC uint32
}

// size is the length of the whole entry file the header describes, or -1
// if that does not fit an int64.
func (h header) size() int64 {
	n := uint64(headerSize) + uint64(h.keyLen)
	if h.valueLen > 1<<62 || n+h.valueLen > 1<<62 {
		return -1
	}
	return int64(n + h.valueLen)
}

// encodeHeader returns the header and key of an entry for key and value,
// ready to be followed by value in the file.
func encodeHeader(key string, value []byte, expires int64) []byte {
	b := make([]byte, headerSize+len(key))
	copy(b, magic)
	b[offVersion] = version
	binary.LittleEndian.PutUint64(b[offExpires:], uint64(expires))
	binary.LittleEndian.PutUint64(b[offValueLen:], uint64(len(value)))
	binary.LittleEndian.PutUint32(b[offKeyLen:], uint32(len(key)))
	binary.LittleEndian.PutUint32(b[offValueCRC:], crc32.Checksum(value, castagnoli))
	copy(b[headerSize:], key)
	binary.LittleEndian.PutUint32(b[offHeaderCRC:], headerCRC(b[:offHeaderCRC], b[headerSize:]))
	return b
}

// expiresOf returns the expiry (Unix nanoseconds, 0 for never) in the
// header of b, an entry file decodeEntry has accepted.
func expiresOf(b []byte) int64 {
	return int64(binary.LittleEndian.Uint64(b[offExpires:]))
}

// headerCRC is the checksum of the fixed header up to the checksum field,
// followed by the key.
func headerCRC(fixed, key []byte) uint32 {
	return crc32.Update(crc32.Checksum(fixed, castagnoli), castagnoli, key)
}

// peekKeyLen returns the key length a header claims, unverified, so that a
// reader knows how much of the file to read before calling decodeHeader.
// b must hold at least headerSize bytes.
func peekKeyLen(b []byte) uint32 {
	return binary.LittleEndian.Uint32(b[offKeyLen:])
}

// decodeHeader decodes and verifies the header and key at the start of b,
// which must hold at least the fixed header and the key; bytes after the
// key are ignored. The key it returns aliases b. It accepts a header only
// when its magic, version and reserved bytes are right and its checksum,
// which covers the fixed header and the key, matches.
func decodeHeader(b []byte) (header, []byte, error) {
	if len(b) < headerSize {
		return header{}, nil, errShort
	}
	if string(b[:len(magic)]) != magic {
		return header{}, nil, errMagic
	}
	if b[offVersion] != version {
		return header{}, nil, errVersion
	}
	if b[offReserved]|b[offReserved+1]|b[offReserved+2] != 0 {
		return header{}, nil, errReserved
	}
	h := header{
		expires:  int64(binary.LittleEndian.Uint64(b[offExpires:])),
		valueLen: binary.LittleEndian.Uint64(b[offValueLen:]),
		keyLen:   binary.LittleEndian.Uint32(b[offKeyLen:]),
		valueCRC: binary.LittleEndian.Uint32(b[offValueCRC:]),
	}
	if uint64(len(b)-headerSize) < uint64(h.keyLen) {
		return header{}, nil, errShort
	}
	key := b[headerSize : headerSize+int(h.keyLen)]
	if headerCRC(b[:offHeaderCRC], key) != binary.LittleEndian.Uint32(b[offHeaderCRC:]) {
		return header{}, nil, errHeaderCRC
	}
	if h.size() < 0 {
		return header{}, nil, errLength
	}
	return h, key, nil
}

// decodeEntry decodes and verifies a whole entry file. The key and value it
// returns alias b.
func decodeEntry(b []byte) (h header, key, value []byte, err error) {
	h, key, err = decodeHeader(b)
	if err != nil {
		return header{}, nil, nil, err
	}
	if h.size() != int64(len(b)) {
		return header{}, nil, nil, errLength
	}
	value = b[headerSize+len(key):]
	if crc32.Checksum(value, castagnoli) != h.valueCRC {
		return header{}, nil, nil, errValueCRC
	}
	return h, key, value, nil
}
