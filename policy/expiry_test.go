package policy

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func TestExpiryConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		give      Expiry
		wantSet   bool
		wantValid bool
		wantStr   string
	}{
		{name: "zero", give: Expiry{}, wantSet: false, wantValid: true, wantStr: "unset"},
		{name: "never", give: Never(), wantSet: true, wantValid: true, wantStr: "never"},
		{name: "do not store", give: DoNotStore(), wantSet: true, wantValid: true, wantStr: "do-not-store"},
		{name: "after", give: After(30 * time.Second), wantSet: true, wantValid: true, wantStr: "after 30s"},
		{name: "after 0", give: After(0), wantSet: true, wantValid: true, wantStr: "do-not-store"},
		{name: "after negative", give: After(-5 * time.Second), wantSet: true, wantValid: false, wantStr: "after -5s"},
		{name: "at", give: At(testNow), wantSet: true, wantValid: true, wantStr: "at 2026-01-02T15:04:05Z"},
		{name: "at nanos", give: At(testNow.Add(time.Millisecond)), wantSet: true, wantValid: true, wantStr: "at 2026-01-02T15:04:05.001Z"},
		{name: "at zero", give: At(time.Time{}), wantSet: true, wantValid: false, wantStr: "at 0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.wantSet, tt.give.IsSet())
			assert.Equal(t, tt.wantStr, tt.give.String())
			err := tt.give.Validate()
			if tt.wantValid {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidExpiry)
			}
		})
	}
}

func TestExpiryEquality(t *testing.T) {
	t.Parallel()
	assert.True(t, After(0) == DoNotStore())
	assert.True(t, Never() == Never())
	assert.True(t, After(time.Second) == After(time.Second))
	// The monotonic reading is dropped, so At values of one instant are ==.
	now := time.Now()
	assert.True(t, At(now) == At(now.Round(0)))
	assert.False(t, Never() == Expiry{})
}

func TestExpiresAt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		give      Expiry
		wantT     time.Time
		wantStore bool
	}{
		{name: "unset stores forever", give: Expiry{}, wantStore: true},
		{name: "never", give: Never(), wantStore: true},
		{name: "do not store", give: DoNotStore()},
		{name: "after", give: After(90 * time.Second), wantT: testNow.Add(90 * time.Second), wantStore: true},
		{name: "after 1ns", give: After(1), wantT: testNow.Add(1), wantStore: true},
		{name: "after negative", give: After(-time.Second)},
		{name: "at future", give: At(testNow.Add(time.Hour)), wantT: testNow.Add(time.Hour), wantStore: true},
		{name: "at now", give: At(testNow)},
		{name: "at past", give: At(testNow.Add(-time.Hour))},
		{name: "at zero", give: At(time.Time{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gotT, gotStore := tt.give.ExpiresAt(testNow)
			assert.Equal(t, tt.wantStore, gotStore)
			assert.True(t, tt.wantT.Equal(gotT), "got %v, want %v", gotT, tt.wantT)
		})
	}
}

func TestExpiresAtOtherZone(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("X", 3*3600)
	e := At(testNow.In(zone).Add(time.Minute))
	got, store := e.ExpiresAt(testNow)
	require.True(t, store)
	assert.True(t, got.Equal(testNow.Add(time.Minute)))
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give any
		want Expiry
	}{
		{name: "int -1", give: -1, want: Never()},
		{name: "int 0", give: 0, want: DoNotStore()},
		{name: "int 360", give: 360, want: After(360 * time.Second)},
		{name: "int64 -1", give: int64(-1), want: Never()},
		{name: "int64 0", give: int64(0), want: DoNotStore()},
		{name: "int64 86400", give: int64(86400), want: After(24 * time.Hour)},
		{name: "duration", give: 30 * 24 * time.Hour, want: After(30 * 24 * time.Hour)},
		{name: "duration 0", give: time.Duration(0), want: DoNotStore()},
		{name: "time", give: testNow, want: At(testNow)},
		{name: "expiry", give: Never(), want: Never()},
		{name: "expiry unset", give: Expiry{}, want: Expiry{}},
		{name: "expiry after", give: After(time.Minute), want: After(time.Minute)},
		{name: "string never", give: "never", want: Never()},
		{name: "string -1", give: "-1", want: Never()},
		{name: "string 0", give: "0", want: DoNotStore()},
		{name: "string do-not-store", give: "do-not-store", want: DoNotStore()},
		{name: "string seconds", give: "360", want: After(360 * time.Second)},
		{name: "string spaces", give: " 90s\n", want: After(90 * time.Second)},
		{name: "string duration", give: "90s", want: After(90 * time.Second)},
		{name: "string duration compound", give: "1h30m", want: After(90 * time.Minute)},
		{name: "string duration 0s", give: "0s", want: DoNotStore()},
		{name: "string rfc3339", give: "2026-01-02T15:04:05Z", want: At(testNow)},
		{name: "string rfc3339 offset", give: "2026-01-02T18:04:05+03:00", want: At(time.Date(2026, 1, 2, 18, 4, 5, 0, time.FixedZone("", 3*3600)))},
		{name: "string after", give: "after 2m0s", want: After(2 * time.Minute)},
		{name: "string at", give: "at 2026-01-02T15:04:05Z", want: At(testNow)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseExpiry(tt.give)
			require.NoError(t, err)
			assert.Equal(t, tt.want.String(), got.String())
			assert.Equal(t, tt.want.kind, got.kind)
			assert.Equal(t, tt.want.d, got.d)
			assert.True(t, tt.want.t.Equal(got.t))
		})
	}
}

func TestParseExpiryRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    any
		wantErr string
	}{
		{name: "int -5", give: -5, wantErr: `policy: invalid expiry -5 (int): negative seconds other than -1`},
		{name: "int64 -2", give: int64(-2), wantErr: `policy: invalid expiry -2 (int64): negative seconds other than -1`},
		{name: "int overflow", give: int64(1 << 62), wantErr: `seconds out of range`},
		{name: "float", give: 1.5, wantErr: `policy: invalid expiry 1.5 (float64): unsupported type`},
		{name: "int32", give: int32(5), wantErr: `policy: invalid expiry 5 (int32): unsupported type`},
		{name: "nil", give: nil, wantErr: `policy: invalid expiry <nil> (<nil>): unsupported type`},
		{name: "bool", give: true, wantErr: `(bool): unsupported type`},
		{name: "negative duration", give: -time.Second, wantErr: `policy: invalid expiry -1s (time.Duration): negative duration`},
		{name: "zero time", give: time.Time{}, wantErr: `(time.Time): zero time`},
		{name: "invalid expiry", give: After(-time.Second), wantErr: `negative duration`},
		{name: "soon", give: "soon", wantErr: `policy: invalid expiry "soon" (string): want "never", seconds, a Go duration or an RFC 3339 time`},
		{name: "empty string", give: "", wantErr: `policy: invalid expiry "" (string): empty string`},
		{name: "string -5", give: "-5", wantErr: `policy: invalid expiry "-5" (string): negative seconds other than -1`},
		{name: "string negative duration", give: "-5s", wantErr: `negative duration`},
		{name: "string float", give: "1.5", wantErr: `(string): want`},
		{name: "string Never", give: "Never", wantErr: `(string): want`},
		{name: "string after junk", give: "after soon", wantErr: `not a duration`},
		{name: "string at junk", give: "at 90s", wantErr: `not an RFC 3339 time`},
		{name: "string unset", give: "unset", wantErr: `(string): want`},
		{name: "pointer", give: new(Expiry), wantErr: `(*policy.Expiry): unsupported type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseExpiry(tt.give)
			require.Error(t, err)
			assert.ErrorContains(t, err, tt.wantErr)
			assert.True(t, errors.Is(err, ErrInvalidExpiry))
			assert.False(t, got.IsSet())
		})
	}
}

func TestParseExpiryRoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range []Expiry{Never(), DoNotStore(), After(90 * time.Second), After(1500 * time.Millisecond), At(testNow), At(testNow.Add(123 * time.Nanosecond))} {
		got, err := ParseExpiry(e.String())
		require.NoError(t, err, e.String())
		assert.Equal(t, e.String(), got.String())
		wantT, wantStore := e.ExpiresAt(testNow.Add(-time.Hour))
		gotT, gotStore := got.ExpiresAt(testNow.Add(-time.Hour))
		assert.Equal(t, wantStore, gotStore)
		assert.True(t, wantT.Equal(gotT))
	}
}
