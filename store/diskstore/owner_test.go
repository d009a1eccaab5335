package diskstore_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/storetest"
)

const markerName = ".cachestack-diskstore"

func TestNewMarksDirectory(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		create bool
	}{{"Created", false}, {"EmptyAdopted", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "cache")
			if tt.create {
				require.NoError(t, os.Mkdir(dir, 0o700))
			}
			s := open(t, dir, nil)
			b, err := os.ReadFile(filepath.Join(dir, markerName))
			require.NoError(t, err)
			lines := strings.Split(string(b), "\n")
			require.GreaterOrEqual(t, len(lines), 3)
			assert.Equal(t, "cachestack diskstore", lines[0])
			assert.Equal(t, "format 1", lines[1])
			assert.Regexp(t, `^id [0-9a-f]{16}$`, lines[2])

			// Reopening keeps the marker, and so the id.
			require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0))
			_ = open(t, dir, nil)
			again, err := os.ReadFile(filepath.Join(dir, markerName))
			require.NoError(t, err)
			assert.Equal(t, b, again)
		})
	}
}

// TestNewRefusesForeignDirectory points New at directories holding files
// it did not write: it refuses each with an error naming the directory,
// the argument and a file in the way, and writes nothing.
func TestNewRefusesForeignDirectory(t *testing.T) {
	t.Parallel()
	valid := entryFile(t, "k", []byte("v"))
	tests := []struct {
		name  string
		files map[string][]byte // relative path: content; a nil content with a trailing / is a directory
	}{
		{"ProjectFile", map[string][]byte{"go.mod": []byte("module x\n")}},
		{"HiddenFile", map[string][]byte{".DS_Store": nil}},
		{"Subdirectory", map[string][]byte{"src/": nil}},
		{"EmptyFanLikeFile", map[string][]byte{"ab": nil}},
		{"TempLookingFile", map[string][]byte{".tmp-foo": []byte("x")}},
		{"EntryAmongUserFiles", map[string][]byte{
			entryRel("k"):                         valid,
			filepath.Join(entryFanRel("k"), "me"): []byte("mine"),
		}},
		{"EntryShapedUserFile", map[string][]byte{entryRel("k"): []byte("not an entry at all")}},
		{"EntryOfAnotherKey", map[string][]byte{entryRel("j"): valid}},
		{"DamagedEntryHeader", map[string][]byte{entryRel("k"): damaged(valid, 10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			plant(t, dir, tt.files)
			before := snapshot(t, dir)
			s, err := diskstore.New(dir, nil)
			require.Error(t, err)
			require.Nil(t, s)
			msg := err.Error()
			assert.Contains(t, msg, fmt.Sprintf("%q", dir))
			assert.Contains(t, msg, "New's dir")
			assert.Contains(t, msg, "is not a diskstore cache")
			assert.ErrorIs(t, err, diskstore.ErrNotCacheDir)
			assert.Equal(t, before, snapshot(t, dir), "a refused directory is left as it was")
		})
	}
}

// TestNewAdoptsEarlierCache opens a directory that an earlier release of
// the store wrote (entries and their temporary files, no marker): New
// marks it and serves its entries.
func TestNewAdoptsEarlierCache(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	s := open(t, dir, &diskstore.Options{Clock: clk.Now})
	ctx := t.Context()
	for i := range 20 {
		require.NoError(t, s.Set(ctx, fmt.Sprint("key", i), []byte(fmt.Sprint("value", i)), 0))
	}
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, markerName)))
	// The earlier release's leftovers: a temporary file of a write cut
	// short, and a probe.
	leftover := filepath.Join(filepath.Dir(entryPath(dir, "key1")), ".tmp-2718281828")
	require.NoError(t, os.WriteFile(leftover, entryFile(t, "x", []byte("y"))[:20], 0o600))
	require.NoError(t, os.Chtimes(leftover, time.Time{}, clk.Now()))
	probe := filepath.Join(dir, ".tmp-probe-42")
	require.NoError(t, os.WriteFile(probe, nil, 0o600))

	clk.Advance(time.Hour)
	s = open(t, dir, &diskstore.Options{Clock: clk.Now})
	assert.FileExists(t, filepath.Join(dir, markerName))
	assert.Len(t, listKeys(t, s), 20)
	v, err := s.Get(ctx, "key7")
	require.NoError(t, err)
	assert.Equal(t, "value7", string(v))
	assert.NoFileExists(t, leftover, "the earlier release's stale temporary file is removed")
	assert.FileExists(t, probe, "an empty probe cannot be told from anyone's empty file")
}

func TestNewRefusesMarker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"Newer", "cachestack diskstore\nformat 2\nid 0123456789abcdef\n", "made by a newer diskstore (directory format 2; this one reads format 1)"},
		{"Garbage", "hello\n", "is not a diskstore marker"},
		{"Empty", "", "is not a diskstore marker"},
		{"BadID", "cachestack diskstore\nformat 1\nid XYZ\n", "id line"},
		{"BadFormat", "cachestack diskstore\nformat one\nid 0123456789abcdef\n", "format line"},
		{"Huge", "cachestack diskstore\nformat 1\nid 0123456789abcdef\n" + strings.Repeat("#\n", 4<<10), "not a small regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, markerName), []byte(tt.content), 0o600))
			_, err := diskstore.New(dir, nil)
			require.ErrorContains(t, err, tt.want)
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", dir))
		})
	}
	t.Run("Symlink", func(t *testing.T) {
		t.Parallel()
		if runtime.GOOS == "windows" {
			t.Skip("symbolic links need privileges on Windows")
		}
		dir := t.TempDir()
		target := filepath.Join(t.TempDir(), "marker")
		require.NoError(t, os.WriteFile(target, []byte("cachestack diskstore\nformat 1\nid 0123456789abcdef\n"), 0o600))
		require.NoError(t, os.Symlink(target, filepath.Join(dir, markerName)))
		_, err := diskstore.New(dir, nil)
		require.Error(t, err, "a marker must be the directory's own file")
	})
}

// TestNewConcurrentlyOnEmptyDirectory has several stores open one new
// directory at once, as processes starting together would: all succeed
// and share one marker.
func TestNewConcurrentlyOnEmptyDirectory(t *testing.T) {
	t.Parallel()
	for range 5 {
		dir := filepath.Join(t.TempDir(), "cache")
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				s, err := diskstore.New(dir, nil)
				if err == nil {
					err = s.Set(t.Context(), fmt.Sprint(i), []byte("v"), 0)
					_ = s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		pre := tempPrefix(t, dir)
		s := open(t, dir, nil)
		assert.Len(t, listKeys(t, s), len(errs))
		assert.True(t, strings.HasPrefix(pre, ".csds-tmp-"))
	}
}

// TestPlantedFilesSurvive fills a store's directory with files a user
// might keep there — temporary-looking names, entry-shaped names with
// other content, subdirectories, symbolic links — and runs every
// operation over them, eviction included: none of them is removed or
// changed, none is listed, and none is followed out of the directory.
func TestPlantedFilesSurvive(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	dir := t.TempDir()
	outside := t.TempDir()
	const budget = 20 << 10
	opts := &diskstore.Options{MaxBytes: budget, Clock: clk.Now, TempGrace: time.Minute}
	s := open(t, dir, opts)
	ctx := t.Context()

	fan := entryFanRel("victim")
	files := map[string][]byte{
		".tmp-foo":                     []byte("user temp"),
		".tmp-123":                     []byte("user data"),
		".tmp-probe-7":                 []byte("user data"),
		"notes.txt":                    []byte("notes"),
		"ab":                           []byte("a file named like a fan-out directory"),
		".csds-tmp-nothex-1":           []byte("x"),
		entryRel("victim"):             []byte("entry-shaped name, user content"),
		entryRel("empty"):              {},
		entryRel("short"):              []byte("CS"),
		filepath.Join(fan, ".tmp-foo"): []byte("user temp in a fan-out directory"),
		filepath.Join(fan, ".tmp-99"):  []byte("digits, but not an entry"),
		filepath.Join(fan, ".tmp-98"):  {},
		filepath.Join(fan, "README"):   []byte("readme"),
		filepath.Join(fan, strings.Repeat("0", 64)): []byte("entry-shaped, wrong fan-out directory"),
		"sub/":                                nil,
		"sub/" + strings.Repeat("a", 64):      []byte("deeper"),
		entryRel("a directory") + "/":         nil,
		entryRel("a directory") + "/inner":    []byte("inside"),
		"cd/":                                 nil,
		"cd/" + strings.Repeat("c", 64) + "x": []byte("near-entry name"),
	}
	plant(t, dir, files)
	targetFile := filepath.Join(outside, "target")
	require.NoError(t, os.WriteFile(targetFile, entryFile(t, "linked", []byte("through a link")), 0o600))
	targetDir := filepath.Join(outside, "dir")
	require.NoError(t, os.Mkdir(targetDir, 0o700))
	links := map[string]string{
		entryRel("linked"):                   targetFile, // a valid entry for "linked", behind a link
		entryRel("dangling"):                 filepath.Join(outside, "missing"),
		"ef":                                 targetDir, // a fan-out directory that is a link
		filepath.Join(fan, ".tmp-1"):         targetFile,
		filepath.Join(fan, tempName(t, dir)): targetFile,
	}
	symlinks := runtime.GOOS != "windows"
	if symlinks {
		for rel, target := range links {
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o700))
			require.NoError(t, os.Symlink(target, filepath.Join(dir, rel)))
		}
	}
	// Everything planted is old: past any grace period, first to evict.
	old := clk.Now().Add(-24 * time.Hour)
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir && d.Name() != markerName && d.Type()&fs.ModeSymlink == 0 {
			err = os.Chtimes(p, old, old)
		}
		return err
	}))
	fifos := plantFIFOs(t, dir)
	before := snapshot(t, dir)
	outsideBefore := snapshot(t, outside)

	// Every operation, over and over budget.
	// Keys of the test's own entries, none in the fan-out directories
	// that a file or a link holds the place of.
	var keys []string
	for i := 0; len(keys) < 60; i++ {
		if k := fmt.Sprint("key-", i); entryFanRel(k) != "ab" && entryFanRel(k) != "ef" {
			keys = append(keys, k)
		}
	}
	for i, key := range keys {
		clk.Advance(time.Minute)
		require.NoError(t, s.Set(ctx, key, bytes.Repeat([]byte{byte(i)}, 1000), time.Hour))
		_, _ = s.Get(ctx, keys[i/2])
		if i%7 == 0 {
			require.NoError(t, s.Delete(ctx, key))
		}
	}
	planted := []string{"victim", "empty", "short", "a directory"}
	if symlinks {
		planted = append(planted, "linked", "dangling")
	}
	for _, key := range append(planted, fifos...) {
		_, err := s.Get(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound, key)
		require.NoError(t, s.Delete(ctx, key), key)
		require.Error(t, s.Set(ctx, key, []byte("v"), 0), "Set must not replace %s's planted file", key)
	}
	if symlinks {
		// A fan-out directory that is a link is not written through.
		key := keyInFan(t, "ef")
		require.Error(t, s.Set(ctx, key, []byte("v"), 0))
		_, err := s.Get(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	for _, k := range listKeys(t, s) {
		assert.True(t, strings.HasPrefix(k, "key-"), "Keys listed %q, which the store did not write", k)
	}
	assert.LessOrEqual(t, s.Bytes(), int64(budget))
	require.NoError(t, s.Sweep(ctx))
	clk.Advance(time.Hour)
	require.NoError(t, s.Sweep(ctx))
	require.NoError(t, s.Clear(ctx))
	_ = open(t, dir, opts)
	assert.Empty(t, listKeys(t, s))

	after := snapshot(t, dir)
	for p, was := range before {
		assert.Equal(t, was, after[p], "planted %s was changed or removed", p)
	}
	assert.Equal(t, outsideBefore, snapshot(t, outside), "files outside the directory, behind links, are untouched")
}

// TestHugeFileIsNotRead plants a 1 GiB sparse file at an entry's path, with
// and without a valid entry header: Get and Keys are misses that read next
// to nothing of it, and it is left in place.
//
// It does not run in parallel, so that the bytes allocated while it runs
// are its own.
func TestHugeFileIsNotRead(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	ctx := t.Context()
	const huge = 1 << 30

	header := entryFile(t, "with header", nil)
	for _, tt := range []struct {
		key  string
		head []byte
	}{
		{"zeros", nil},
		// A header that claims the whole 1 GiB as its value, checksums
		// and all: a valid entry, too large to read.
		{"with header", validHugeHeader(t, header, huge)},
	} {
		p := entryPath(dir, tt.key)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		f, err := os.Create(p)
		require.NoError(t, err)
		_, err = f.Write(tt.head)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(huge))
		require.NoError(t, f.Close())

		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, err = s.Get(ctx, tt.key)
		require.ErrorIs(t, err, store.ErrNotFound, tt.key)
		assert.NotContains(t, listKeys(t, s), tt.key)
		runtime.ReadMemStats(&m1)
		assert.Less(t, m1.TotalAlloc-m0.TotalAlloc, uint64(1<<20), "%s: Get and Keys must not read the file", tt.key)

		fi, err := os.Stat(p)
		require.NoError(t, err, "%s: a file too large to read is left in place", tt.key)
		assert.Equal(t, int64(huge), fi.Size())
	}
}

// TestMaxEntryBytes: an entry over the bound is not stored, and an entry
// file over it, written by a store with a larger bound, is a miss here.
func TestMaxEntryBytes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := open(t, dir, &diskstore.Options{MaxEntryBytes: 1000})
	large := open(t, dir, &diskstore.Options{MaxEntryBytes: 10000})
	ctx := t.Context()
	fits := make([]byte, 1000-36-1)
	require.NoError(t, small.Set(ctx, "k", fits, 0))
	v, err := small.Get(ctx, "k")
	require.NoError(t, err)
	assert.Len(t, v, len(fits))

	require.ErrorIs(t, small.Set(ctx, "k", make([]byte, len(fits)+1), 0), store.ErrTooLarge, "an entry over the bound is refused, and says so")
	_, err = small.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "an entry over the bound is not kept, nor is the old one")

	require.NoError(t, large.Set(ctx, "big", make([]byte, 5000), 0))
	_, err = small.Get(ctx, "big")
	require.ErrorIs(t, err, store.ErrNotFound, "a file over this store's bound is a miss")
	assert.NotContains(t, listKeys(t, small), "big")
	v, err = large.Get(ctx, "big")
	require.NoError(t, err, "and is left for the store that can read it")
	assert.Len(t, v, 5000)
}

func TestNewEntryOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    diskstore.Options
		wantErr string
	}{
		{diskstore.Options{MaxEntryBytes: -1}, "diskstore: Options.MaxEntryBytes is -1, want >= 0"},
		{diskstore.Options{MaxEntryBytes: 35}, "diskstore: Options.MaxEntryBytes is 35, too small for any entry (an entry file takes 36 bytes and its key and value)"},
		{diskstore.Options{MaxBytes: 10}, "diskstore: Options.MaxBytes is 10, too small for any entry (an entry file takes 36 bytes and its key and value)"},
		{diskstore.Options{MaxBytes: 1 << 20, MaxEntryBytes: 2 << 20}, "diskstore: Options.MaxEntryBytes is 2097152, more than Options.MaxBytes (1048576)"},
		{diskstore.Options{MaxEntryBytes: 2 << 30}, "diskstore: Options.MaxEntryBytes is 2147483648, more than Options.MaxBytes (1073741824)"},
		{diskstore.Options{MaxBytes: 1 << 20, MaxEntryBytes: 1 << 20}, ""},
		{diskstore.Options{MaxEntryBytes: 64 << 20}, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.give), func(t *testing.T) {
			t.Parallel()
			s, err := diskstore.New(t.TempDir(), &tt.give)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.Close())
		})
	}
}

// entryRel is key's entry path relative to the cache directory.
func entryRel(key string) string {
	p := entryPath("", key)
	return strings.TrimPrefix(p, string(filepath.Separator))
}

// entryFanRel is the fan-out directory of key's entry, relative to the
// cache directory.
func entryFanRel(key string) string { return filepath.Dir(entryRel(key)) }

// keyInFan returns a key whose entry lies in fan-out directory fan.
func keyInFan(t *testing.T, fan string) string {
	t.Helper()
	for i := range 100000 {
		k := fmt.Sprint("in-fan-", i)
		if entryFanRel(k) == fan {
			return k
		}
	}
	t.Fatalf("no key in fan-out directory %s", fan)
	return ""
}

// tempName returns a name the store on dir might give a temporary file.
func tempName(t *testing.T, dir string) string {
	return tempPrefix(t, dir) + "31337"
}

// damaged returns b with byte i flipped.
func damaged(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}

// validHugeHeader returns the header and key of entry, a file a store
// wrote, changed to claim a file of size bytes, its checksums recomputed.
func validHugeHeader(t *testing.T, entry []byte, size int64) []byte {
	t.Helper()
	keyLen := int(leUint64(entry[24:28]))
	head := bytes.Clone(entry[:36+keyLen])
	binary.LittleEndian.PutUint64(head[16:24], uint64(size)-uint64(len(head)))
	binary.LittleEndian.PutUint32(head[28:32], 0) // the value's checksum: only a full read checks it
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	binary.LittleEndian.PutUint32(head[32:36], crc32.Checksum(append(bytes.Clone(head[:32]), head[36:]...), castagnoli))
	return head
}

// plant creates files (and, for names ending in "/", directories) under
// dir.
func plant(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names) // parents first
	for _, rel := range names {
		p := filepath.Join(dir, rel)
		if strings.HasSuffix(rel, "/") {
			require.NoError(t, os.MkdirAll(p, 0o700))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, files[rel], 0o600))
	}
}

// snapshot describes every file, directory and link under dir: its kind,
// mode, modification time, and content or target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %d %q", len(b), b)
		case fi.IsDir():
			desc = fmt.Sprintf("%v", fi.Mode()) // entries in it change its time
		}
		m[p] = desc
		return nil
	}))
	return m
}
