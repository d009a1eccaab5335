package main

import "testing"

// TestMainRuns runs the quick start as `go run ./examples/quickstart` does
// (its origin answers after a second), so that it cannot rot.
func TestMainRuns(t *testing.T) { main() }
