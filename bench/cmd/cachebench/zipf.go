package main

import "math/rand/v2"

// zipf draws URL indexes in [0, n) with a Zipf distribution of exponent s
// (> 1): index 0 is the most popular. The same seed gives the same
// sequence on every platform (PCG).
type zipf struct{ z *rand.Zipf }

func newZipf(seed uint64, s float64, n int) *zipf {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &zipf{rand.NewZipf(r, s, 1, uint64(n-1))}
}

func (z *zipf) next() int { return int(z.z.Uint64()) }
