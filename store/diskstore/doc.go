// Package diskstore is a store.Store[string, []byte] kept in a directory,
// one file per entry, which several processes may share.
//
// It is the Go counterpart of the filesystem backend of the reference
// library, aiohttp-client-cache, whose cache name is the cache directory:
// New("~/.cache/myapp", nil) expands "~" to the user's home directory.
// OpenResponses opens the same store typed for the cache, in one line.
//
// # Layout
//
// An entry's file is named after the hex SHA-256 of its key, in a fan-out
// directory named after the first two hex digits:
//
//	<dir>/3f/3fa9…(64 hex digits)
//
// so any key — empty, "../", with NUL bytes, 4 KiB long — maps to a safe
// name, and no directory holds more than about 1/256 of the entries. One
// level of 256 directories (rather than two, 65,536) keeps the directories'
// own disk use, which the budget does not count, under about 1 MiB, while
// a full default cache of 1 KiB entries puts about 4,000 files in each.
//
// # The directory is the store's own
//
// A directory the store uses holds a marker file, <dir>/.cachestack-diskstore:
//
//	cachestack diskstore
//	format 1
//	id 3f9a0c1de2b4a6f8
//	# (two comment lines for whoever looks)
//
// The format line names this layout and entry format; a release that
// changes either writes a new number, and New refuses a directory marked
// with a format it does not know, rather than misreading it. The id, 64
// random bits, names the directory's temporary files (below).
//
// New writes the marker in a directory it creates, or in an existing one
// that is empty. It opens a directory with a marker. Any other directory
// it refuses, with an error that names the directory and a file in the
// way and matches ErrNotCacheDir, and it changes nothing in it: a
// mistaken dir — "~", a project or download directory, another program's
// cache — is never taken over.
// One exception keeps caches written before the marker existed: a
// directory without a marker that holds nothing but fan-out directories of
// valid entry files (each header verified and named after its key's hash)
// and that release's temporary files (".tmp-" or ".tmp-probe-" and digits)
// is marked and used as it is. A single file of anything else and New
// refuses it.
//
// Inside its directory, the store removes or replaces only files it can
// prove it wrote, by name and by content:
//
//   - entry files: a regular file (never a symbolic link, which is not
//     followed, nor a directory or FIFO) with an entry name in its fan-out
//     directory that starts with the entry magic "CSDS". Get, Keys,
//     eviction and Sweep remove such a file when it is expired or fails
//     its checks; Delete and Clear remove it; Set replaces it. A file
//     with an entry name that does not start with the magic is a miss
//     for Get, skipped by Keys and the byte count, and never removed:
//     Delete of its key succeeds and leaves it, and Set of its key
//     returns an error and leaves it. Set also refuses to write through a
//     fan-out directory that is a symbolic link.
//   - temporary files: named ".csds-tmp-", the directory's id, "-" and a
//     random suffix; or, left by the release before the marker, ".tmp-"
//     and digits and starting with (part of) the entry magic.
//
// Everything else in the tree — other names, directories, links — is
// never opened for writing, removed or counted.
//
// # File format
//
// A file is a 36-byte header, the key, then the value. Integers are little
// endian; checksums are CRC-32C (Castagnoli).
//
//	offset size  field
//	0      4     magic "CSDS"
//	4      1     format version, 1
//	5      3     reserved, zero
//	8      8     expiry, Unix nanoseconds (int64); 0 means never
//	16     8     value length (uint64)
//	24     4     key length (uint32)
//	28     4     CRC-32C of the value
//	32     4     CRC-32C of bytes 0–31 followed by the key
//	36     n     the key
//	36+n   m     the value
//
// A file is a valid entry for key only if the magic, version and reserved
// bytes are right, the header checksum matches, the file's length is
// exactly 36 + key length + value length, the value checksum matches, and
// the key in the file is the key asked for. The header checksum covers the
// value's checksum, so together they cover every byte of the file. Keys
// reads only the header and key, verifies the header checksum and that the
// file is named after the key's hash, and does not read the value.
//
// # Writes, crashes and sharing
//
// Set writes the whole file under a temporary name (".csds-tmp-", the
// directory's id, "-" and a random suffix) in the entry's fan-out
// directory and renames it into place,
// which is atomic on POSIX file systems: a reader in any process opens
// either the old complete file or the new one, never a mix. Readers verify
// the checksums and the key, so a file damaged on disk, truncated, or
// dropped in by something else is a miss (store.ErrNotFound); it is
// removed if it still starts with the entry magic (see above). Set does
// not fsync: after a power loss an entry may be missing or fail its
// checksum, which again is a miss, never a wrong value.
//
// A crash between writing and renaming leaves a temporary file. Readers
// and Keys never look at temporary files; New, Clear, Sweep and eviction
// scans remove the store's own (see above) whose modification time is
// older than Options.TempGrace (default 10 minutes) by the store's Clock,
// so that another process's write in progress is not removed under it.
//
// Removing a file that is already gone succeeds, so processes may delete
// the same entries. A store removes an expired or invalid file it read,
// or an entry it chose to evict, only if the path still holds the same
// file, unchanged; a file replaced between that check and the removal (a
// window of one system call) is lost, which costs a miss, never a wrong
// value.
//
// # Expiry
//
// A positive ttl is stored in the header as an absolute time by the
// store's Clock (Options.Clock, default time.Now). Get and Keys treat an
// entry whose expiry has come as a miss and remove its file; Sweep
// removes every expired file; eviction takes expired entries as they come
// to be the least recently used. Nothing runs in the
// background: a Store owns no goroutines.
//
// # Bounded reads
//
// Options.MaxEntryBytes bounds one entry file: by default 16 MiB, or
// MaxBytes if that is smaller. Set does not store a larger entry. Get
// reads a file whole only if it is no larger (the size it indexed, or a
// stat before it reads anything), so a huge file at an entry's path, planted or written
// by a process with a larger bound, is a miss that costs one stat; Keys
// and scans read only the header and key of a file, also within the bound.
//
// # Budget and eviction
//
// Options.MaxBytes (default 1 GiB) bounds the sum of the entry files'
// lengths — header, key and value. It does not count file-system block
// rounding, directories, temporary files of writes in progress, or files
// that are not the store's entry files. (New's scan, which does not open
// files, counts every regular file named like an entry; eviction and
// Sweep, which read them, leave out those without the magic.)
//
// Each store keeps an index in memory of the entry files it knows — each
// file's size and identity (its inode number), in order of use — about
// 180 bytes per entry. New builds it with one scan of the directory,
// which stats the files without opening them and orders them by
// modification time; Get, Set, Delete and every removal keep it up to
// date, each under the key's lock together with the file system change
// it records. When a Set takes the indexed bytes over MaxBytes, it removes
// the least recently used entries until they are within MaxBytes: it
// reads no directory and no header, and checks each file it removes with
// one open and read (that it is still the file it indexed, and ours).
// Within one process, eviction is exact LRU.
//
// Recency across processes: a process orders entries by its own use. It
// does not read access times (often disabled, or updated lazily, by
// mount options). A Get of an entry last touched TouchAfter (a minute) ago
// or more sets the file's modification time to now, so reads cost at most
// one extra system call per entry per minute and other processes see the
// use to within a minute. A process learns of another's work in three
// ways: a Get that finds a file its index lacks, or that differs from
// what it indexed, indexes it as the most recently used; a Get or an
// eviction that finds a file gone drops it; and Sweep re-scans the
// directory, reading every header, and brings the index up to date, files
// this process has not used going behind those it has, oldest
// modification time last. A store whose Options.Clock is set stamps
// files with that clock's time instead of the system's.
//
// What is guaranteed:
//
//   - With one process using the directory, whenever no Set is in
//     progress, the entry files total at most MaxBytes. While Sets run,
//     the excess is at most the entries those Sets are writing.
//   - New and Sweep bring the whole directory — every process's entries —
//     within MaxBytes at that moment, entries written during the scan
//     aside.
//
// What is not: between scans, a process counts only the files it wrote
// or found, so with P processes sharing a directory it may hold up to
// about P times MaxBytes until one of them scans. Processes that need the
// shared bound held more tightly call Sweep periodically. Eviction removes
// only entry files the store wrote.
//
// # Open files
//
// On Unix a store keeps the files of the entries it read most recently
// open, up to Options.MaxOpenFiles (DefaultMaxOpenFiles, 1024, or a
// quarter of the process's limit on open files if that is less). A Get of
// an entry whose file is open costs two system calls, fstat and pread,
// where opening it costs three (open, read, close), the dearest two of
// which look up the path and set up and tear down an open file. Reading
// the open file is as safe as opening the path:
//
//   - entry files are never changed in place, only replaced (rename) or
//     removed, and either leaves the old file, still open here, with no
//     link. Get reads an open file only if fstat shows it linked exactly
//     once and of the size the index knows; a file another process
//     replaced or removed is let go and the path opened again, so a Get
//     never returns an entry that another process has replaced or
//     removed before the Get began. A file moved or hard-linked by
//     something other than a diskstore is let go too.
//   - within the process, Set, Delete, Clear, eviction and Sweep let go of
//     an entry's open file under the same lock as the change they make,
//     and a file a Get opened while the entry was replaced is not kept.
//   - a file is closed when the store lets go of it and no read uses it
//     any more, so a read never reaches another file that took its number.
//
// Close closes them all. A removed file's disk space is freed when the
// last process holding it open closes it: files other processes removed
// or replaced stay allocated until this store's next Get of the entry,
// its eviction, a Sweep that notices, or Close — at most MaxOpenFiles
// files, not counted in the budget. MaxOpenFiles -1 keeps no file open.
//
// The link count is what tells a kept file from the current one, so no
// file is kept open on a file system where it is not reliable: network
// and FUSE file systems (NFS renames an open file aside when it is
// removed, so it keeps its link, and such systems may report attributes
// their server cached). On Linux and macOS New checks the directory's
// file system type; on other Unix systems, a directory on such a file
// system wants MaxOpenFiles -1.
//
// # Lookups without waiting
//
// A Store may block (a disk can hang), so the cache calls it under a
// deadline, from a goroutine it can walk away from, which costs a hit
// several microseconds of hand-over. A Store also implements
// store.TryGetter, whose TryGet the cache calls first, on the caller's
// goroutine. On Linux it answers when no system call it makes can wait for
// the device: only for an entry whose file is kept open, with the same two
// system calls as Get, an fstat of the open file, which reads the
// in-memory inode of a file on a local file system, and a preadv2 with
// RWF_NOWAIT, which reads from the page cache and fails at once, rather
// than waiting for the disk, if the bytes are not all there. The file must
// also have been opened with O_NOATIME, which a process may do for the
// files it owns, since updating a file's access time may wait for the file
// system's journal. Everything else returns store.ErrWouldBlock, and the
// cache makes the Get, under its deadline: an entry not indexed or whose
// file is not kept open, a file another process replaced or removed, bytes
// not in the page cache, an expired or damaged entry, and a hit whose
// modification time is due to be refreshed (TouchAfter), which writes.
// TryGet also answers store.ErrNotFound for a key the index does not know
// whose file the kernel knows to be absent without reading the disk: it
// looks the path up with openat2 and RESOLVE_CACHED (Linux 5.12), which
// resolves from the kernel's cache of names alone. That cache holds a name
// looked up or removed before as absent until a file is created under it,
// by this process or another, so a response that expired and is fetched
// again, or the second lookup a response that varies makes, is answered
// at once; a name never looked up is left to Get.
// TryGet takes none of the locks that Get, Set, Delete, eviction and Sweep
// hold across file system calls. A kernel or file system that refuses
// RWF_NOWAIT or RESOLVE_CACHED is found out at the first TryGet that asks
// for it, which then never does again. Elsewhere TryGet never answers.
//
// A Store also implements store.VersionedTryGetter. TryGetVersion answers
// as TryGet does, with a Version naming the kept file it read, a number
// given to the file when the Store began to keep it open, which no other
// file it keeps, nor the same one kept open again, ever gets. Given that
// version back, it reads nothing and answers store.ErrUnchanged, with the
// fstat alone, while the file is still the entry's (linked once, at the
// size the Store knows: entry files are never changed in place, only
// replaced by a rename or removed, so such a file holds the bytes it held
// when it was read), the entry has not expired and its modification time
// is not due to be refreshed. codec.Bind uses it to hand out again the
// value it decoded from those bytes, so that such a hit reads and decodes
// nothing. A Set or Delete through any Store on the directory, and a file
// the Store stops keeping open, end the version.
//
// # Ownership
//
// Set keeps no reference to the slice it is given. Get reads the file into
// a new buffer and returns the value as a slice of it, which the caller
// owns and may modify or append to; nothing else refers to that buffer.
// So do TryGet and TryGetVersion.
//
// # Contexts and errors
//
// Get, TryGet, Set and Delete check their context before any file-system work;
// Keys and Clear check it before each directory. Errors other than a miss
// are *store.Error values ("diskstore get …") that unwrap to the cause;
// after Close every call returns an error matching store.ErrClosed, and a
// second Close returns nil.
//
// # Upgrading
//
// The entry file format is unchanged from the release before the marker,
// and New adopts that release's directories as described above; their
// entries stay valid. A directory that release shared with other files is
// refused: move the cache elsewhere (or empty the directory) and point New
// at it. Values are whatever the caller stores: a cache of responses
// stores codec entries, whose own format version decides whether they
// still decode (see package codec).
//
// # Portability
//
// Atomic replacement relies on rename(2) over an existing file. On
// Windows, renaming over a file another process has open fails; Set then
// returns an error and the old entry stays. That is why a store keeps no
// file open there (see Open files). On Unix, files are opened
// with O_NOFOLLOW and O_NONBLOCK, so a symbolic link or a FIFO at an
// entry's path is neither followed nor blocked on; elsewhere a symbolic
// link is refused by an Lstat just before the open. Marking a directory
// uses a hard link, so that no store reads half a marker; on a file
// system without hard links it creates the marker exclusively instead.
package diskstore
