//go:build race

package sqlitestore_test

// raceEnabled reports a build with the race detector, under which the
// SQLite engine (Go translated from C) runs tens of times slower, so the
// timed tests expect less work done.
const raceEnabled = true
