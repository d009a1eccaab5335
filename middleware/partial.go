package middleware

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
)

// Partial responses (RFC 9111 §3.3, §3.4). A 206 to a GET with Range is
// kept, in the default mode and unless FilterOptions.Codes leaves 206
// out, as the parts of a representation: under a key of its own, never
// looked up to answer a request, so a partial response can never answer
// a request for the whole. Parts with the same strong ETag and complete
// length are combined, overlapping or not; once they cover the
// representation, they become a stored 200 under the request's key, with
// the fields and freshness of the latest 206. A 206 whose ETag or length
// differs from the stored parts' discards them. Only 206 responses with
// one range (Content-Range, not multipart/byteranges), a strong ETag, a
// known complete length within StoreOptions.MaxBodyBytes and no Vary are
// kept. A GET whose ranges all lie within fresh stored parts is answered
// from them (§3.3: a partial request wholly within an incomplete
// response), when it carries no Cache-Control or validators of its own
// and its If-Range, if any, strongly matches their ETag.

// PartsKey is the key under which the parts of partial (206) responses
// are kept for the response whose key is key: code that deletes a stored
// response by its key (as Cache.DeleteURL does) deletes its parts there
// too.
func PartsKey(key string) string { return variantKey(key, "partial content", "") }

// teePartial tees the body of resp, a 206, to be combined with the stored
// parts once read to its end.
func (x *exchange) teePartial(req *http.Request, resp *http.Response, sent, received time.Time) {
	if x.cc == nil || req.Method != http.MethodGet || x.rd.NoStore || (x.filter.codesSet && !x.filter.codes.Allows(http.StatusPartialContent)) {
		return
	}
	cr, ok := policy.ParseContentRange(resp.Header.Get("Content-Range"))
	if !ok || cr.Unsatisfied || cr.Size < 0 || cr.Size > x.store.maxBody || len(resp.Header["Content-Range"]) != 1 {
		return
	}
	if t, ok := policy.ParseETag(resp.Header.Get("Etag")); !ok || t.Weak {
		return
	}
	sd := policy.ParseResponseDirectives(resp.Header)
	if sd.NoStore || sd.MustUnderstand {
		return
	}
	f, ok := x.freshness(req, http.StatusOK, resp.Header, resp.Header, sent, received)
	if !ok || len(x.vary) > 0 {
		return
	}
	x.retain = f.retain
	x.teeReq = req
	x.teeEntry = &cached.Response{
		Method: req.Method, URL: x.url, StatusCode: http.StatusPartialContent, Proto: storedProto(resp.Proto),
		Header:      storedHeader(resp.Header, x.store.replaySetCookie),
		RequestTime: sent, ResponseTime: received, Created: received, Expires: f.expires, InitialAge: f.initialAge,
	}
	x.tee.start(resp.Body, resp.ContentLength, cr.Range.Len(), (*partialSink)(x))
	resp.Body = &x.tee
}

// partialSink receives a teed 206 body.
type partialSink exchange

func (p *partialSink) teed(body []byte) {
	x := (*exchange)(p)
	req, entry := x.teeReq, x.teeEntry
	x.teeReq, x.teeEntry = nil, nil
	x.combine(req, entry, body)
}

// part is a byte range of the representation and its bytes.
type part struct {
	r policy.ByteRange
	b []byte
}

// combine adds the 206 entry, whose body is body, to the stored parts,
// and stores the result: a complete 200 when the parts cover the
// representation, else the parts.
func (x *exchange) combine(req *http.Request, entry *cached.Response, body []byte) {
	cr, _ := policy.ParseContentRange(entry.Header.Get("Content-Range"))
	if int64(len(body)) != cr.Range.Len() {
		return // a body shorter or longer than its Content-Range says
	}
	st := x.store
	ctx := uncancelled(req.Context())
	key := PartsKey(x.primary)
	parts := []part{{cr.Range, body}}
	if old := st.lookup(ctx, key, x.protect); old != nil && old.URL == x.url && old.StatusCode == http.StatusPartialContent &&
		old.Header.Get("Etag") == entry.Header.Get("Etag") {
		parts = append(parts, storedParts(old, cr.Size)...)
	}
	merged := mergeParts(parts)
	h := entry.Header.HTTP()
	delete(h, "Content-Range")
	if len(merged) == 1 && merged[0].r.First == 0 && merged[0].r.Last == cr.Size-1 {
		full := *entry
		full.StatusCode = http.StatusOK
		h.Set("Content-Length", strconv.FormatInt(cr.Size, 10))
		full.Header = cached.NewHeader(h)
		st.delete(ctx, key)
		x.finish(req, &full, merged[0].b)
		return
	}
	h.Del("Content-Length")
	var all []byte
	for _, p := range merged {
		h.Add("Content-Range", "bytes "+strconv.FormatInt(p.r.First, 10)+"-"+strconv.FormatInt(p.r.Last, 10)+"/"+strconv.FormatInt(cr.Size, 10))
		all = append(all, p.b...)
	}
	e := *entry
	e.Header, e.Body = cached.NewHeader(h), all
	st.save(ctx, key, &e, st.clock(), x.retain, x.protect)
}

// storedParts reads the parts of a stored partial entry for a
// representation of size bytes; nil when they do not add up.
func storedParts(e *cached.Response, size int64) []part {
	var out []part
	body := e.Body
	for _, v := range e.Header.Values("Content-Range") {
		cr, ok := policy.ParseContentRange(v)
		if !ok || cr.Size != size || cr.Range.Len() > int64(len(body)) {
			return nil
		}
		out = append(out, part{cr.Range, body[:cr.Range.Len()]})
		body = body[cr.Range.Len():]
	}
	if len(body) != 0 {
		return nil
	}
	return out
}

// mergeParts sorts parts and joins those that overlap or touch into new
// buffers; the first part wins where parts overlap.
func mergeParts(parts []part) []part {
	ranges := make([]policy.ByteRange, len(parts))
	for i, p := range parts {
		ranges[i] = p.r
	}
	slices.SortFunc(ranges, func(a, b policy.ByteRange) int { return int(min(max(a.First-b.First, -1), 1)) })
	var spans []policy.ByteRange
	for _, r := range ranges {
		if n := len(spans); n > 0 && r.First <= spans[n-1].Last+1 {
			spans[n-1].Last = max(spans[n-1].Last, r.Last)
			continue
		}
		spans = append(spans, r)
	}
	out := make([]part, len(spans))
	for i, s := range spans {
		b := make([]byte, 0, s.Len())
		for pos := s.First; pos <= s.Last; {
			for _, p := range parts {
				if p.r.First <= pos && pos <= p.r.Last {
					end := min(p.r.Last, s.Last)
					b = append(b, p.b[pos-p.r.First:end-p.r.First+1]...)
					pos = end + 1
					break
				}
			}
		}
		out[i] = part{s, b}
	}
	return out
}

// fromParts answers a GET with Range from the stored parts of its
// representation, when they are fresh and hold every byte asked for; nil
// otherwise.
func (x *exchange) fromParts(req *http.Request) *http.Response {
	lines := req.Header["Range"]
	if x.cc == nil || req.Method != http.MethodGet || len(lines) != 1 || x.rd != (policy.RequestDirectives{}) || x.opts.refresh || x.opts.forceRefresh ||
		callerValidates(req.Header) {
		return nil
	}
	st := x.store
	e := st.lookup(req.Context(), PartsKey(x.primary), x.protect)
	now := st.clock()
	if e == nil || e.URL != x.url || e.StatusCode != http.StatusPartialContent || e.Expired(now) || !x.filter.accepts(e) {
		return nil
	}
	if ir := req.Header["If-Range"]; len(ir) > 0 && !ifRangeHolds(ir, e) {
		return nil
	}
	specs, ok := policy.ParseRange(lines[0])
	if !ok {
		return nil
	}
	first, ok := policy.ParseContentRange(e.Header.Get("Content-Range"))
	if !ok {
		return nil
	}
	size := first.Size
	parts := storedParts(e, size)
	ranges := policy.SatisfiableRanges(specs, size)
	if parts == nil || len(ranges) == 0 || len(ranges) > maxRangeParts {
		return nil
	}
	chunks := make([][]byte, len(ranges))
	for i, r := range ranges {
		for _, p := range parts {
			if p.r.First <= r.First && r.Last <= p.r.Last {
				chunks[i] = p.b[r.First-p.r.First : r.Last-p.r.First+1]
				break
			}
		}
		if chunks[i] == nil {
			return nil // not all stored
		}
	}
	h := e.Header.HTTP()
	c := *e
	if len(ranges) == 1 {
		h.Set("Content-Range", contentRange(ranges[0], size))
		h.Set("Content-Length", strconv.FormatInt(ranges[0].Len(), 10))
		c.Body = chunks[0]
	} else {
		body, ctype := multipartRanges(chunks, ranges, size, h.Get("Content-Type"))
		delete(h, "Content-Range")
		h.Set("Content-Type", ctype)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		c.Body = body
	}
	c.Header = cached.NewHeader(h)
	closeBody(req)
	st.add(MetricHits, 1)
	return hitResponse(req, &c, now, false, "hit; detail=partial")
}
