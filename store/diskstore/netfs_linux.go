package diskstore

import "syscall"

// File system types (statfs f_type) on which a file another process
// replaced or removed may keep a link count of 1 while this process holds
// it open: NFS renames such a file aside instead ("silly rename"), and
// network and FUSE file systems report attributes their servers cached.
const (
	nfsMagic   = 0x6969
	smbMagic   = 0x517b
	cifsMagic  = 0xff534d42
	smb2Magic  = 0xfe534d42
	fuseMagic  = 0x65735546
	ncpMagic   = 0x564c
	codaMagic  = 0x73757245
	afsMagic   = 0x5346414f
	cephMagic  = 0x00c36400
	gfs2Magic  = 0x01161970
	ocfs2Magic = 0x7461636f
)

// linkCountsReliable reports whether dir is on a file system where a file
// replaced or removed while open here is seen with no link (a local one),
// so that a store may keep entry files open there.
func linkCountsReliable(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	switch uint32(st.Type) {
	case nfsMagic, smbMagic, cifsMagic, smb2Magic, fuseMagic, ncpMagic, codaMagic, afsMagic, cephMagic, gfs2Magic, ocfs2Magic:
		return false
	}
	return true
}
