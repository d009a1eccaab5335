package memstore

import "math/bits"

// sketch estimates how often each key hash was added, in 4-bit counters
// (0 to 15): a count-min sketch of four counters a key, all in one table
// of 64-bit words, sixteen counters a word. An estimate is the least of a
// key's four counters, so it may count too high (when all four are shared
// with other keys) but never too low, until the counters are halved,
// which the shard does to age the counts.
//
// A shard's sketch is used under its write lock only.
type sketch struct {
	table     []uint64
	shift     uint // 64 - log2(len(table)): the top bits of a mix pick a word
	additions int  // since the last halving
}

const (
	minSketchWords = 16
	maxSketchWords = 1 << 20
)

// mixes are odd multipliers, one a counter, that spread a hash's bits
// into the top bits differently for each of a key's four counters.
var mixes = [4]uint64{0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9, 0x94d049bb133111eb, 0xd6e8feb86659fd93}

// init empties the sketch and sizes it for about capacity keys.
func (s *sketch) init(capacity int) {
	words := minSketchWords
	if capacity > words {
		words = min(1<<bits.Len(uint(capacity-1)), maxSketchWords)
	}
	s.table = make([]uint64, words)
	s.shift = uint(64 - bits.TrailingZeros(uint(words)))
	s.additions = 0
}

// grow resizes an empty-again sketch when a shard holds more entries than
// it has words; the counts so far are lost, which happens only while a
// shard of small values fills up, a few times at most.
func (s *sketch) grow(entries int) {
	if entries > len(s.table) && len(s.table) < maxSketchWords {
		s.init(entries * 2)
	}
}

// slot returns the word and the bit offset of counter i of hash h.
func (s *sketch) slot(h uint64, i int) (word int, off uint) {
	x := h * mixes[i]
	return int(x >> s.shift), uint(x>>(s.shift-4)&15) * 4
}

// add counts one more use of h and returns its new estimate. Only the
// counters at the estimate are incremented (a conservative update), which
// keeps keys that share counters from inflating one another.
func (s *sketch) add(h uint64) uint32 {
	est := s.estimate(h)
	if est == 15 {
		return est
	}
	for i := range mixes {
		w, off := s.slot(h, i)
		if uint32(s.table[w]>>off&15) == est {
			s.table[w] += 1 << off
		}
	}
	s.additions++
	return est + 1
}

// estimate returns how often h was added, or raised to, at least.
func (s *sketch) estimate(h uint64) uint32 {
	est := uint32(15)
	for i := range mixes {
		w, off := s.slot(h, i)
		est = min(est, uint32(s.table[w]>>off&15))
	}
	return est
}

// raise makes h's estimate at least f (at most 15): an evicted entry's
// count, kept for when the key comes back.
func (s *sketch) raise(h uint64, f uint32) {
	f = min(f, 15)
	for i := range mixes {
		w, off := s.slot(h, i)
		if c := uint32(s.table[w] >> off & 15); c < f {
			s.table[w] += uint64(f-c) << off
		}
	}
}

// halve halves every counter.
func (s *sketch) halve() {
	for i, w := range s.table {
		s.table[i] = w >> 1 & 0x7777777777777777
	}
	s.additions /= 2
}
