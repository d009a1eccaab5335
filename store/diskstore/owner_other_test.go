//go:build !unix

package diskstore_test

import "testing"

// plantFIFOs does nothing where there are no FIFOs.
func plantFIFOs(*testing.T, string) []string { return nil }
