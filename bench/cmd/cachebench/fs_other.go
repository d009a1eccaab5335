//go:build !linux

package main

import "io/fs"

// allocated is what the file takes on disk, its size where the blocks are
// not known.
func allocated(fi fs.FileInfo) int64 { return fi.Size() }

// inMemoryFS reports file systems in memory on Linux only.
func inMemoryFS(string) (string, bool) { return "", false }
