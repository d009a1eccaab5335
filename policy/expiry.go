package policy

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidExpiry is matched (with errors.Is) by every error ParseExpiry
// and Expiry.Validate return.
var ErrInvalidExpiry = errors.New("policy: invalid expiry")

type expiryKind uint8

const (
	kindUnset expiryKind = iota
	kindNever
	kindDoNotStore
	kindAfter
	kindAt
)

// Expiry is an expiry value, aiohttp-client-cache's expire_after (section "Expiration
// Values"): never expire, do not store, expire a duration after the response
// is stored, or expire at an absolute time.
//
// The zero Expiry is unset: it has no opinion, and Decisions ignores it.
// Expiry values are small, immutable and comparable with ==.
type Expiry struct {
	kind expiryKind
	d    time.Duration
	t    time.Time
}

// Never returns the expiry of a response that is stored and never expires
// (aiohttp-client-cache's -1).
func Never() Expiry { return Expiry{kind: kindNever} }

// DoNotStore returns the expiry of a response that is not written to the
// cache at all (aiohttp-client-cache's 0, "expire immediately, e.g. skip writing").
func DoNotStore() Expiry { return Expiry{kind: kindDoNotStore} }

// After returns the expiry of a response that expires d after it is stored
// (aiohttp-client-cache's positive seconds or timedelta). After(0) is DoNotStore(). A
// negative d gives an invalid Expiry: Validate reports it, and ExpiresAt
// treats it as do not store.
func After(d time.Duration) Expiry {
	if d == 0 {
		return DoNotStore()
	}
	return Expiry{kind: kindAfter, d: d}
}

// At returns the expiry of a response that expires at t (aiohttp-client-cache's
// datetime). A response stored at or after t is not stored. The monotonic
// clock reading of t is dropped, so that equal instants compare equal; a
// zero t is invalid (Validate reports it).
func At(t time.Time) Expiry { return Expiry{kind: kindAt, t: t.Round(0)} }

// ParseExpiry converts aiohttp-client-cache's expire_after forms to an Expiry:
//
//   - int or int64 seconds: -1 is Never, 0 is DoNotStore, n > 0 is After(n s);
//   - time.Duration: After(d), so 0 is DoNotStore; negative is an error;
//   - time.Time: At(t); the zero time is an error;
//   - Expiry: returned as it is once valid (an unset Expiry stays unset);
//   - string: "never" or "-1" (Never), "do-not-store" or "0" (DoNotStore),
//     decimal seconds ("360"), a Go duration ("90s", "1h30m"), an RFC 3339
//     time ("2026-01-02T15:04:05Z"), or the forms Expiry.String prints
//     ("after 90s", "at 2026-01-02T15:04:05Z"). Surrounding space is ignored.
//
// Anything else (other negative numbers, floats, nil, other types, other
// strings) is an error naming the value and its type that wraps
// ErrInvalidExpiry.
func ParseExpiry(v any) (Expiry, error) {
	switch v := v.(type) {
	case int:
		return parseSeconds(int64(v), v)
	case int64:
		return parseSeconds(v, v)
	case time.Duration:
		if v < 0 {
			return Expiry{}, expiryError(v, "negative duration")
		}
		return After(v), nil
	case time.Time:
		if v.IsZero() {
			return Expiry{}, expiryError(v, "zero time")
		}
		return At(v), nil
	case Expiry:
		if err := v.Validate(); err != nil {
			return Expiry{}, err
		}
		return v, nil
	case string:
		return parseExpiryString(v)
	default:
		return Expiry{}, expiryError(v, "unsupported type")
	}
}

func parseSeconds(n int64, orig any) (Expiry, error) {
	switch {
	case n == -1:
		return Never(), nil
	case n < 0:
		return Expiry{}, expiryError(orig, "negative seconds other than -1")
	case n > math.MaxInt64/int64(time.Second):
		return Expiry{}, expiryError(orig, "seconds out of range")
	}
	return After(time.Duration(n) * time.Second), nil
}

func parseExpiryString(v string) (Expiry, error) {
	s := strings.TrimSpace(v)
	switch s {
	case "never":
		return Never(), nil
	case "do-not-store":
		return DoNotStore(), nil
	case "":
		return Expiry{}, expiryError(v, "empty string")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return parseSeconds(n, v)
	}
	if rest, ok := strings.CutPrefix(s, "after "); ok {
		s = strings.TrimSpace(rest)
		if _, err := time.ParseDuration(s); err != nil {
			return Expiry{}, expiryError(v, "not a duration")
		}
	} else if rest, ok := strings.CutPrefix(s, "at "); ok {
		s = strings.TrimSpace(rest)
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return Expiry{}, expiryError(v, "not an RFC 3339 time")
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return Expiry{}, expiryError(v, "negative duration")
		}
		return After(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return At(t), nil
	}
	return Expiry{}, expiryError(v, `want "never", seconds, a Go duration or an RFC 3339 time`)
}

// expiryError names the rejected value and its type.
func expiryError(v any, reason string) error {
	var val string
	switch v := v.(type) {
	case string:
		val = strconv.Quote(v)
	case time.Time:
		val = v.Format(time.RFC3339Nano)
	default:
		val = fmt.Sprint(v)
	}
	return fmt.Errorf("%w %s (%T): %s", ErrInvalidExpiry, val, v, reason)
}

// IsSet reports whether e has an opinion, that is whether it is not the zero
// Expiry.
func (e Expiry) IsSet() bool { return e.kind != kindUnset }

// Validate returns nil for a valid Expiry (including the unset one) and an
// error wrapping ErrInvalidExpiry for After with a negative duration or At
// with the zero time.
func (e Expiry) Validate() error {
	switch {
	case e.kind == kindAfter && e.d < 0:
		return fmt.Errorf("%w: %s: negative duration", ErrInvalidExpiry, e)
	case e.kind == kindAt && e.t.IsZero():
		return fmt.Errorf("%w: at the zero time", ErrInvalidExpiry)
	case e.kind > kindAt:
		return fmt.Errorf("%w: unknown kind %d", ErrInvalidExpiry, e.kind)
	}
	return nil
}

// ExpiresAt applies e to a response stored at now. store is false when the
// response must not be written: for DoNotStore, for an At time that is not
// after now, and for an invalid Expiry. t is when the stored response
// expires (cached.Response.Expires): now+d for After, the time for At, and
// zero, meaning never, for Never and for the unset Expiry (aiohttp-client-cache stores
// responses indefinitely by default).
func (e Expiry) ExpiresAt(now time.Time) (t time.Time, store bool) {
	switch e.kind {
	case kindUnset, kindNever:
		return time.Time{}, true
	case kindAfter:
		if e.d < 0 {
			return time.Time{}, false
		}
		return now.Add(e.d), true
	case kindAt:
		if !e.t.After(now) {
			return time.Time{}, false
		}
		return e.t, true
	default: // kindDoNotStore and anything unknown
		return time.Time{}, false
	}
}

// String returns "unset", "never", "do-not-store", "after 30s" or
// "at 2026-01-02T15:04:05Z" (RFC 3339 with any fractional seconds).
// ParseExpiry accepts every form but "unset".
func (e Expiry) String() string {
	switch e.kind {
	case kindUnset:
		return "unset"
	case kindNever:
		return "never"
	case kindDoNotStore:
		return "do-not-store"
	case kindAfter:
		return "after " + e.d.String()
	case kindAt:
		return "at " + e.t.Format(time.RFC3339Nano)
	}
	return "Expiry(" + strconv.Itoa(int(e.kind)) + ")"
}
