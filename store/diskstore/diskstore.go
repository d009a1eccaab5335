package diskstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/store"
)

const name = "diskstore"

// Defaults for Options.
const (
	// DefaultMaxBytes is the byte budget when Options.MaxBytes is 0.
	DefaultMaxBytes = 1 << 30
	// DefaultMaxEntryBytes bounds an entry file when Options.MaxEntryBytes
	// is 0 (and MaxBytes is larger): twice the cache middleware's default
	// body limit, room for a body at that limit and its header.
	DefaultMaxEntryBytes = 16 << 20
	// DefaultTempGrace is how old a leftover temporary file must be before
	// it is removed, when Options.TempGrace is 0.
	DefaultTempGrace = 10 * time.Minute
	// TouchAfter is how old an entry's modification time must be before a
	// Get refreshes it: recency is tracked to within this much, for the
	// price of at most one extra system call per entry per TouchAfter.
	TouchAfter = time.Minute
	// DefaultMaxOpenFiles is how many entry files a Store keeps open when
	// Options.MaxOpenFiles is 0, unless a quarter of the process's limit
	// on open files is less.
	DefaultMaxOpenFiles = 1024
)

const (
	nameLen     = 2 * sha256.Size // hex
	fanLen      = 2               // hex digits of the fan-out directory
	lockStripes = 64
	dirPerm     = 0o700
)

// Options configure a Store. A nil *Options, like the zero value, means
// the defaults.
type Options struct {
	// MaxBytes is the byte budget: the sum of the sizes of the entry files
	// (header, key and value; see the package documentation for what is
	// and isn't counted). 0 means DefaultMaxBytes; negative is an error,
	// and so is a budget too small for any entry (under 36 bytes).
	MaxBytes int64
	// MaxEntryBytes bounds one entry file (header, key and value). Set
	// does not store a larger entry; Get treats a larger file as a miss
	// without reading it, and Keys skips it, so a huge file in the
	// directory costs no memory. 0 means DefaultMaxEntryBytes or
	// MaxBytes, whichever is smaller. Negative, under 36 bytes, or more
	// than MaxBytes is an error. A cache that stores bodies larger than
	// about 16 MiB (middleware.StoreOptions.MaxBodyBytes) needs it raised.
	MaxEntryBytes int64
	// TempGrace is how old, by Clock and the file's modification time, a
	// temporary file must be before a scan removes it as the leftover of
	// a crashed writer. It should exceed the longest write of any process
	// sharing the directory. 0 means DefaultTempGrace; negative is an
	// error.
	TempGrace time.Duration
	// Clock tells the time for ttls, recency and the temporary files'
	// grace period. Nil means time.Now. A store with a Clock stamps the
	// files it writes with the Clock's time, so that recency follows it.
	Clock func() time.Time
	// Logger receives failures that no call returns: an entry file that
	// eviction could not remove. Nil discards them.
	Logger *slog.Logger
	// MaxOpenFiles bounds how many entry files the Store keeps open, the
	// most recently read, so that a Get of one reads it without opening
	// it (see the package documentation, Open files). 0 means
	// DefaultMaxOpenFiles, or a quarter of the process's limit on open
	// files (RLIMIT_NOFILE) if that is less; -1 keeps none open. Other
	// negative values are an error, and so is more than half the
	// process's limit. Only Unix keeps files open: elsewhere an open file
	// would stop other processes from replacing it, and none is kept.
	// Nor is any kept on a network or FUSE file system (on Linux and
	// macOS, by the type of the directory's file system), where a file
	// another machine or process replaced may still look current to a
	// process holding it open.
	MaxOpenFiles int
}

// Store is a directory of entry files. It implements
// store.Store[string, []byte], store.Lister[string] and store.Clearer.
// Its zero value is not usable; call New. A Store owns no goroutines.
type Store struct {
	dir       string
	maxBytes  int64
	maxEntry  int64
	grace     time.Duration
	now       func() time.Time
	stampTime atomic.Bool // a clock was given: stamp written files with it
	clock     store.Clock // the clock, when Options.Clock is nil
	ownNow    bool        // Options.Clock was set
	log       *slog.Logger
	id        string // the directory's id, from its marker
	tempPre   string // tempPrefix, id, "-": the names of its temporary files

	closed atomic.Bool
	// nowait: TryGet may answer (readsNowait, files are kept open, and
	// the kernel has not refused RWF_NOWAIT).
	nowait atomic.Bool
	// lookupsNowait: TryGet may look a name up in the kernel's cache of
	// names (nowait, and the kernel has not refused RESOLVE_CACHED).
	lookupsNowait atomic.Bool
	// orphans are the last references to kept files that TryGet let go
	// of, for Get and Close to release (see releaseLater); orphanMu is
	// never held across a system call.
	orphanMu sync.Mutex
	orphans  []*openFD

	// ix is the entry files this process knows, in order of use. A key's
	// entry in ix changes only under its stripe's lock, with the file
	// system change it records, so that for this process's own writes
	// and removals ix matches the directory exactly.
	ix      *index
	scanMu  sync.Mutex              // one scan at a time
	stripes [lockStripes]sync.Mutex // by the key hash's first byte
}

var (
	_ store.Store[string, []byte] = (*Store)(nil)
	_ store.Lister[string]        = (*Store)(nil)
	_ store.Clearer               = (*Store)(nil)

	_ store.TryGetter[string, []byte]  = (*Store)(nil)
	_ store.VersionedTryGetter[string] = (*Store)(nil)
)

// New opens the cache directory dir, creating it (mode 0700) if needed.
// A dir of "~" or starting with "~/" is relative to the user's home
// directory. New fails, naming the directory, when dir cannot be created
// or a file cannot be written in it, and when an option is out of range.
//
// The directory must be the store's own: New marks a directory it creates,
// or one that is empty, with a marker file (see the package documentation),
// and opens a directory that has a marker. It refuses, with an error naming
// a file in the way, a directory that has no marker and holds anything
// but what an earlier release of this package wrote there, so a mistaken
// dir ("~", a project directory) is never taken over. It also refuses a
// directory marked by a newer, incompatible release.
//
// New scans the directory once: it indexes the entry files (their sizes
// and modification times, without opening them), removes its own
// temporary files older than the grace period, and evicts down to the
// budget if the directory is over it.
func New(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.MaxBytes < 0:
		return nil, fmt.Errorf("diskstore: Options.MaxBytes is %d, want >= 0", o.MaxBytes)
	case o.MaxBytes > 0 && o.MaxBytes < headerSize:
		return nil, fmt.Errorf("diskstore: Options.MaxBytes is %d, too small for any entry (an entry file takes %d bytes and its key and value)", o.MaxBytes, headerSize)
	case o.MaxEntryBytes < 0:
		return nil, fmt.Errorf("diskstore: Options.MaxEntryBytes is %d, want >= 0", o.MaxEntryBytes)
	case o.MaxEntryBytes > 0 && o.MaxEntryBytes < headerSize:
		return nil, fmt.Errorf("diskstore: Options.MaxEntryBytes is %d, too small for any entry (an entry file takes %d bytes and its key and value)", o.MaxEntryBytes, headerSize)
	case o.MaxEntryBytes > cmp.Or(o.MaxBytes, DefaultMaxBytes):
		return nil, fmt.Errorf("diskstore: Options.MaxEntryBytes is %d, more than Options.MaxBytes (%d)", o.MaxEntryBytes, cmp.Or(o.MaxBytes, DefaultMaxBytes))
	case o.TempGrace < 0:
		return nil, fmt.Errorf("diskstore: Options.TempGrace is %v, want >= 0", o.TempGrace)
	case o.MaxOpenFiles < -1:
		return nil, fmt.Errorf("diskstore: Options.MaxOpenFiles is %d, want >= 0, or -1 for none", o.MaxOpenFiles)
	case o.MaxOpenFiles > 0 && openFileLimit() > 0 && o.MaxOpenFiles > openFileLimit()/2:
		return nil, fmt.Errorf("diskstore: Options.MaxOpenFiles is %d, more than half the process's limit on open files (%d)", o.MaxOpenFiles, openFileLimit())
	case dir == "":
		return nil, errors.New("diskstore: cache directory is empty")
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntryBytes == 0 {
		o.MaxEntryBytes = min(DefaultMaxEntryBytes, o.MaxBytes)
	}
	if o.TempGrace == 0 {
		o.TempGrace = DefaultTempGrace
	}
	switch {
	case !keepsOpen, o.MaxOpenFiles == -1:
		o.MaxOpenFiles = 0
	case o.MaxOpenFiles == 0:
		o.MaxOpenFiles = DefaultMaxOpenFiles
		if lim := openFileLimit(); lim > 0 {
			o.MaxOpenFiles = min(o.MaxOpenFiles, lim/4)
		}
	}
	s := &Store{
		maxBytes: o.MaxBytes,
		maxEntry: o.MaxEntryBytes,
		grace:    o.TempGrace,
		now:      o.Clock,
		ownNow:   o.Clock != nil,
		log:      o.Logger,
		ix:       newIndex(o.MaxOpenFiles),
	}
	s.stampTime.Store(s.ownNow)
	if s.now == nil {
		s.now = s.clock.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.dir, err = expandDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir, dirPerm); err != nil {
		return nil, fmt.Errorf("diskstore: cannot create cache directory %q: %w", s.dir, err)
	}
	if err := s.claim(); err != nil {
		return nil, err
	}
	if s.ix.maxOpen > 0 && !linkCountsReliable(s.dir) {
		s.ix.maxOpen = 0 // see Options.MaxOpenFiles
	}
	s.nowait.Store(readsNowait && s.ix.maxOpen > 0)
	s.lookupsNowait.Store(s.nowait.Load())
	probe, err := os.CreateTemp(s.dir, s.tempPre+"probe-*")
	if err != nil {
		return nil, fmt.Errorf("diskstore: cache directory %q is not writable: %w", s.dir, err)
	}
	_ = probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, fmt.Errorf("diskstore: cache directory %q: %w", s.dir, err)
	}
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	if err := s.scan(false); err != nil {
		return nil, fmt.Errorf("diskstore: scanning cache directory %q: %w", s.dir, err)
	}
	s.evict()
	return s, nil
}

// expandDir expands a leading "~" and makes dir absolute, so that a later
// change of working directory does not move the cache.
func expandDir(dir string) (string, error) {
	if dir == "~" || strings.HasPrefix(dir, "~/") || strings.HasPrefix(dir, "~"+string(filepath.Separator)) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("diskstore: expanding %q: %w", dir, err)
		}
		dir = filepath.Join(home, dir[1:])
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("diskstore: cache directory %q: %w", dir, err)
	}
	return abs, nil
}

// Dir returns the cache directory, absolute and with "~" expanded.
func (s *Store) Dir() string { return s.dir }

// Bytes returns the bytes of entry files as this process knows them: exact
// for what this process wrote and deleted since its last scan, plus what
// that scan found (see the package documentation).
func (s *Store) Bytes() int64 { return s.ix.used() }

// Get returns the value stored under key, in a fresh slice the caller owns
// (the file is read once into a buffer of its size, and the value is
// returned from it without a further copy). A missing, expired, corrupt,
// truncated or foreign file is a miss, store.ErrNotFound. An expired or
// damaged entry file is removed; a file that is not an entry file this
// package wrote (it does not start with the entry magic, or is not a
// regular file) is left alone, and so is one larger than MaxEntryBytes,
// which Get does not read. A hit makes the entry the most recently used;
// one whose file was last touched TouchAfter ago or more also has its
// modification time set to now, which is how other processes sharing the
// directory learn of the use (see the package documentation). Get checks
// ctx before it opens the file.
//
// An entry this process has indexed costs two system calls on Unix if
// the store keeps its file open (fstat, to check it is still the entry's
// file, and one read of the size it indexed; see Options.MaxOpenFiles),
// and two if not (open, one read), after which the store keeps it open,
// closing the least recently read file it kept if it holds as many as it
// may.
// Anything else (a file another process wrote or replaced, an expired or
// damaged one) is read again the careful way, with a stat first.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if s.closed.Load() {
		return nil, store.Wrap(name, "get", key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, store.Wrap(name, "get", key, err)
	}
	s.releaseOrphans()
	sum := sha256.Sum256([]byte(key))
	known, kept, ver, indexed := s.ix.use(&sum)
	if indexed && known.size >= headerSize && known.size <= s.maxEntry {
		if v, ok := s.getKnown(key, &sum, known, kept, ver); ok {
			return v, nil
		}
		// Gone, not the file the index knows (another process wrote or
		// replaced it), expired, or not a valid entry: read it the
		// careful way, below.
	} else {
		kept.release()
	}
	path := s.path(&sum)
	f, err := openFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if indexed {
				s.forget(path, &sum)
			}
			return nil, store.ErrNotFound
		}
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, store.ErrNotFound // a symbolic link, a directory...: not ours
		}
		return nil, store.Wrap(name, "get", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, store.Wrap(name, "get", key, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > s.maxEntry {
		return nil, store.ErrNotFound // not ours, or too large to read
	}
	buf := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			s.dropBad(path, &sum, fi) // shrank under us: not a file we wrote
			return nil, store.ErrNotFound
		}
		return nil, store.Wrap(name, "get", key, err)
	}
	if len(buf) < len(magic) || string(buf[:len(magic)]) != magic {
		return nil, store.ErrNotFound // not ours: left alone
	}
	h, k, value, err := decodeEntry(buf)
	if err != nil || string(k) != key {
		s.dropBad(path, &sum, fi)
		return nil, store.ErrNotFound
	}
	now := s.now()
	if h.expires != 0 && now.UnixNano() >= h.expires {
		s.dropBad(path, &sum, fi)
		return nil, store.ErrNotFound
	}
	s.learn(path, &sum, fi)
	if now.Sub(fi.ModTime()) >= TouchAfter {
		s.touch(path, &sum, fileID(fi), now)
	}
	return value, nil // b[off:], so its capacity ends where the buffer does
}

// getKnown is Get's fast path, for an entry the index knows as known: a
// read of the file the index keeps open (kept, with a reference that
// getKnown releases), if it is still the entry's file; otherwise an open
// and a read of the file at path, which the index then keeps open if the
// entry is still the one put as ver. It reports false for anything but a
// valid, live entry for key, for Get to look again the careful way.
func (s *Store) getKnown(key string, sum *[sha256.Size]byte, known entryInfo, kept *openFD, ver uint64) ([]byte, bool) {
	if kept != nil {
		buf, err := kept.readKept(known.size)
		kept.release()
		if err == nil {
			return s.live(key, sum, known, buf)
		}
		// Replaced or removed by another process: let it go, and open
		// what is there now.
		s.ix.uninstall(sum, kept).release()
	}
	fd, buf, err := openRead(s.path(sum), known.size)
	if err != nil {
		return nil, false
	}
	v, ok := s.live(key, sum, known, buf)
	if ok && fd != nil {
		fd.expires = expiresOf(buf) // before the index shares fd
		kept, victim := s.ix.install(sum, ver, fd)
		victim.release()
		if kept {
			return v, true
		}
	}
	fd.release()
	return v, ok
}

// live decodes buf, the file of key's entry the index knows as known,
// and returns its value if it is a valid entry for key that has not
// expired; it touches the file if that is due.
func (s *Store) live(key string, sum *[sha256.Size]byte, known entryInfo, buf []byte) ([]byte, bool) {
	now := s.now()
	value, ok := valueAt(key, buf, now)
	if ok && now.UnixNano()-known.touched >= int64(TouchAfter) {
		s.touch(s.path(sum), sum, known.id, now)
	}
	return value, ok
}

// valueAt decodes buf, an entry file, and returns its value if it is a
// valid entry for key that has not expired at now.
func valueAt(key string, buf []byte, now time.Time) ([]byte, bool) {
	h, k, value, err := decodeEntry(buf)
	if err != nil || string(k) != key || (h.expires != 0 && now.UnixNano() >= h.expires) {
		return nil, false
	}
	return value, true // buf[off:], so its capacity ends where the buffer does
}

// TryGet implements store.TryGetter: it returns what Get would, but only
// when that takes no system call that may wait for the disk, and
// store.ErrWouldBlock otherwise, having changed nothing but the entry's
// recency. It answers, on Linux, for an entry this process has indexed
// and whose file it keeps open (see Options.MaxOpenFiles) without access
// times (O_NOATIME, for a file this process owns), when the file is
// still the entry's, all its bytes are in the page cache (it reads them
// with RWF_NOWAIT), the entry has not expired, and its modification
// time is not due to be refreshed (TouchAfter). It also answers
// store.ErrNotFound for a key the index does not know whose file the
// kernel knows, from its cache of names, to be absent (openat2 with
// RESOLVE_CACHED): a key looked up or removed before, which a response
// expired and fetched again, or a second lookup of a missing key, asks
// for. Anything else is left to Get: a name not in the kernel's cache (a
// key never looked up), an unindexed file that exists (another process
// wrote it), a file not kept open, one replaced or removed by another
// process, an expired or damaged entry. It never answers elsewhere, nor
// where the kernel or the file system refuses RWF_NOWAIT or
// RESOLVE_CACHED, which it finds out once. It takes none of the locks
// that Get, Set, Delete and eviction hold across file system calls.
func (s *Store) TryGet(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.tryGet(ctx, key, 0)
	return v, err
}

// TryGetVersion implements store.VersionedTryGetter: it answers when TryGet
// does, with what TryGet returns and a Version naming the kept file it
// read, and returns store.ErrUnchanged, reading nothing, when have names
// the file the store keeps open for key and that file is still the
// entry's (an fstat shows it linked once, at the size the index knows:
// entry files are never changed in place, only replaced by a rename or
// removed, so it holds the same bytes), the entry has not expired and its
// modification time is not due to be refreshed. A file kept open again,
// after it was let go (evicted from the open files, replaced, removed),
// gets a Version no file had before.
func (s *Store) TryGetVersion(ctx context.Context, key string, have store.Version) ([]byte, store.Version, error) {
	return s.tryGet(ctx, key, have)
}

// tryGet is TryGet and TryGetVersion.
func (s *Store) tryGet(ctx context.Context, key string, have store.Version) ([]byte, store.Version, error) {
	if !s.nowait.Load() {
		return nil, 0, store.ErrWouldBlock
	}
	if s.closed.Load() {
		return nil, 0, store.Wrap(name, "get", key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, store.Wrap(name, "get", key, err)
	}
	sum := sha256.Sum256([]byte(key))
	known, kept, indexed := s.ix.useKept(&sum)
	if kept == nil {
		if !indexed && s.absentNowait(&sum) {
			return nil, 0, store.ErrNotFound
		}
		return nil, 0, store.ErrWouldBlock
	}
	now := s.now()
	if known.size < headerSize || known.size > s.maxEntry || now.UnixNano()-known.touched >= int64(TouchAfter) {
		s.releaseLater(kept)
		return nil, 0, store.ErrWouldBlock
	}
	ver := store.Version(kept.seq)
	if have != 0 && have == ver {
		var err error
		if kept.expires != 0 && now.UnixNano() >= kept.expires {
			err = store.ErrWouldBlock // expired: Get removes it
		} else {
			err = kept.stillKept(known.size)
		}
		s.releaseLater(kept)
		if err != nil {
			if err == errNowaitUnsupported {
				s.nowait.Store(false)
			}
			return nil, 0, store.ErrWouldBlock
		}
		return nil, ver, store.ErrUnchanged
	}
	buf, err := kept.readNowait(known.size)
	s.releaseLater(kept)
	if err != nil {
		if err == errNowaitUnsupported {
			s.nowait.Store(false)
		}
		return nil, 0, store.ErrWouldBlock
	}
	value, ok := valueAt(key, buf, now)
	if !ok {
		return nil, 0, store.ErrWouldBlock
	}
	return value, ver, nil
}

// absentNowait reports whether the kernel knows, without reading the disk,
// that sum's entry file does not exist: the lookup of its path, made in
// the kernel's cache of names alone, finds it absent. A name the cache
// does not hold, or any other answer, is false.
func (s *Store) absentNowait(sum *[sha256.Size]byte) bool {
	if !s.lookupsNowait.Load() {
		return false
	}
	absent, found, err := lookupCached(s.path(sum))
	if found != nil {
		s.releaseLater(found) // the last reference: Get closes it
	}
	if err == errNowaitUnsupported {
		s.lookupsNowait.Store(false)
	}
	return absent
}

// releaseLater releases TryGet's reference to fd, unless it is the last:
// closing a file another process removed frees its blocks, which may wait
// for the disk, so that last reference is left for the next Get (or
// Close) to release.
func (s *Store) releaseLater(fd *openFD) {
	if fd.releaseUnlessLast() {
		return
	}
	s.orphanMu.Lock()
	s.orphans = append(s.orphans, fd)
	s.orphanMu.Unlock()
}

// releaseOrphans releases the references releaseLater left.
func (s *Store) releaseOrphans() {
	s.orphanMu.Lock()
	fds := s.orphans
	s.orphans = nil
	s.orphanMu.Unlock()
	for _, fd := range fds {
		fd.release()
	}
}

// errNowaitUnsupported is why readNowait did not read: the kernel or the
// file system cannot read from the page cache alone.
var errNowaitUnsupported = errors.New("diskstore: reads that do not wait are not supported here")

// touch sets the modification time of the entry file at path, file id, to
// now: best effort, for recency only.
func (s *Store) touch(path string, sum *[sha256.Size]byte, id uint64, now time.Time) {
	if os.Chtimes(path, time.Time{}, now) == nil {
		s.ix.setTouched(sum, id, now.UnixNano())
	}
}

// learn indexes the entry file at path, which a Get found valid as fi,
// if it is still there: a file another process wrote, or replaced.
func (s *Store) learn(path string, sum *[sha256.Size]byte, fi os.FileInfo) {
	mu := &s.stripes[sum[0]%lockStripes]
	mu.Lock()
	defer mu.Unlock()
	if cur, err := os.Lstat(path); err == nil && os.SameFile(cur, fi) && cur.Size() == fi.Size() {
		s.ix.put(sum, entryInfo{size: fi.Size(), id: fileID(fi), touched: cur.ModTime().UnixNano()}).release()
	}
}

// forget drops key's entry from the index if its file has gone (another
// process removed it).
func (s *Store) forget(path string, sum *[sha256.Size]byte) {
	mu := &s.stripes[sum[0]%lockStripes]
	mu.Lock()
	defer mu.Unlock()
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		s.ix.drop(sum).release()
	}
}

// Set writes key's entry to a temporary file next to its place and renames
// it into place, replacing any previous entry atomically. Set keeps no
// reference to value. A positive ttl is stored as an absolute expiry by
// the store's Clock. An entry whose file would be larger than
// MaxEntryBytes is not stored: Set removes any previous entry for key and
// returns an error matching store.ErrTooLarge.
//
// Set replaces only an entry file this package wrote: if something else
// is in the entry's place (a file without the entry magic, a symbolic
// link, a directory), or its fan-out directory is not a directory, Set
// leaves it and returns an error.
//
// When the bytes this process knows of go over MaxBytes, Set removes the
// least recently used entries from its index until they are within
// MaxBytes, before it returns; it reads no directory and no header to do
// so. Set checks ctx before it writes.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if s.closed.Load() {
		return store.Wrap(name, "set", key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "set", key, err)
	}
	sum := sha256.Sum256([]byte(key))
	path := s.path(&sum)
	size := int64(headerSize) + int64(len(key)) + int64(len(value))
	if size > s.maxEntry {
		if err := s.remove(path, &sum, nil); err != nil {
			return store.Wrap(name, "set", key, err)
		}
		return store.Wrap(name, "set", key, store.ErrTooLarge)
	}
	now := s.now()
	var expires int64
	if ttl > 0 {
		expires = now.Add(ttl).UnixNano()
	}
	fan := filepath.Dir(path)
	if err := fanDir(fan); err != nil {
		return store.Wrap(name, "set", key, err)
	}
	tmp, id, err := s.writeTemp(fan, encodeHeader(key, value, expires), value, now)
	if err != nil {
		return store.Wrap(name, "set", key, err)
	}
	mu := &s.stripes[sum[0]%lockStripes]
	mu.Lock()
	_, own, err := owned(path)
	if err == nil && own == notOurs {
		err = fmt.Errorf("%s is not an entry file diskstore wrote; left in place", path)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	var old *openFD
	if err == nil {
		old = s.ix.put(&sum, entryInfo{size: size, id: id, touched: now.UnixNano()})
	}
	mu.Unlock()
	old.release()
	if err != nil {
		_ = os.Remove(tmp)
		return store.Wrap(name, "set", key, err)
	}
	s.evict()
	return nil
}

// fanDir makes sure the fan-out directory dir is a directory, creating it
// if needed; a symbolic link in its place is refused, so that entries are
// never written outside the cache directory.
func fanDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return err
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// writeTemp writes head and value to a new temporary file in dir, named
// with the directory's id, and returns its name and identity (fileID).
func (s *Store) writeTemp(dir string, head, value []byte, now time.Time) (string, uint64, error) {
	f, err := os.CreateTemp(dir, s.tempPre+"*")
	if err != nil {
		return "", 0, err
	}
	tmp := f.Name()
	_, err = f.Write(head)
	if err == nil {
		_, err = f.Write(value)
	}
	var id uint64
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			id = fileID(fi)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && s.stampTime.Load() {
		err = os.Chtimes(tmp, time.Time{}, now)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", 0, err
	}
	return tmp, id, nil
}

// Delete removes key's entry. Deleting a key that is not there succeeds,
// and so does deleting a key whose place holds a file this package did
// not write, which is left alone (Get misses it). Delete checks ctx before
// it removes the file.
func (s *Store) Delete(ctx context.Context, key string) error {
	if s.closed.Load() {
		return store.Wrap(name, "delete", key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "delete", key, err)
	}
	sum := sha256.Sum256([]byte(key))
	if err := s.remove(s.path(&sum), &sum, nil); err != nil {
		return store.Wrap(name, "delete", key, err)
	}
	return nil
}

// Keys yields the key of every live entry file, one fan-out directory at a
// time, so it holds at most one directory's listing in memory. It reads
// each file's header and key, not its value: an entry whose value is
// corrupt is listed, and misses on Get. Files larger than MaxEntryBytes,
// which Get does not read, are not listed. Expired entries and entry files
// with a bad header are removed as Keys passes them; files this package
// did not write are skipped. Keys checks ctx and whether the store is
// closed before each directory, and ends with an error if so.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		fans, err := s.fanDirs()
		if err != nil {
			yield("", store.Wrap(name, "keys", "", err))
			return
		}
		if len(fans) == 0 { // still report a closed store or a done ctx
			fans = []string{""}
		}
		var buf []byte
		for _, fan := range fans {
			if s.closed.Load() {
				yield("", store.Wrap(name, "keys", "", store.ErrClosed))
				return
			}
			if err := ctx.Err(); err != nil {
				yield("", store.Wrap(name, "keys", "", err))
				return
			}
			if fan == "" {
				continue
			}
			ents, err := readDir(filepath.Join(s.dir, fan))
			if err != nil {
				yield("", store.Wrap(name, "keys", "", err))
				return
			}
			for _, e := range ents {
				if !isEntryName(e.Name(), fan) || !e.Type().IsRegular() {
					continue
				}
				var key string
				var ok bool
				key, ok, buf = s.readKey(filepath.Join(s.dir, fan, e.Name()), buf)
				if ok && !yield(key, nil) {
					return
				}
			}
		}
	}
}

// readKey reads the key of the entry file at path, reusing buf. It reports
// false for a file that has gone, is not ours, is larger than MaxEntryBytes,
// has expired or is not a valid entry whose name is its key's hash, and
// removes the latter two.
func (s *Store) readKey(path string, buf []byte) (string, bool, []byte) {
	h, key, fi, buf, class := s.readHeader(path, buf)
	switch {
	case class == bad, class == valid && h.expires != 0 && s.now().UnixNano() >= h.expires:
		sum := nameSum(filepath.Base(path))
		s.dropBad(path, &sum, fi)
		return "", false, buf
	case class != valid || fi.Size() > s.maxEntry:
		return "", false, buf
	}
	return string(key), true, buf
}

// fileClass is what readHeader found at a path.
type fileClass uint8

const (
	gone    fileClass = iota // nothing there, or it could not be read
	foreign                  // not a file this package wrote: never removed
	bad                      // an entry file of ours that is not valid
	valid                    // a valid entry, named after its key's hash
)

// readHeader reads and verifies the header and key of the entry file at
// path, reusing buf, and checks that the file has the header's length and
// is named after the key's hash. It reads no more than MaxEntryBytes, and
// does not follow a symbolic link. The key aliases the returned buffer;
// the FileInfo is the opened file's, nil if it is gone.
func (s *Store) readHeader(path string, buf []byte) (header, []byte, os.FileInfo, []byte, fileClass) {
	f, err := openFile(path)
	if err != nil {
		return header{}, nil, nil, buf, gone // gone, a symbolic link, or unreadable: left alone
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return header{}, nil, nil, buf, gone
	}
	if !fi.Mode().IsRegular() {
		return header{}, nil, fi, buf, foreign
	}
	limit := min(fi.Size(), s.maxEntry)
	want := min(int64(headerSize+256), limit)
	buf = slices.Grow(buf[:0], int(want))[:want]
	if _, err := io.ReadFull(f, buf); err != nil {
		return header{}, nil, nil, buf, gone // shrank under us
	}
	if want < int64(len(magic)) || string(buf[:len(magic)]) != magic {
		return header{}, nil, fi, buf, foreign
	}
	if want < headerSize {
		return header{}, nil, fi, buf, bad
	}
	if n := int64(headerSize) + int64(peekKeyLen(buf)); n > want && n <= limit {
		buf = slices.Grow(buf, int(n-want))[:n]
		if _, err := io.ReadFull(f, buf[want:]); err != nil {
			return header{}, nil, nil, buf, gone
		}
	}
	h, key, err := decodeHeader(buf)
	if err != nil || h.size() != fi.Size() {
		return header{}, nil, fi, buf, bad
	}
	sum := sha256.Sum256(key)
	var hexSum [nameLen]byte
	hex.Encode(hexSum[:], sum[:])
	if string(hexSum[:]) != filepath.Base(path) {
		return header{}, nil, fi, buf, bad
	}
	return h, key, fi, buf, valid
}

// Clear removes every entry file this package wrote, and its own temporary
// files older than the grace period. Everything else in the directory is
// left alone. Entries written while Clear runs may survive it. Clear checks
// ctx before each directory.
func (s *Store) Clear(ctx context.Context) error {
	if s.closed.Load() {
		return store.Wrap(name, "clear", "", store.ErrClosed)
	}
	fans, err := s.fanDirs()
	if err != nil {
		return store.Wrap(name, "clear", "", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "clear", "", err)
	}
	now := s.now()
	for _, fan := range append(fans, "") { // "" is the root, for temporary files
		if err := ctx.Err(); err != nil {
			return store.Wrap(name, "clear", "", err)
		}
		dir := filepath.Join(s.dir, fan)
		ents, err := readDir(dir)
		if err != nil {
			return store.Wrap(name, "clear", "", err)
		}
		for _, e := range ents {
			path := filepath.Join(dir, e.Name())
			switch {
			case fan != "" && isEntryName(e.Name(), fan):
				sum := nameSum(e.Name())
				if err := s.remove(path, &sum, nil); err != nil {
					return store.Wrap(name, "clear", "", err)
				}
			default:
				s.removeStaleTemp(path, e, now)
			}
		}
	}
	return nil
}

// Sweep scans the directory whatever the budget: it reads every entry
// file's header, removes expired entries, files with a bad header and
// temporary files older than the grace period, brings the index up to
// date with what other processes wrote and removed, and evicts the least
// recently used entries down to MaxBytes. Processes sharing a directory
// may call it periodically to hold the shared budget between their Sets.
func (s *Store) Sweep(ctx context.Context) error {
	if s.closed.Load() {
		return store.Wrap(name, "sweep", "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "sweep", "", err)
	}
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	if err := s.scan(true); err != nil {
		return store.Wrap(name, "sweep", "", err)
	}
	s.evict()
	return nil
}

// Close marks the store closed: later calls return store.ErrClosed, and a
// second Close returns nil. It closes the entry files the store keeps
// open, each as soon as no read in flight uses it. The files stay. Calls
// in flight finish.
func (s *Store) Close() error {
	s.closed.Store(true)
	for _, fd := range s.ix.closeAll() {
		fd.release()
	}
	s.releaseOrphans()
	return nil
}

// evict removes the least recently used entries in the index until the
// bytes it knows are within MaxBytes. It reads no directory and no
// header: the index says what to remove.
func (s *Store) evict() {
	for {
		sum, e, fd, ok := s.ix.over(s.maxBytes)
		if !ok {
			return
		}
		fd.release()
		s.evictOne(&sum, e)
	}
}

// evictOne removes the entry file for sum, which the index knew as e and
// has let go, if it is still that file. A file another process put in
// its place since is indexed again, as the most recently used; a file
// this package did not write is left alone, and not counted.
func (s *Store) evictOne(sum *[sha256.Size]byte, e entryInfo) {
	path := s.path(sum)
	mu := &s.stripes[sum[0]%lockStripes]
	mu.Lock()
	defer mu.Unlock()
	if s.ix.has(sum) {
		return // written again since it was let go: not the file to evict
	}
	fi, own, err := owned(path)
	switch {
	case err != nil:
		s.log.Warn("diskstore: eviction could not check an entry file", "path", path, "err", err)
		return
	case own != ours:
		return
	case fi.Size() != e.size || (e.id != 0 && fileID(fi) != e.id):
		s.ix.put(sum, entryInfo{size: fi.Size(), id: fileID(fi), touched: fi.ModTime().UnixNano()}).release()
		return
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("diskstore: eviction could not remove an entry file", "path", path, "err", err)
	}
}

// scan walks the directory with scanMu held and brings the index up to
// date with it (index.merge). It removes its own stale temporary files
// and indexes the regular files named like entries, by their size and
// modification time. With deep set, it also reads every entry's header,
// removing expired and invalid entry files and leaving out of the index
// the files it did not write.
func (s *Store) scan(deep bool) error {
	gen := s.ix.startScan()
	var (
		recs []fileRec
		buf  []byte
	)
	now := s.now()
	fans, err := s.fanDirs()
	if err != nil {
		return err
	}
	for _, fan := range append(fans, "") { // "" is the root, for probe leftovers
		dir := filepath.Join(s.dir, fan)
		ents, err := readDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			path := filepath.Join(dir, e.Name())
			if fan == "" || !isEntryName(e.Name(), fan) {
				s.removeStaleTemp(path, e, now)
				continue
			}
			fi, err := e.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue // gone, or not ours
			}
			r := fileRec{sum: nameSum(e.Name()), size: fi.Size(), id: fileID(fi), mtime: fi.ModTime().UnixNano()}
			if deep {
				h, _, ofi, nbuf, class := s.readHeader(path, buf)
				buf = nbuf
				switch {
				case class == gone, class == foreign:
					s.ix.dropStale(&r.sum, gen).release() // gone, or not ours to count
					continue
				case class == bad, h.expires != 0 && now.UnixNano() >= h.expires:
					s.dropBad(path, &r.sum, ofi)
					continue
				}
				r.size, r.id, r.mtime = ofi.Size(), fileID(ofi), ofi.ModTime().UnixNano()
			}
			recs = append(recs, r)
		}
	}
	slices.SortFunc(recs, func(a, b fileRec) int { return cmp.Compare(b.mtime, a.mtime) })
	for _, fd := range s.ix.merge(gen, recs) {
		fd.release()
	}
	return nil
}

// remove removes the entry file at path, for the key hash sum, under its
// stripe's lock, and drops it from the index. It removes only a file this
// package wrote (see owned): a missing file, or anything else, is left
// alone and is not an error. With same set, it removes the file only if
// same approves of it; otherwise it returns errChanged.
func (s *Store) remove(path string, sum *[sha256.Size]byte, same func(os.FileInfo) bool) error {
	mu := &s.stripes[sum[0]%lockStripes]
	mu.Lock()
	defer mu.Unlock()
	fi, own, err := owned(path)
	if err != nil {
		return err
	}
	if own != ours {
		s.ix.drop(sum).release() // nothing there, or not ours to count
		return nil
	}
	if same != nil && !same(fi) {
		return errChanged
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.ix.drop(sum).release()
	return nil
}

var errChanged = errors.New("diskstore: file changed")

// dropBad removes an expired or invalid entry file that a reader opened,
// unless it has been replaced since.
func (s *Store) dropBad(path string, sum *[sha256.Size]byte, opened os.FileInfo) {
	_ = s.remove(path, sum, func(fi os.FileInfo) bool {
		return os.SameFile(fi, opened) && fi.ModTime().Equal(opened.ModTime())
	})
}

// removeStaleTemp removes the file at path, named e, if it is a temporary
// file this package wrote (see ownedTemp), older than the grace period.
// Any other file it leaves alone.
func (s *Store) removeStaleTemp(path string, e fs.DirEntry, now time.Time) {
	if !strings.HasPrefix(e.Name(), s.tempPre) && !strings.HasPrefix(e.Name(), legacyTemp) {
		return
	}
	fi, err := e.Info()
	if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) <= s.grace || !s.ownedTemp(path, e.Name()) {
		return
	}
	_ = os.Remove(path)
}

// fanDirs lists the fan-out directories that exist, in order.
func (s *Store) fanDirs() ([]string, error) {
	ents, err := readDir(s.dir)
	if err != nil {
		return nil, err
	}
	var fans []string
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) == fanLen && isLowerHex(e.Name()) {
			fans = append(fans, e.Name())
		}
	}
	return fans, nil
}

// readDir is os.ReadDir where a directory that has gone is empty.
func readDir(dir string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ents, err
}

// path returns the entry file's path for a key's hash: dir/ab/abcd….
func (s *Store) path(sum *[sha256.Size]byte) string {
	var b [fanLen + 1 + nameLen]byte
	hex.Encode(b[fanLen+1:], sum[:])
	copy(b[:fanLen], b[fanLen+1:])
	b[fanLen] = filepath.Separator
	return s.dir + string(filepath.Separator) + string(b[:])
}

// isEntryName reports whether name is an entry file's name in fan-out
// directory fan: 64 lower-case hex digits starting with fan.
func isEntryName(name, fan string) bool {
	return len(name) == nameLen && strings.HasPrefix(name, fan) && isLowerHex(name)
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// nameSum returns the hash an entry name spells.
func nameSum(name string) [sha256.Size]byte {
	var sum [sha256.Size]byte
	_, _ = hex.Decode(sum[:], []byte(name))
	return sum
}

// ChecksValues reports true: Get verifies a CRC-32C of every value it
// returns (codec.SelfChecking), so a codec over the store need not
// verify its own checksum again.
func (s *Store) ChecksValues() bool { return true }
