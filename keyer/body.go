package keyer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// readBody reads req's body, up to k.maxBody+1 bytes. On success it closes
// the original body and returns the bytes and a shallow clone of req that
// replays them. On ErrBodyTooLarge or a read error it returns a request
// whose body yields what was read followed by the unread rest.
func (k *Keyer) readBody(req *http.Request) ([]byte, *http.Request, error) {
	if req.ContentLength > k.maxBody {
		return nil, req, ErrBodyTooLarge
	}
	limit := k.maxBody // one more byte than allowed tells "too large"
	if limit < math.MaxInt64 {
		limit++
	}
	size := int64(512)
	if req.ContentLength > 0 && req.ContentLength < DefaultMaxBodyBytes {
		size = req.ContentLength + 1 // +1 to see EOF without growing
	}
	buf := make([]byte, 0, min(size, limit))
	var rerr error
	for {
		if int64(len(buf)) >= min(int64(cap(buf)), limit) {
			if int64(len(buf)) >= limit {
				break
			}
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit-int64(len(buf)))))
		}
		n, err := req.Body.Read(buf[len(buf):int(min(int64(cap(buf)), limit))])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	out := new(http.Request)
	*out = *req
	if rerr != nil || int64(len(buf)) > k.maxBody {
		out.Body = &partialBody{Reader: io.MultiReader(bytes.NewReader(buf), req.Body), orig: req.Body}
		if rerr != nil {
			return nil, out, fmt.Errorf("keyer: read body: %w", rerr)
		}
		return nil, out, ErrBodyTooLarge
	}
	req.Body.Close() // as a transport would; nothing useful to do on error
	out.ContentLength = int64(len(buf))
	if len(buf) == 0 {
		out.Body = http.NoBody
		out.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return buf, out, nil
	}
	out.Body = io.NopCloser(bytes.NewReader(buf))
	out.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf)), nil
	}
	return buf, out, nil
}

// partialBody replays the bytes read so far, then the rest of orig, and
// closes orig.
type partialBody struct {
	io.Reader
	orig io.Closer
}

func (b *partialBody) Close() error { return b.orig.Close() }

// appendBody appends the body record: canonical JSON, a normalised form or
// the raw bytes, chosen by the Content-Type. An empty body adds nothing.
func (k *Keyer) appendBody(s *scratch, dst, body []byte, h http.Header) []byte {
	if len(body) == 0 {
		return dst
	}
	switch mt := mediaType(h.Get("Content-Type")); {
	case mt == "application/x-www-form-urlencoded":
		parsePairs(s, body, k.ignoredQuery)
		s.b = s.appendPairs(s.b[:0])
		return appendRecord(dst, tagForm, s.b)
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if c, ok := canonicalJSON(s.b[:0], body, k.ignoredJSON); ok {
			s.b = c
			return appendRecord(dst, tagJSON, c)
		}
	}
	return appendRecord(dst, tagRaw, body)
}

// mediaType returns the lower-cased type/subtype of a Content-Type value.
func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

var errDuplicate = errors.New("duplicate object member")

// canonicalJSON appends the canonical form of the JSON text body: object
// members sorted by name with top-level members named in ignored removed,
// no insignificant white space, numbers as written, strings with only '"',
// '\\' and control characters escaped. It reports false (and body is then
// keyed raw) when body is not valid UTF-8 JSON or has duplicate member names,
// which decoding would otherwise conflate.
func canonicalJSON(dst, body []byte, ignored map[string]struct{}) ([]byte, bool) {
	if !utf8.Valid(body) || !json.Valid(body) {
		return dst, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	out, err := canonValue(dst, dec, ignored)
	if err != nil {
		return dst, false
	}
	return out, true
}

type member struct {
	name string
	val  []byte
}

func canonValue(dst []byte, dec *json.Decoder, ignored map[string]struct{}) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return dst, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			var ms []member
			for dec.More() {
				t, err := dec.Token()
				if err != nil {
					return dst, err
				}
				name, _ := t.(string)
				val, err := canonValue(nil, dec, nil)
				if err != nil {
					return dst, err
				}
				if _, ok := ignored[name]; ok {
					continue
				}
				ms = append(ms, member{name, val})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return dst, err
			}
			slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.name, b.name) })
			dst = append(dst, '{')
			for i, m := range ms {
				if i > 0 {
					if ms[i-1].name == m.name {
						return dst, errDuplicate
					}
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, m.name)
				dst = append(dst, ':')
				dst = append(dst, m.val...)
			}
			return append(dst, '}'), nil
		case '[':
			dst = append(dst, '[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					dst = append(dst, ',')
				}
				if dst, err = canonValue(dst, dec, nil); err != nil {
					return dst, err
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return dst, err
			}
			return append(dst, ']'), nil
		}
		return dst, fmt.Errorf("unexpected %v", v)
	case string:
		return appendJSONString(dst, v), nil
	case json.Number:
		return append(dst, v...), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case nil:
		return append(dst, "null"...), nil
	}
	return dst, fmt.Errorf("unexpected token %T", tok)
}

// appendJSONString appends s quoted, escaping only what JSON requires.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', upperHex[c>>4], upperHex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
