//go:build race

package slabstore_test

const raceEnabled = true
