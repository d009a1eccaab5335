package diskstore

import "syscall"

// linkCountsReliable reports whether dir is on a file system where a file
// replaced or removed while open here is seen with no link (a local one),
// so that a store may keep entry files open there. Network and FUSE file
// systems are not: NFS renames such a file aside ("silly rename"), and
// others report attributes their servers cached.
func linkCountsReliable(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	var b []byte
	for _, c := range st.Fstypename {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	switch string(b) {
	case "apfs", "hfs", "ufs", "msdos", "exfat", "tmpfs":
		return true
	}
	return false
}
