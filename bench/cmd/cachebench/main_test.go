package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as the origin child process, as the
// cachebench binary does.
func TestMain(m *testing.M) {
	if os.Getenv(originEnv) != "" {
		if err := serveOrigin(); err != nil {
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

func TestZipfDeterministic(t *testing.T) {
	t.Parallel()
	draw := func(seed uint64) []int {
		z := newZipf(seed, 1.1, 1000)
		out := make([]int, 500)
		for i := range out {
			out[i] = z.next()
		}
		return out
	}
	a, b := draw(7), draw(7)
	assert.Equal(t, a, b, "same seed, same sequence")
	assert.NotEqual(t, a, draw(8), "another seed, another sequence")
	counts := make([]int, 1000)
	for _, v := range a {
		require.GreaterOrEqual(t, v, 0)
		require.Less(t, v, 1000)
		counts[v]++
	}
	assert.Greater(t, counts[0], counts[10], "index 0 is the most popular")
}

func TestHistQuantiles(t *testing.T) {
	t.Parallel()
	var h hist
	assert.Zero(t, h.quantile(0.5))
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	assert.InEpsilon(t, 500*time.Microsecond, h.quantile(0.5), 0.02)
	assert.InEpsilon(t, 990*time.Microsecond, h.quantile(0.99), 0.02)
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1e9, 1 << 62} {
		lo, w := lowerBound(bucketOf(v))
		assert.True(t, lo <= v && v < lo+w, "value %d in bucket [%d, %d)", v, lo, lo+w)
	}
	h.add(-time.Second) // a clock step back is counted as 0
	h.add(time.Duration(1<<63 - 1))
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give []string
		want string
	}{
		{[]string{"-stores", "memory,nope"}, `-stores: unknown store "nope"`},
		{[]string{"-budget", "lots"}, "-budget"},
		{[]string{"-budget", "0"}, "-budget"},
		{[]string{"-sizes", "1KiB,-3"}, "-sizes"},
		{[]string{"-sizes", "1TiB"}, "-sizes"},
		{[]string{"-urls", "1"}, "-urls is 1"},
		{[]string{"-duration", "0s"}, "-duration"},
		{[]string{"-warmup", "-1s"}, "-warmup"},
		{[]string{"-concurrency", "0"}, "-concurrency"},
		{[]string{"-latency", "-1ms"}, "-latency"},
		{[]string{"-zipf", "1"}, "-zipf"},
		{[]string{"-zipf", "NaN"}, "-zipf"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-nosuchflag"}, "not defined"},
	}
	for _, tt := range tests {
		_, err := parseConfig(tt.give, io.Discard)
		require.Error(t, err, "%v", tt.give)
		assert.Contains(t, err.Error(), tt.want, "%v", tt.give)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, io.Discard)
	require.NoError(t, err)
	assert.Contains(t, c.Stores, "memory")
	assert.Greater(t, c.workloadBytes(), c.Budget, "the default workload does not fit in the cache")
	c, err = parseConfig([]string{"-stores", "disk, memory,disk", "-budget", "8MiB", "-sizes", "512,2KiB"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"disk", "memory"}, c.Stores)
	assert.Equal(t, int64(8<<20), c.Budget)
	assert.Equal(t, []int{512, 2048}, c.Sizes)
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	for give, want := range map[int64]string{1: "1B", 1024: "1KiB", 1536: "1.5KiB", 32 << 20: "32MiB", 3 << 30: "3GiB", 1<<20 + 1<<19: "1.5MiB"} {
		assert.Equal(t, want, formatSize(give))
		if n, err := parseSize(want); err == nil {
			assert.Equal(t, give, n)
		}
	}
}

func sampleReport() *report {
	c, _ := parseConfig([]string{"-stores", "memory,redis"}, io.Discard)
	return &report{
		Date:   time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		Config: c,
		Results: []result{
			{Store: "memory", Kind: "typed", Requests: 1000, HitRatio: 0.8, RPS: 12345, P50: 5 * time.Microsecond, P99: 3 * time.Millisecond, AllocsPerReq: 26.5, HeapInuse: 40 << 20, RSS: 60 << 20, StoredBytes: 30 << 20, Entries: 3000},
			{Store: "a<b&c", Kind: "bytes", Requests: 10, HitRatio: 0.5, RPS: 100},
		},
		Skipped: []skip{{Store: "redis", Reason: "redisstore not wired into bench yet"}},
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, writeTable(&b, sampleReport()))
	out := b.String()
	for _, want := range []string{"hit ratio", "memory", "0.800", "12345", "0.005", "3.000", "26.5", "40.0", "skipped: redis (redisstore not wired into bench yet)"} {
		assert.Contains(t, out, want)
	}
}

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, writeCSV(&b, sampleReport()))
	rows, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, "store", rows[0][0])
	assert.Equal(t, []string{"memory", "typed", "1000", "0", "0.8000", "12345.0", "0.005", "3.000", "26.50"}, rows[1][:9])
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, writeJSON(&b, sampleReport()))
	var got report
	require.NoError(t, json.Unmarshal(b.Bytes(), &got))
	assert.Equal(t, sampleReport().Results, got.Results)
	assert.Equal(t, "redis", got.Skipped[0].Store)
	assert.Equal(t, 20000, got.Config.URLs)
}

func TestWriteSVG(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, writeSVG(&b, sampleReport()))
	d := xml.NewDecoder(&b)
	var rects, texts int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "well-formed XML")
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "rect":
				rects++
			case "text":
				texts++
			}
		}
	}
	assert.Equal(t, 1+2*2, rects, "background and one bar per store per panel")
	assert.Greater(t, texts, 8)
}

// TestRunShort is a whole run, kept short: one store, a small workload,
// the origin in a child process as by default. Redis is pointed at a port
// where nothing listens, to show how a store that cannot run is reported.
func TestRunShort(t *testing.T) {
	t.Setenv("CACHESTACK_REDIS_ADDR", "127.0.0.1:1")
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"-stores", "memory,redis", "-urls", "200", "-budget", "64KiB", "-sizes", "1KiB",
		"-duration", "200ms", "-warmup", "50ms", "-latency", "0s", "-concurrency", "2",
		"-progress", "-json", dir + "/r.json", "-csv", dir + "/r.csv", "-svg", dir + "/r.svg",
	}, &stdout, &stderr, false)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	assert.Contains(t, stdout.String(), "memory")
	assert.Contains(t, stdout.String(), "skipped: redis (no Redis at 127.0.0.1:1")
	assert.Contains(t, stderr.String(), "\rmemory: ", "progress line")
	b, err := os.ReadFile(dir + "/r.json")
	require.NoError(t, err)
	var r report
	require.NoError(t, json.Unmarshal(b, &r))
	require.Len(t, r.Results, 1)
	assert.Positive(t, r.Results[0].Requests)
	assert.Positive(t, r.Results[0].HitRatio)
	assert.Less(t, r.Results[0].HitRatio, 1.0, "the workload does not fit")
	assert.Zero(t, r.Results[0].Errors)
	for _, f := range []string{"r.csv", "r.svg"} {
		fi, err := os.Stat(dir + "/" + f)
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
	assert.False(t, strings.Contains(stderr.String(), "note:"), "200 KiB of bodies do not fit in 64 KiB")
}
