package main

import (
	"io/fs"
	"syscall"
)

// allocated is what the file takes on disk: its allocated blocks.
func allocated(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// inMemoryFS names the file system of dir when it keeps files in memory
// (tmpfs, ramfs), where a disk store's latency would be memory's.
func inMemoryFS(dir string) (string, bool) {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return "", false
	}
	switch st.Type {
	case 0x01021994:
		return "tmpfs", true
	case 0x858458f6:
		return "ramfs", true
	}
	return "", false
}
