package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cachestack/cachestack/store/diskstore"
)

// openPTY opens a pseudo-terminal: what the test writes to master, a
// program reading slave reads as typed on a terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestClearAsksOnATerminal answers clear's question on a terminal: "n"
// keeps the cache, "y" clears it.
func TestClearAsksOnATerminal(t *testing.T) {
	bin, err := buildBin()
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "cache")
	s, err := diskstore.OpenResponses(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	put(t, s, "https://example.com/a", []byte("a"), time.Now().Add(time.Hour))

	var out outputs
	for _, tt := range []struct {
		answer string
		code   int
		left   int
	}{
		{"n\n", 1, 1},
		{"\n", 1, 1},
		{"y\n", 0, 0},
	} {
		master, slave := openPTY(t)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		cmd := exec.CommandContext(ctx, bin, "clear", dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &stdout, &stderr
		_, err := master.Write([]byte(tt.answer))
		require.NoError(t, err)
		err = cmd.Run()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, tt.code, code, "answer %q: %s", tt.answer, stderr.String())
		assert.Contains(t, stderr.String(), "remove every entry of disk cache "+dir+"? [y/N] ")
		assert.Len(t, lsJSON(t, &out, dir), tt.left, "answer %q", tt.answer)
	}
}
