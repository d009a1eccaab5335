package policy

import "time"

// ETag is an entity tag (RFC 9110 §8.8.3): an opaque string, weak or
// strong.
type ETag struct {
	// Weak reports the W/ prefix.
	Weak bool
	// Opaque is the tag between the double quotes.
	Opaque string
}

// ParseETag parses one entity-tag, as an ETag field carries it:
//
//	entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
//	etagc      = %x21 / %x23-7E / obs-text
//
// Surrounding whitespace is ignored; anything else (a missing quote, a
// lower-case "w/", text after the closing quote) is not an entity-tag.
func ParseETag(s string) (ETag, bool) {
	t, rest, ok := scanETag(trimOWS(s))
	return t, ok && rest == ""
}

// scanETag reads one entity-tag at the start of s and returns what follows
// it.
func scanETag(s string) (ETag, string, bool) {
	var t ETag
	if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
		t.Weak, s = true, s[2:]
	}
	if s == "" || s[0] != '"' {
		return ETag{}, "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			t.Opaque = s[1:i]
			return t, s[i+1:], true
		case c == 0x21 || (c >= 0x23 && c != 0x7F):
		default:
			return ETag{}, "", false
		}
	}
	return ETag{}, "", false
}

// StrongMatch is the strong comparison of RFC 9110 §8.8.3.2: both tags are
// strong and their opaque strings are equal.
func StrongMatch(a, b ETag) bool { return !a.Weak && !b.Weak && a.Opaque == b.Opaque }

// WeakMatch is the weak comparison of RFC 9110 §8.8.3.2: the opaque
// strings are equal, whether either tag is weak or not.
func WeakMatch(a, b ETag) bool { return a.Opaque == b.Opaque }

// maxETagMembers bounds how many members of an entity-tag list are read.
const maxETagMembers = 256

// ParseETagList parses the field lines of If-Match or If-None-Match (RFC
// 9110 §13.1.1, §13.1.2):
//
//	If-None-Match = "*" / #entity-tag
//
// star reports the "*" form. ok is false when the value is neither: a
// member that is not an entity-tag, "*" beside other members, more than
// 256 members or more than 64 KiB of lines. Empty members and whitespace
// around commas are skipped, as for any list (RFC 9110 §5.6.1). A caller
// that cannot read a condition does not evaluate it.
func ParseETagList(lines ...string) (tags []ETag, star bool, ok bool) {
	budget := maxListBytes
	members := 0
	for _, line := range lines {
		if budget -= len(line) + 1; budget < 0 {
			return nil, false, false
		}
		s := line
		for {
			s = trimListStart(s)
			if s == "" {
				break
			}
			if members++; members > maxETagMembers {
				return nil, false, false
			}
			if s[0] == '*' {
				star, s = true, s[1:]
			} else {
				t, rest, good := scanETag(s)
				if !good {
					return nil, false, false
				}
				tags, s = append(tags, t), rest
			}
			s = skipOWSString(s)
			if s != "" && s[0] != ',' {
				return nil, false, false
			}
		}
	}
	if star && len(tags) > 0 {
		return nil, false, false
	}
	return tags, star, star || len(tags) > 0
}

// trimListStart skips whitespace and empty list members.
func trimListStart(s string) string {
	for s != "" && (isOWS(s[0]) || s[0] == ',') {
		s = s[1:]
	}
	return s
}

func skipOWSString(s string) string { return s[skipOWS(s, 0):] }

// NoneMatch evaluates If-None-Match (RFC 9110 §13.1.2) against the ETag of
// a selected representation, etag ("" when it has none): it reports
// whether the condition is false, that is whether a GET or HEAD is to be
// answered 304 Not Modified. "*" matches any representation; a list
// matches when one of its tags weakly matches etag. ok is false when the
// field cannot be read (see ParseETagList): the condition is then not
// evaluated.
func NoneMatch(lines []string, etag string) (notModified, ok bool) {
	tags, star, ok := ParseETagList(lines...)
	if !ok {
		return false, false
	}
	if star {
		return true, true
	}
	cur, valid := ParseETag(etag)
	if !valid {
		return false, true
	}
	for _, t := range tags {
		if WeakMatch(t, cur) {
			return true, true
		}
	}
	return false, true
}

// NotModifiedSince evaluates If-Modified-Since (RFC 9110 §13.1.3) against
// the selected representation's modification date: it reports whether the
// condition is false (not modified since the given date), that is whether
// a GET or HEAD is to be answered 304 Not Modified. ok is false when the
// field is to be ignored: not a single valid HTTP-date.
func NotModifiedSince(lines []string, modified time.Time) (notModified, ok bool) {
	if len(lines) != 1 {
		return false, false
	}
	since, valid := ParseHTTPDate(lines[0])
	if !valid {
		return false, false
	}
	return !modified.After(since), true
}

// StrongDate reports whether a Last-Modified date is a strong validator
// for a stored response dated date (RFC 9110 §8.8.2.2): it is at least 60
// seconds before it.
func StrongDate(lastModified, date time.Time) bool {
	return !lastModified.IsZero() && !date.IsZero() && date.Sub(lastModified) >= 60*time.Second
}
