package diskstore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
)

// Environment of a helper process started by TestProcessesShareDirectory.
const (
	helperDirEnv = "DISKSTORE_HELPER_DIR"
	helperIDEnv  = "DISKSTORE_HELPER_ID"
)

const (
	sharedKey     = "GET https://example.com/shared"
	helperWrites  = 150
	helperWriters = 3
)

// sharedValue is writer id's n-th value for the shared key: a header of
// id and n, then a fill byte derived from both, at a length that differs
// between writers and writes, so that a mix of two values is detectable.
func sharedValue(id, n int) []byte {
	b := bytes.Repeat([]byte{byte(id*31 + n)}, 16<<10+id*1000+n%7*100)
	binary.LittleEndian.PutUint32(b, uint32(id))
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	return b
}

// checkShared returns an error unless v is exactly one of the values
// sharedValue makes.
func checkShared(v []byte) error {
	if len(v) < 8 {
		return fmt.Errorf("value of %d bytes is too short", len(v))
	}
	id, n := int(binary.LittleEndian.Uint32(v)), int(binary.LittleEndian.Uint32(v[4:]))
	if id > helperWriters || n >= helperWrites || !bytes.Equal(v, sharedValue(id, n)) {
		return fmt.Errorf("value (writer %d, write %d, %d bytes) is not a complete value any writer wrote", id, n, len(v))
	}
	return nil
}

// TestHelperProcess is not a test: it is the other process of
// TestProcessesShareDirectory, run from the test binary when the
// environment says so.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestProcessesShareDirectory")
	}
	id, err := strconv.Atoi(os.Getenv(helperIDEnv))
	require.NoError(t, err)
	s, err := diskstore.New(dir, &diskstore.Options{MaxBytes: 4 << 20})
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	for n := range helperWrites {
		require.NoError(t, s.Set(ctx, sharedKey, sharedValue(id, n), 0))
		require.NoError(t, s.Set(ctx, fmt.Sprintf("own-%d-%d", id, n%10), sharedValue(id, n), 0))
		v, err := s.Get(ctx, sharedKey)
		if errors.Is(err, store.ErrNotFound) {
			continue // another writer deleted it
		}
		require.NoError(t, err)
		require.NoError(t, checkShared(v), "helper %d, write %d", id, n)
		if n%25 == 0 {
			require.NoError(t, s.Delete(ctx, sharedKey))
		}
	}
}

// TestProcessesShareDirectory has several processes write the same key in
// one directory at once, while this one reads it: every read is a miss or
// one complete value, never a mix of two.
func TestProcessesShareDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &diskstore.Options{MaxBytes: 4 << 20})
	ctx := t.Context()
	for round := range 3 {
		cmds := make([]*exec.Cmd, helperWriters)
		outs := make([]bytes.Buffer, helperWriters)
		for i := range cmds {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperIDEnv+"="+strconv.Itoa(i+1))
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			require.NoError(t, cmd.Start())
			cmds[i] = cmd
		}
		var (
			wg    sync.WaitGroup
			done  atomic.Bool
			reads atomic.Int64
			hits  atomic.Int64
		)
		wg.Go(func() {
			for !done.Load() {
				v, err := s.Get(ctx, sharedKey)
				reads.Add(1)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				hits.Add(1)
				if err := checkShared(v); err != nil {
					t.Errorf("round %d: %v", round, err)
					return
				}
			}
		})
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Errorf("round %d: helper %d: %v\n%s", round, i+1, err, outs[i].String())
			} else if !bytes.Contains(outs[i].Bytes(), []byte("--- PASS: TestHelperProcess")) {
				t.Errorf("round %d: helper %d did not run its writes:\n%s", round, i+1, outs[i].String())
			}
		}
		done.Store(true)
		wg.Wait()
		t.Logf("round %d: %d reads, %d hits", round, reads.Load(), hits.Load())
		v, err := s.Get(ctx, sharedKey)
		if err == nil {
			require.NoError(t, checkShared(v), "round %d: after the writers exited", round)
		} else {
			require.ErrorIs(t, err, store.ErrNotFound)
		}
	}
	require.NoError(t, s.Sweep(ctx))
	require.Equal(t, sum(entrySizes(t, dir)), s.Bytes())
}
