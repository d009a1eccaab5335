package diskstore_test

import (
	"bytes"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// TestTryGetAnswersAKeptFile: TryGet answers, without Get, for an entry
// whose file the store keeps open, and leaves everything else to Get.
func TestTryGetAnswersAKeptFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := storetest.NewClock()
	a, b := open(t, dir, &diskstore.Options{Clock: clk.Now}), open(t, dir, &diskstore.Options{Clock: clk.Now})
	ctx := t.Context()
	v1, v2 := bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 1000) // the same size

	_, err := a.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock, "a key the index does not know")
	require.NoError(t, a.Set(ctx, "k", v1, time.Hour))
	_, err = a.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock, "a file not kept open")
	v, err := a.Get(ctx, "k")
	require.NoError(t, err)
	requireBytes(t, v1, v)
	require.Equal(t, 1, diskstore.OpenFiles(a))
	for range 2 {
		v, err = a.TryGet(ctx, "k")
		require.NoError(t, err)
		requireBytes(t, v1, v)
		v[0] = 'x' // the caller's own
	}

	require.NoError(t, b.Set(ctx, "k", v2, time.Hour)) // another process renames a new file over it
	_, err = a.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock, "the kept file is no longer the entry's")
	v, err = a.Get(ctx, "k")
	require.NoError(t, err)
	requireBytes(t, v2, v)
	v, err = a.TryGet(ctx, "k")
	require.NoError(t, err)
	requireBytes(t, v2, v, "the file Get kept open")

	require.NoError(t, b.Delete(ctx, "k")) // another process removes it
	_, err = a.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock, "a removed file")
	_, err = a.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestTryGetLeavesExpiryAndTouchToGet: an expired entry, and one whose
// modification time is due to be refreshed (a system call that writes),
// are not answered; Get does what they need.
func TestTryGetLeavesExpiryAndTouchToGet(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	s := open(t, t.TempDir(), &diskstore.Options{Clock: clk.Now})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "short", []byte("v"), 30*time.Second))
	require.NoError(t, s.Set(ctx, "long", []byte("w"), 0))
	for _, k := range []string{"short", "long"} {
		_, err := s.Get(ctx, k)
		require.NoError(t, err)
		_, err = s.TryGet(ctx, k)
		require.NoError(t, err)
	}

	clk.Advance(30 * time.Second)
	_, err := s.TryGet(ctx, "short")
	require.ErrorIs(t, err, store.ErrWouldBlock, "expired")
	_, err = s.Get(ctx, "short")
	require.ErrorIs(t, err, store.ErrNotFound)

	clk.Advance(diskstore.TouchAfter)
	path := entryPath(s.Dir(), "long")
	_, err = s.TryGet(ctx, "long")
	require.ErrorIs(t, err, store.ErrWouldBlock, "touch due")
	before := modTime(t, path)
	v, err := s.Get(ctx, "long")
	require.NoError(t, err)
	assert.Equal(t, "w", string(v))
	assert.True(t, modTime(t, path).After(before), "Get touched the file")
	v, err = s.TryGet(ctx, "long")
	require.NoError(t, err)
	assert.Equal(t, "w", string(v))
}

func modTime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.ModTime()
}

// TestTryGetDoesNotReadTheDisk: an entry whose bytes are not in the page
// cache is not answered (the read would wait for the disk); once Get has
// read them, it is.
func TestTryGetDoesNotReadTheDisk(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), nil)
	ctx := t.Context()
	value := bytes.Repeat([]byte("v"), 64<<10)
	require.NoError(t, s.Set(ctx, "k", value, 0))
	_, err := s.Get(ctx, "k")
	require.NoError(t, err)
	_, err = s.TryGet(ctx, "k")
	require.NoError(t, err)

	dropPageCache(t, entryPath(s.Dir(), "k"))
	_, err = s.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock)
	v, err := s.Get(ctx, "k")
	require.NoError(t, err)
	requireBytes(t, value, v)
	v, err = s.TryGet(ctx, "k")
	require.NoError(t, err, "Get brought the bytes into the page cache")
	requireBytes(t, value, v)
}

// dropPageCache writes the file at path to the disk and drops its pages
// from the page cache, or skips the test if the kernel keeps some.
func dropPageCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Sync())
	fi, err := f.Stat()
	require.NoError(t, err)
	require.NoError(t, unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED))
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(m)
	pages := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&pages[0]))); e != 0 {
		t.Skipf("mincore: %v", e)
	}
	for _, p := range pages {
		if p&1 != 0 {
			t.Skip("the kernel kept the file's pages in its cache")
		}
	}
}

// TestTryGetAnswersAbsentNames: TryGet answers store.ErrNotFound for a key
// whose file the kernel's cache of names holds as absent (looked up or
// removed before), never for one another process has written since, and
// leaves a name the kernel has not cached to Get.
func TestTryGetAnswersAbsentNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := open(t, dir, nil), open(t, dir, nil)
	ctx := t.Context()

	_, err := a.TryGet(ctx, "new")
	require.ErrorIs(t, err, store.ErrWouldBlock, "a name never looked up: the kernel would read the directory")
	_, err = a.Get(ctx, "new")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = a.TryGet(ctx, "new")
	require.ErrorIs(t, err, store.ErrNotFound, "looked up once, the kernel holds it as absent")

	require.NoError(t, b.Set(ctx, "new", []byte("v"), 0)) // another process writes it
	_, err = a.TryGet(ctx, "new")
	require.ErrorIs(t, err, store.ErrWouldBlock, "a file another process wrote is Get's to read")
	v, err := a.Get(ctx, "new")
	require.NoError(t, err)
	requireBytes(t, []byte("v"), v)

	require.NoError(t, a.Set(ctx, "gone", []byte("v"), 0))
	require.NoError(t, a.Delete(ctx, "gone"))
	_, err = a.TryGet(ctx, "gone")
	require.ErrorIs(t, err, store.ErrNotFound, "a removed entry")
	require.NoError(t, b.Set(ctx, "gone", []byte("w"), 0))
	_, err = a.TryGet(ctx, "gone")
	require.ErrorIs(t, err, store.ErrWouldBlock, "written again by another process")
}
