package policy

// upperGMT returns s with a trailing " GMT" in any case spelled "GMT", so
// that time.Parse, which matches day and month names case-insensitively but
// a layout's literal text exactly, accepts it. It allocates only when the
// zone is not already upper case.
func upperGMT(s string) string {
	n := len(s)
	if n < 4 || s[n-4] != ' ' || s[n-3:] == "GMT" || !eqFold(s[n-3:], "gmt") {
		return s
	}
	return s[:n-3] + "GMT"
}
