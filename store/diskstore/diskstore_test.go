package diskstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	clk := storetest.NewClock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, t.TempDir(), &diskstore.Options{Clock: clk.Now})
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

// TestConformanceResponses runs the suite on the typed store
// OpenResponses returns.
func TestConformanceResponses(t *testing.T) {
	clk := storetest.NewClock()
	h := storetest.Responses(func(t *testing.T) store.Store[string, *cached.Response] {
		s, err := diskstore.OpenResponses(t.TempDir(), &diskstore.Options{Clock: clk.Now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

// TestConformanceDefaultClock runs the suite on the system clock, where
// files keep the modification times the file system gives them.
func TestConformanceDefaultClock(t *testing.T) {
	storetest.Run(t, storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, t.TempDir(), nil)
	}))
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		dir      string
		give     *diskstore.Options
		wantErr  string
		wantSize int64
	}{
		{name: "Nil", give: nil},
		{name: "Zero", give: &diskstore.Options{}},
		{name: "Budget", give: &diskstore.Options{MaxBytes: 5 << 20}},
		{name: "NegativeMaxBytes", give: &diskstore.Options{MaxBytes: -1}, wantErr: "diskstore: Options.MaxBytes is -1, want >= 0"},
		{name: "NegativeTempGrace", give: &diskstore.Options{TempGrace: -time.Second}, wantErr: "diskstore: Options.TempGrace is -1s, want >= 0"},
		{name: "EmptyDir", dir: "-", wantErr: "diskstore: cache directory is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.dir == "-" {
				dir = ""
			}
			s, err := diskstore.New(dir, tt.give)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.Close())
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, ents, 1, "New must leave no probe file behind, only its marker")
			assert.Equal(t, ".cachestack-diskstore", ents[0].Name())
		})
	}
}

func TestNewCreatesDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b", "cache")
	s := open(t, dir, nil)
	assert.Equal(t, dir, s.Dir())
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, fs.FileMode(0o700), fi.Mode().Perm())
}

func TestNewUnwritableDirectory(t *testing.T) {
	t.Parallel()
	t.Run("UnderAFile", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, []byte("not a directory"), 0o600))
		dir := filepath.Join(file, "sub")
		_, err := diskstore.New(dir, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", dir))
	})
	t.Run("ReadOnly", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() == 0 {
			t.Skip("running as root, which writes into read-only directories; UnderAFile covers the error")
		}
		dir := filepath.Join(t.TempDir(), "ro")
		require.NoError(t, os.Mkdir(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		_, err := diskstore.New(dir, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q is not writable", dir))
	})
}

func TestNewExpandsHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home) // os.UserHomeDir on Windows
	tests := []struct {
		give string
		want string
	}{
		{"~", home},
		{"~/", home},
		{"~/.cache/my_cache", filepath.Join(home, ".cache", "my_cache")},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			s := open(t, tt.give, nil)
			assert.Equal(t, tt.want, s.Dir())
			require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0))
			assert.Equal(t, []int64{int64(36 + 1 + 1)}, entrySizes(t, tt.want), "the entry is under the home directory")
		})
	}
}

// TestFileLayout pins the file name and format that doc.go describes.
func TestFileLayout(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	s := open(t, dir, &diskstore.Options{Clock: clk.Now})
	require.NoError(t, s.Set(t.Context(), "key", []byte("value"), time.Minute))

	sum := sha256.Sum256([]byte("key"))
	name := hex.EncodeToString(sum[:])
	b, err := os.ReadFile(filepath.Join(dir, name[:2], name))
	require.NoError(t, err)
	require.Len(t, b, 36+3+5)
	assert.Equal(t, "CSDS", string(b[:4]))
	assert.Equal(t, byte(1), b[4])
	assert.Equal(t, []byte{0, 0, 0}, b[5:8])
	assert.Equal(t, clk.Now().Add(time.Minute).UnixNano(), int64(leUint64(b[8:])))
	assert.Equal(t, uint64(5), leUint64(b[16:]))
	assert.Equal(t, uint64(3), leUint64(b[24:28]))
	assert.Equal(t, "key", string(b[36:39]))
	assert.Equal(t, "value", string(b[39:]))

	fi, err := os.Stat(filepath.Join(dir, name[:2], name))
	require.NoError(t, err)
	assert.True(t, fi.ModTime().Equal(clk.Now()), "a store with a Clock stamps files with it")
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	assert.Equal(t, int64(len(b)), s.Bytes())
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := min(len(b), 8) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	const entry = 36 + 2 + 1000 // header, key "kN", value
	s := open(t, dir, &diskstore.Options{MaxBytes: 5 * entry, Clock: clk.Now})
	ctx := t.Context()
	key := func(i int) string { return fmt.Sprintf("k%d", i) }
	for i := range 5 {
		require.NoError(t, s.Set(ctx, key(i), bytes.Repeat([]byte{byte(i)}, 1000), 0))
		clk.Advance(2 * time.Minute)
	}
	assert.Equal(t, int64(5*entry), s.Bytes(), "at the budget, nothing is evicted")

	// A Get makes an entry the most recently used.
	_, err := s.Get(ctx, key(0))
	require.NoError(t, err)
	clk.Advance(2 * time.Minute)

	// Over budget: evict the least recently used, down to the budget.
	require.NoError(t, s.Set(ctx, key(5), bytes.Repeat([]byte{5}, 1000), 0))
	_, err = s.Get(ctx, key(1))
	assert.ErrorIs(t, err, store.ErrNotFound, "%s was the least recently used", key(1))
	for _, i := range []int{0, 2, 3, 4, 5} {
		v, err := s.Get(ctx, key(i))
		require.NoError(t, err, "%s must survive the eviction", key(i))
		assert.Equal(t, bytes.Repeat([]byte{byte(i)}, 1000), v)
	}
	assert.Equal(t, int64(5*entry), s.Bytes())
	assert.Equal(t, int64(5*entry), sum(entrySizes(t, dir)))

	// Recency is by use, within a TouchAfter too: the clock stands still.
	// The Gets above left k0 the least recently used; a Get of it now
	// leaves k2.
	_, err = s.Get(ctx, key(0))
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, key(6), bytes.Repeat([]byte{6}, 1000), 0))
	_, err = s.Get(ctx, key(0))
	require.NoError(t, err, "%s was used last but one", key(0))
	_, err = s.Get(ctx, key(2))
	assert.ErrorIs(t, err, store.ErrNotFound, "%s was the least recently used", key(2))
}

// TestIndexAcrossStores has a second store on the directory, as another
// process: what it writes, replaces and removes, the first learns of on
// Get and on eviction, and a reopened store orders by modification time.
func TestIndexAcrossStores(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	const entry = 36 + 2 + 1000
	a := open(t, dir, &diskstore.Options{MaxBytes: 4 * entry, Clock: clk.Now})
	b := open(t, dir, &diskstore.Options{MaxBytes: 4 * entry, Clock: clk.Now})
	ctx := t.Context()
	key := func(i int) string { return fmt.Sprintf("k%d", i) }
	val := func(i, n int) []byte { return bytes.Repeat([]byte{byte(i)}, n) }
	for i := range 3 {
		require.NoError(t, a.Set(ctx, key(i), val(i, 1000), 0))
		clk.Advance(time.Second)
	}
	// b replaces k0 with a longer value and removes k1; a reads both.
	require.NoError(t, b.Set(ctx, key(0), val(9, 2000), 0))
	require.NoError(t, b.Delete(ctx, key(1)))
	v, err := a.Get(ctx, key(0))
	require.NoError(t, err)
	assert.Equal(t, val(9, 2000), v, "the replaced file is read whole")
	_, err = a.Get(ctx, key(1))
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, int64(2*entry+1000), a.Bytes(), "a's index follows b's changes it has seen")

	// b writes k3, which a discovers on Get.
	require.NoError(t, b.Set(ctx, key(3), val(3, 1000), 0))
	_, err = a.Get(ctx, key(3))
	require.NoError(t, err)
	assert.Equal(t, int64(3*entry+1000), a.Bytes())

	// A store opened on the directory orders the entries by modification
	// time: k2 (written first of those left, never read by b) is evicted
	// first.
	clk.Advance(time.Second)
	c := open(t, dir, &diskstore.Options{MaxBytes: 4 * entry, Clock: clk.Now})
	assert.Equal(t, int64(3*entry+1000), c.Bytes())
	require.NoError(t, c.Set(ctx, key(4), val(4, 1000), 0))
	_, err = c.Get(ctx, key(2))
	assert.ErrorIs(t, err, store.ErrNotFound)
	for _, i := range []int{0, 3, 4} {
		_, err := c.Get(ctx, key(i))
		require.NoError(t, err, key(i))
	}
	assert.Equal(t, sum(entrySizes(t, dir)), c.Bytes())
}

func TestTouchIsCheap(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	s := open(t, dir, &diskstore.Options{Clock: clk.Now})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	written := clk.Now()

	clk.Advance(diskstore.TouchAfter - time.Second)
	_, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, mtime(t, dir, "k").Equal(written), "a Get within TouchAfter of the last touch leaves the file alone")

	clk.Advance(time.Second)
	_, err = s.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, mtime(t, dir, "k").Equal(clk.Now()), "a Get TouchAfter after the last touch sets the modification time")
}

func TestOversizedValue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &diskstore.Options{MaxBytes: 1000})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("small"), 0))
	require.ErrorIs(t, s.Set(ctx, "k", make([]byte, 1000), 0), store.ErrTooLarge, "a value over the budget is refused, and says so")
	_, err := s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "a value over the budget is not kept, nor is the old one")
	assert.Zero(t, s.Bytes())
	assert.Empty(t, entrySizes(t, dir))
}

func TestExpiredFilesAreRemoved(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	s := open(t, dir, &diskstore.Options{Clock: clk.Now})
	ctx := t.Context()
	for i := range 10 {
		ttl := time.Duration(0)
		if i%2 == 1 {
			ttl = time.Minute
		}
		require.NoError(t, s.Set(ctx, fmt.Sprint(i), []byte("value"), ttl))
	}
	clk.Advance(time.Minute)

	_, err := s.Get(ctx, "1")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Len(t, entrySizes(t, dir), 9, "Get removes the expired file it read")

	keys := listKeys(t, s)
	assert.ElementsMatch(t, []string{"0", "2", "4", "6", "8"}, keys)
	assert.Len(t, entrySizes(t, dir), 5, "Keys removes the expired files it passes")

	require.NoError(t, s.Set(ctx, "x", []byte("value"), time.Second))
	clk.Advance(time.Second)
	require.NoError(t, s.Sweep(ctx))
	assert.Len(t, entrySizes(t, dir), 5, "Sweep removes expired files")
	assert.Equal(t, sum(entrySizes(t, dir)), s.Bytes())
}

// TestCrashBeforeRename leaves temporary files as a writer that crashed
// between writing and renaming would, this release's and the previous
// one's, and checks that they are invisible and removed only once their
// grace period has passed; temporary-looking files the store did not write
// stay.
func TestCrashBeforeRename(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	opts := &diskstore.Options{Clock: clk.Now, TempGrace: time.Hour}
	ctx := t.Context()
	s := open(t, dir, opts)
	pre := tempPrefix(t, dir)

	// The file a Set of "crashed" would write, under a temporary name in
	// the place it would have been renamed to, whole and cut short.
	entry := entryFile(t, "crashed", []byte("never renamed"))
	path := entryPath(dir, "crashed")
	fan := filepath.Dir(path)
	require.NoError(t, os.MkdirAll(fan, 0o700))
	leftovers := map[string][]byte{
		filepath.Join(fan, pre+"1234567"):     entry,
		filepath.Join(fan, pre+"7654321"):     entry[:len(entry)/2],
		filepath.Join(fan, pre+"99"):          nil, // crashed before writing
		filepath.Join(dir, pre+"probe-42"):    nil,
		filepath.Join(fan, ".tmp-1234567"):    entry, // the previous release's names
		filepath.Join(fan, ".tmp-7654321"):    entry[:2],
		filepath.Join(dir, ".tmp-3141592653"): entry,
	}
	others := map[string][]byte{
		filepath.Join(fan, ".tmp-foo"):                     entry, // not a name either release writes
		filepath.Join(fan, ".tmp-123"):                     []byte("user data"),
		filepath.Join(fan, ".tmp-124"):                     nil, // could be anyone's
		filepath.Join(dir, ".tmp-probe-42"):                nil,
		filepath.Join(fan, ".csds-tmp-0123456789abcdef-1"): entry, // another directory's id
		filepath.Join(fan, ".csds-tmp-x"):                  nil,
	}
	for _, files := range []map[string][]byte{leftovers, others} {
		for p, content := range files {
			require.NoError(t, os.WriteFile(p, content, 0o600))
			require.NoError(t, os.Chtimes(p, time.Time{}, clk.Now()))
		}
	}

	_, err := s.Get(ctx, "crashed")
	require.ErrorIs(t, err, store.ErrNotFound, "a temporary file is not an entry")
	require.NoError(t, s.Set(ctx, "other", []byte("v"), 0))
	assert.Equal(t, []string{"other"}, listKeys(t, s), "Keys must not list temporary files")
	assert.Equal(t, int64(36+5+1), s.Bytes(), "temporary files are not counted")

	clk.Advance(time.Hour)
	require.NoError(t, s.Sweep(ctx))
	require.NoError(t, s.Clear(ctx))
	_ = open(t, dir, opts)
	for p := range leftovers {
		assert.FileExists(t, p, "within the grace period, a temporary file may be a write in progress")
	}

	clk.Advance(time.Second)
	_ = open(t, dir, opts) // New removes them
	for p := range leftovers {
		assert.NoFileExists(t, p, "New removes temporary files older than the grace period")
	}

	// So do Sweep and Clear.
	for p := range leftovers {
		for _, clean := range []func(context.Context) error{s.Sweep, s.Clear} {
			require.NoError(t, os.WriteFile(p, entry, 0o600))
			require.NoError(t, os.Chtimes(p, time.Time{}, clk.Now()))
			clk.Advance(time.Hour + time.Second)
			require.NoError(t, clean(ctx))
			assert.NoFileExists(t, p)
		}
	}
	for p, content := range others {
		assertFile(t, p, content, "a file the store did not write is never removed")
	}
}

// TestCorruptFiles damages a real entry file every way it can be damaged
// one byte at a time, and cuts it at every length: a Get returns the
// original value or a miss, never anything else. It removes a bad file
// that still starts with the entry magic, and leaves one that does not,
// which it cannot tell from a file it did not write.
func TestCorruptFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, nil)
	ctx := t.Context()
	const key = "GET https://example.com/corrupt"
	value := []byte("the one true value, with some length to it")
	require.NoError(t, s.Set(ctx, key, value, time.Hour))
	path := entryPath(dir, key)
	orig, err := os.ReadFile(path)
	require.NoError(t, err)

	check := func(t *testing.T, content []byte, what string) {
		t.Helper()
		require.NoError(t, os.WriteFile(path, content, 0o600))
		got, err := s.Get(ctx, key)
		if err != nil {
			require.ErrorIs(t, err, store.ErrNotFound, what)
			if bytes.HasPrefix(content, []byte("CSDS")) {
				assert.NoFileExists(t, path, "%s: a bad entry file is removed", what)
			} else {
				assertFile(t, path, content, "%s: a file without the entry magic is left alone", what)
			}
			return
		}
		require.Equal(t, value, got, "%s: a damaged file returned a wrong value", what)
	}
	t.Run("FlipBytes", func(t *testing.T) {
		for i := range orig {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				b := bytes.Clone(orig)
				b[i] ^= mask
				check(t, b, fmt.Sprintf("byte %d ^ %#x", i, mask))
			}
		}
	})
	t.Run("Truncate", func(t *testing.T) {
		for n := range len(orig) {
			check(t, orig[:n], fmt.Sprintf("cut to %d bytes", n))
		}
	})
	t.Run("Extend", func(t *testing.T) {
		check(t, append(bytes.Clone(orig), 0), "one byte appended")
		check(t, append(bytes.Clone(orig), orig...), "doubled")
	})
	t.Run("Intact", func(t *testing.T) {
		check(t, orig, "the original file")
		_, err := s.Get(ctx, key)
		require.NoError(t, err)
	})
}

// TestForeignFiles drops files into the tree that the store did not
// write. At an entry's path, one without the entry magic is a miss and is
// left alone, while an entry file of the wrong key or version is a miss
// and is removed; anywhere else files are ignored, not counted and not
// removed.
func TestForeignFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &diskstore.Options{MaxBytes: 1 << 20})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "mine", []byte("my value"), 0))

	// At an entry's path: random bytes, nothing, another key's valid
	// entry, an entry of a future format version, a directory.
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	future := entryFile(t, "future", []byte("v"))
	future[4] = 2
	notOurs := map[string][]byte{
		"random": random,
		"empty":  {},
		"CSD":    []byte("CSD"),
	}
	entries := map[string][]byte{
		"swapped": entryFile(t, "someone else", []byte("their value")),
		"future":  future,
	}
	for _, m := range []map[string][]byte{notOurs, entries} {
		for key, content := range m {
			p := entryPath(dir, key)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
			require.NoError(t, os.WriteFile(p, content, 0o600))
		}
	}
	dirAtPath := entryPath(dir, "a directory")
	require.NoError(t, os.MkdirAll(dirAtPath, 0o700))

	// Elsewhere: names that are not entry names, and an entry name in
	// the wrong fan-out directory.
	elsewhere := []string{
		filepath.Join(dir, "README"),
		filepath.Join(dir, "zz", "notes.txt"),
		filepath.Join(filepath.Dir(entryPath(dir, "mine")), "notes.txt"),
		filepath.Join(filepath.Dir(entryPath(dir, "mine")), strings.ToUpper(filepath.Base(entryPath(dir, "x")))),
		filepath.Join(dir, "00", filepath.Base(entryPath(dir, "misplaced"))),
	}
	for _, p := range elsewhere {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, entryFile(t, "misplaced", []byte("x")), 0o600))
	}

	assert.Equal(t, []string{"mine"}, listKeys(t, s), "Keys lists only valid entries named after their key")
	for key, content := range notOurs {
		_, err := s.Get(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound, "a foreign file at %q's path", key)
		assertFile(t, entryPath(dir, key), content, "a file without the entry magic is not the store's to remove")
		require.NoError(t, s.Delete(ctx, key))
		assertFile(t, entryPath(dir, key), content, "Delete leaves a file without the entry magic")
		err = s.Set(ctx, key, []byte("v"), 0)
		require.ErrorContains(t, err, "is not an entry file diskstore wrote", "Set does not replace a file without the entry magic")
		assertFile(t, entryPath(dir, key), content, "Set leaves a file without the entry magic")
	}
	for key := range entries {
		_, err := s.Get(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound, "an entry file of the wrong key or version at %q's path", key)
		assert.NoFileExists(t, entryPath(dir, key), "an invalid entry file is removed")
	}
	_, err := s.Get(ctx, "a directory")
	require.ErrorIs(t, err, store.ErrNotFound, "a directory at an entry's path")
	require.Error(t, s.Set(ctx, "a directory", []byte("v"), 0))
	assert.DirExists(t, dirAtPath, "a directory is not the store's to remove")

	require.NoError(t, s.Sweep(ctx))
	assert.Equal(t, int64(36+4+8), s.Bytes(), "foreign files are not counted")
	require.NoError(t, s.Clear(ctx))
	_, err = s.Get(ctx, "mine")
	require.ErrorIs(t, err, store.ErrNotFound)
	for _, p := range elsewhere {
		assert.FileExists(t, p, "files not named like entries are left alone")
	}
	for key, content := range notOurs {
		assertFile(t, entryPath(dir, key), content, "Clear leaves a file without the entry magic")
	}
}

// TestWriteStorm has many goroutines write values of varied sizes over a
// small budget; afterwards the entry files total at most MaxBytes, and
// the store's count is at least what is on disk.
func TestWriteStorm(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const budget = 256 << 10
	s := open(t, dir, &diskstore.Options{MaxBytes: budget})
	ctx := t.Context()
	workers, writes := 16, 150
	if testing.Short() {
		writes = 30
	}
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range writes {
				key := fmt.Sprintf("key-%d", rng.IntN(300))
				v := make([]byte, rng.IntN(16<<10))
				if err := s.Set(ctx, key, v, 0); err != nil {
					t.Error(err)
					return
				}
				if rng.IntN(8) == 0 {
					if err := s.Delete(ctx, key); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	onDisk := sum(entrySizes(t, dir))
	assert.LessOrEqual(t, onDisk, int64(budget), "entry files after the storm")
	assert.Equal(t, onDisk, s.Bytes(), "one process's count is exact")
	assert.Greater(t, onDisk, int64(budget/2), "the storm should have filled the store")
	require.NoError(t, s.Sweep(ctx))
	assert.Equal(t, onDisk, s.Bytes(), "a quiet scan counts exactly")
}

// TestSharedDirectoryBudget has two stores share a directory, as two
// processes would: each counts only its own writes, and a scan by either
// brings the whole directory within the budget.
func TestSharedDirectoryBudget(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	const budget = 100 << 10
	a := open(t, dir, &diskstore.Options{MaxBytes: budget, Clock: clk.Now})
	b := open(t, dir, &diskstore.Options{MaxBytes: budget, Clock: clk.Now})
	ctx := t.Context()
	for i := range 16 {
		clk.Advance(time.Second)
		require.NoError(t, a.Set(ctx, fmt.Sprintf("a%d", i), make([]byte, 5<<10), 0))
		require.NoError(t, b.Set(ctx, fmt.Sprintf("b%d", i), make([]byte, 5<<10), 0))
	}
	assert.Greater(t, sum(entrySizes(t, dir)), int64(budget), "between scans, each store holds only its own writes to the budget")
	require.NoError(t, a.Sweep(ctx))
	assert.LessOrEqual(t, sum(entrySizes(t, dir)), int64(budget))
	assert.Equal(t, sum(entrySizes(t, dir)), a.Bytes())

	// Each reads what the other wrote, and deletes of the same key by
	// both succeed.
	v, err := b.Get(ctx, "a15")
	require.NoError(t, err)
	assert.Len(t, v, 5<<10)
	require.NoError(t, a.Delete(ctx, "b15"))
	require.NoError(t, b.Delete(ctx, "b15"))
}

func TestErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, nil)
	ctx := t.Context()

	// Set where the fan-out directory is taken by a file.
	p := entryPath(dir, "blocked")
	require.NoError(t, os.WriteFile(filepath.Dir(p), nil, 0o600))
	err := s.Set(ctx, "blocked", []byte("v"), 0)
	var se *store.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "diskstore", se.Store)
	assert.Equal(t, "set", se.Op)
	assert.Equal(t, "blocked", se.Key)
	assert.True(t, strings.HasPrefix(err.Error(), `diskstore set "blocked": `), err.Error())

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	err = s.Sweep(ctx)
	require.ErrorIs(t, err, store.ErrClosed)
	assert.EqualError(t, err, "diskstore sweep: store: closed")
}

// open returns a store on dir, closed when the test ends.
func open(t testing.TB, dir string, opts *diskstore.Options) *diskstore.Store {
	t.Helper()
	s, err := diskstore.New(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// entryPath is where the store keeps key's entry in dir.
func entryPath(dir, key string) string {
	h := sha256.Sum256([]byte(key))
	name := hex.EncodeToString(h[:])
	return filepath.Join(dir, name[:2], name)
}

// entryFile returns the file a store writes for key and value.
func entryFile(t *testing.T, key string, value []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir, nil)
	require.NoError(t, s.Set(t.Context(), key, value, 0))
	b, err := os.ReadFile(entryPath(dir, key))
	require.NoError(t, err)
	return b
}

// entrySizes returns the sizes of the files named like entries in dir.
func entrySizes(t testing.TB, dir string) []int64 {
	t.Helper()
	var sizes []int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && len(d.Name()) == 64 && strings.HasPrefix(d.Name(), filepath.Base(filepath.Dir(path))) {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			sizes = append(sizes, fi.Size())
		}
		return nil
	})
	require.NoError(t, err)
	return sizes
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

func mtime(t *testing.T, dir, key string) time.Time {
	t.Helper()
	fi, err := os.Stat(entryPath(dir, key))
	require.NoError(t, err)
	return fi.ModTime()
}

// assertFile asserts that the file at path holds content.
func assertFile(t testing.TB, path string, content []byte, msgAndArgs ...any) {
	t.Helper()
	got, err := os.ReadFile(path)
	if assert.NoError(t, err, msgAndArgs...) {
		assert.Equal(t, string(content), string(got), msgAndArgs...)
	}
}

// tempPrefix returns how the store on dir names its temporary files:
// ".csds-tmp-", the id in the directory's marker, and "-".
func tempPrefix(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".cachestack-diskstore"))
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	require.GreaterOrEqual(t, len(lines), 3)
	id, ok := strings.CutPrefix(lines[2], "id ")
	require.True(t, ok, "the marker's third line is its id: %q", b)
	return ".csds-tmp-" + id + "-"
}

func listKeys(t *testing.T, s *diskstore.Store) []string {
	t.Helper()
	var keys []string
	for k, err := range s.Keys(t.Context()) {
		require.NoError(t, err)
		keys = append(keys, k)
	}
	return keys
}

func TestUseClock(t *testing.T) {
	t.Parallel()
	storetest.UseClock(t, storetest.Bytes(func(t *testing.T) store.Store[string, []byte] { return open(t, t.TempDir(), nil) }))
}

// TestEvictionIsLRU replays a skewed random trace (Get, and Set on a miss)
// through a store and through an exact least-recently-used model with the
// same budget, counted in entry-file bytes: within one process the store
// evicts exactly as the model does, so every request hits or misses in
// both.
func TestEvictionIsLRU(t *testing.T) {
	t.Parallel()
	const budget = 64 << 10
	s := open(t, t.TempDir(), &diskstore.Options{MaxBytes: budget})
	ctx := t.Context()
	type ent struct {
		key  string
		size int64
	}
	var (
		order []ent // front: least recently used
		used  int64
	)
	find := func(key string) int {
		return slices.IndexFunc(order, func(e ent) bool { return e.key == key })
	}
	rng := rand.New(rand.NewPCG(1, 2))
	requests := 3000
	if testing.Short() {
		requests = 1000
	}
	misses := 0
	for range requests {
		id := int(rng.ExpFloat64() * 40) // most requests to a few keys, a long tail
		key := fmt.Sprintf("key-%d", id)
		value := make([]byte, 200+id%7*300)
		_, err := s.Get(ctx, key)
		i := find(key)
		if (err == nil) != (i >= 0) {
			t.Fatalf("%s: store hit %v, exact LRU hit %v", key, err == nil, i >= 0)
		}
		if i >= 0 {
			e := order[i]
			order = append(slices.Delete(order, i, i+1), e)
			continue
		}
		misses++
		require.NoError(t, s.Set(ctx, key, value, 0))
		e := ent{key, int64(36 + len(key) + len(value))}
		order, used = append(order, e), used+e.size
		for used > budget {
			used -= order[0].size
			order = order[1:]
		}
	}
	assert.Equal(t, used, s.Bytes())
	assert.Greater(t, misses, requests/10, "the trace must evict")
	assert.Less(t, misses, requests*9/10, "the trace must hit")
}
