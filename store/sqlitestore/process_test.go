package sqlitestore_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store/sqlitestore"
)

// Environment of a helper process started by TestTwoProcesses.
const (
	helperPathEnv = "SQLITESTORE_HELPER_PATH"
	helperIDEnv   = "SQLITESTORE_HELPER_ID"
	helperForEnv  = "SQLITESTORE_HELPER_FOR"
)

// budget is the MaxBytes of the concurrency tests: small, so that most
// Sets evict.
const budget = 128 << 10

// sharedKeys is how many keys the writers share.
const sharedKeys = 24

func sharedKey(k int) string { return fmt.Sprintf("GET https://example.com/shared/%d", k) }

// sharedValue is writer w's n-th value for key k: a header of k, w and n,
// then bytes derived from them, at a length from 2 to 18 KiB that differs
// between writers and writes, so that a mix of two values, or a value of
// another key, is detectable.
func sharedValue(k, w, n int) []byte {
	size := 2<<10 + (w*977+n*131)%(16<<10)
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b, uint32(k))
	binary.LittleEndian.PutUint32(b[4:], uint32(w))
	binary.LittleEndian.PutUint32(b[8:], uint32(n))
	x := byte(k*31 + w*7 + n)
	for i := 12; i < len(b); i++ {
		b[i] = x
		x = x*5 + 1
	}
	return b
}

// checkValue returns an error unless v is exactly a value sharedValue
// makes for key k.
func checkValue(k int, v []byte) error {
	if len(v) < 12 {
		return fmt.Errorf("value of %d bytes is too short", len(v))
	}
	gk := int(binary.LittleEndian.Uint32(v))
	w, n := int(binary.LittleEndian.Uint32(v[4:])), int(binary.LittleEndian.Uint32(v[8:]))
	if gk != k {
		return fmt.Errorf("value of key %d returned for key %d", gk, k)
	}
	if !bytes.Equal(v, sharedValue(k, w, n)) {
		return fmt.Errorf("value (writer %d, write %d, %d bytes) is not a whole value that writer wrote", w, n, len(v))
	}
	return nil
}

// TestHelperProcess is not a test: it is the other process of
// TestTwoProcesses, run from the test binary when the environment says so.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperPathEnv)
	if path == "" {
		t.Skip("helper process for TestTwoProcesses")
	}
	id, err := strconv.Atoi(os.Getenv(helperIDEnv))
	require.NoError(t, err)
	d, err := time.ParseDuration(os.Getenv(helperForEnv))
	require.NoError(t, err)
	s, err := sqlitestore.Open(path, &sqlitestore.Options{MaxBytes: budget})
	require.NoError(t, err)
	defer s.Close()
	res := hammer(t.Context(), []*sqlitestore.Store{s}, 4, id, d)
	for _, err := range res.errs {
		t.Errorf("helper %d: %v", id, err)
	}
	fmt.Printf("helper %d: %d sets, %d gets (%d hits), %d deletes, %d samples over budget\n", id, res.sets, res.gets, res.hits, res.deletes, res.overBudget)
	if res.overBudget > 0 {
		t.Errorf("helper %d saw the usage row over budget %d times", id, res.overBudget)
	}
}

// TestTwoProcesses: this process and another, each with writers and
// readers, share one database file for a few seconds: no error ("database
// is locked" included), no value that was not written whole for its key,
// and the table within MaxBytes whenever it is sampled and at the end.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	const d = 3 * time.Second
	s, path := open(t, &sqlitestore.Options{MaxBytes: budget})

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperPathEnv+"="+path, helperIDEnv+"=1", helperForEnv+"="+d.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())

	res := hammer(t.Context(), []*sqlitestore.Store{s}, 4, 0, d)
	err := cmd.Wait()
	t.Logf("helper process:\n%s", out.String())
	require.NoError(t, err, "the helper process failed")
	require.Contains(t, out.String(), "helper 1:", "the helper ran")
	t.Logf("this process: %d sets, %d gets (%d hits), %d deletes", res.sets, res.gets, res.hits, res.deletes)
	require.Empty(t, res.errs)
	assert.Zero(t, res.overBudget, "the usage row went over MaxBytes")
	if !raceEnabled {
		assert.Greater(t, res.sets, int64(20))
		assert.Greater(t, res.hits, int64(5), "too few hits to check values")
	}
	b, _ := usage(t, s)
	assert.LessOrEqual(t, b, int64(budget))

	// Every value left is whole and its key's.
	for k := range sharedKeys {
		v, err := s.Get(t.Context(), sharedKey(k))
		if err == nil {
			assert.NoError(t, checkValue(k, v))
		}
	}
}
