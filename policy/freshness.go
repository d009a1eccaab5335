package policy

import (
	"net/http"
	"strings"
	"time"
)

// Heuristic configures the heuristic freshness lifetime a cache may give a
// response without explicit expiration (RFC 9111 §4.2.2): a fraction of
// the time since Last-Modified, capped. The zero Heuristic is the RFC's
// typical 10%, capped at 24 hours.
type Heuristic struct {
	// Fraction is the fraction of the interval between Last-Modified and
	// Date used as the lifetime; 0, a negative value or NaN means 0.1.
	Fraction float64
	// Max caps the lifetime; 0 or a negative value means 24 hours.
	Max time.Duration
}

// lifetime applies h to the interval since Last-Modified.
func (h *Heuristic) lifetime(since time.Duration) time.Duration {
	if since <= 0 {
		return 0
	}
	frac := h.Fraction
	if !(frac > 0) { // also NaN
		frac = 0.1
	}
	limit := h.Max
	if limit <= 0 {
		limit = 24 * time.Hour
	}
	if f := float64(since) * frac; f < float64(limit) {
		return time.Duration(f)
	}
	return limit
}

// Lifetime returns the freshness lifetime of a response (RFC 9111 §4.2.1)
// for a private cache, and whether it is explicit:
//
//   - Invalid directives (a malformed or conflicting max-age or s-maxage)
//     give 0, explicit: the response is stale (§4.2.1).
//   - max-age gives its value, explicit; Expires is then ignored (§5.3).
//     s-maxage is ignored: it is for shared caches (§5.2.2.10).
//   - Expires gives Expires − Date, at least 0, explicit. An invalid
//     Expires, "0" included, means already expired (§5.3): 0, explicit.
//     Several Expires lines that do not all carry the same date are
//     treated like an invalid one (§4.2.1 lets a cache consider such a
//     response stale).
//   - Otherwise, when heur is not nil, the status is heuristically
//     cacheable (CacheableStatus) or the response is marked public (§4.2.2
//     allows both), and Last-Modified is a valid HTTP-date, the heuristic
//     lifetime: heur's fraction of Date − Last-Modified, capped, 0 when
//     Last-Modified is not before Date. Not explicit.
//   - Otherwise 0, not explicit.
//
// Date is the first Date field line; when it is missing or invalid, the
// responseTime at which the response was received stands in for it (RFC
// 9110 §6.6.1: a recipient records the time it received such a response
// as its Date). The result is at most MaxDelta.
func Lifetime(status int, h http.Header, d ResponseDirectives, responseTime time.Time, heur *Heuristic) (lifetime time.Duration, explicit bool) {
	if d.Invalid {
		return 0, true
	}
	if d.HasMaxAge {
		return d.MaxAge, true
	}
	if exp := h["Expires"]; len(exp) > 0 {
		t, ok := ParseHTTPDate(exp[0])
		for _, e := range exp[1:] {
			if u, ok2 := ParseHTTPDate(e); !ok2 || !u.Equal(t) {
				ok = false
			}
		}
		if !ok {
			return 0, true
		}
		return clampDelta(t.Sub(dateValue(h, responseTime))), true
	}
	if heur == nil || !(CacheableStatus(status) || d.Public) {
		return 0, false
	}
	lm := h["Last-Modified"]
	if len(lm) == 0 {
		return 0, false
	}
	t, ok := ParseHTTPDate(lm[0])
	if !ok {
		return 0, false
	}
	return min(heur.lifetime(dateValue(h, responseTime).Sub(t)), MaxDelta), false
}

// CorrectedInitialAge returns a response's corrected_initial_age (RFC 9111
// §4.2.3), computed when it is received:
//
//	apparent_age = max(0, response_time − date_value)
//	response_delay = response_time − request_time
//	corrected_age_value = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//
// age_value is the first valid delta-seconds in the Age field lines (§5.1;
// Age is a single value, but lines merged by intermediaries are read as a
// list); more than 2^31 seconds is MaxDelta; none valid ("-5", "1.5", "")
// means 0, as for a missing Age. date_value is the first Date line, or
// responseTime when it is missing or invalid (RFC 9110 §6.6.1), giving an
// apparent_age of 0. A negative response_delay (requestTime after
// responseTime, a clock step) counts as 0. The result saturates at
// MaxDelta (§1.2.2).
func CorrectedInitialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	apparent := max(0, responseTime.Sub(dateValue(h, responseTime)))
	delay := min(max(0, responseTime.Sub(requestTime)), MaxDelta)
	corrected := ageValue(h) + delay // both at most MaxDelta: no overflow
	return min(max(apparent, corrected), MaxDelta)
}

// CurrentAge returns a stored response's current_age at now (RFC 9111
// §4.2.3): corrected_initial_age + resident_time, where resident_time =
// now − response_time, at least 0. It saturates at MaxDelta. The response
// is fresh while CurrentAge < its Lifetime (§4.2).
func CurrentAge(correctedInitialAge time.Duration, responseTime, now time.Time) time.Duration {
	resident := min(max(0, now.Sub(responseTime)), MaxDelta)
	return min(clampDelta(correctedInitialAge)+resident, MaxDelta)
}

// ageValue returns the first valid delta-seconds of the Age lines, or 0.
func ageValue(h http.Header) time.Duration {
	for _, line := range h["Age"] {
		for line != "" {
			var v string
			v, line, _ = strings.Cut(line, ",")
			if d, ok := (member{value: trimOWS(v), hasValue: true}).delta(); ok {
				return d
			}
		}
	}
	return 0
}

// dateValue returns the first Date line's time, or responseTime.
func dateValue(h http.Header, responseTime time.Time) time.Time {
	if v := h["Date"]; len(v) > 0 {
		if t, ok := ParseHTTPDate(v[0]); ok {
			return t
		}
	}
	return responseTime
}

// clampDelta limits d to 0..MaxDelta.
func clampDelta(d time.Duration) time.Duration { return min(max(0, d), MaxDelta) }

const (
	rfc850Layout = "Monday, 02-Jan-06 15:04:05 GMT"
	// The lengths of an IMF-fixdate, of an rfc850-date after its day
	// name, and of an asctime-date.
	imfFixdateLen   = len(http.TimeFormat)
	rfc850TailLen   = len(", 02-Jan-06 15:04:05 GMT")
	asctimeDateLen  = len(time.ANSIC)
	shortestDayName = len("Monday")
)

// ParseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) in any of its three
// formats, returning it in UTC:
//
//	Sun, 06 Nov 1994 08:49:37 GMT   IMF-fixdate
//	Sunday, 06-Nov-94 08:49:37 GMT  obsolete RFC 850 format
//	Sun Nov  6 08:49:37 1994        ANSI C's asctime() format
//
// ok is false for anything else, "0" and "-1" included (an invalid
// Expires means already expired; Lifetime handles that). Surrounding
// whitespace is ignored. Day names, month names and "GMT" are matched
// case-insensitively (RFC 9110 §5.6.7: they are case-sensitive in the
// grammar, but recipients are lenient, and "Sun, 06 Nov 1994 08:49:37 gMT"
// names the same instant), and the day name is not checked against the
// date. A two-digit RFC 850 year is 19yy from 69 and 20yy below, Go's
// fixed pivot, rather than the "more than 50 years in the future" rule of
// §5.6.7, which would need a clock; only the years 2069–2076 differ today.
func ParseHTTPDate(s string) (time.Time, bool) {
	s = trimOWS(s)
	s = upperGMT(s)
	var layout string
	switch {
	case len(s) == imfFixdateLen && strings.IndexByte(s, ',') == 3:
		layout = http.TimeFormat
	case len(s) == asctimeDateLen && strings.IndexByte(s, ',') < 0:
		layout = time.ANSIC
	default:
		i := strings.IndexByte(s, ',')
		if i < shortestDayName || len(s)-i != rfc850TailLen {
			return time.Time{}, false
		}
		layout = rfc850Layout
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// CacheableStatus reports whether responses with status code are
// heuristically cacheable (RFC 9110 §15.1): 200, 203, 204, 206, 300, 301,
// 308, 404, 405, 410, 414 and 501.
func CacheableStatus(code int) bool {
	switch code {
	case http.StatusOK, http.StatusNonAuthoritativeInfo, http.StatusNoContent,
		http.StatusPartialContent, http.StatusMultipleChoices,
		http.StatusMovedPermanently, http.StatusPermanentRedirect,
		http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusGone,
		http.StatusRequestURITooLong, http.StatusNotImplemented:
		return true
	}
	return false
}
