// Package keyer computes the cache key of an HTTP request: a digest of the
// parts of the request that identify the response, after normalising away
// the differences that do not (query order, host case, default ports, JSON
// member order, ...). It is the Go counterpart of aiohttp-client-cache's
// create_key, with its ignored_parameters (Options.IgnoredParams) and
// include_headers (Options.Headers, Options.AllHeaders).
//
// A Keyer returns a Result: Key, the identity to store under, and URL, the
// normalised URL without ignored parameters or userinfo, safe to store and
// list. Key is on the cache's hit path: for a request without a body or
// keyed headers it costs two allocations (the two strings of Result).
//
// # URL normalisation
//
// The URL must be absolute. Its normalised form is built as follows:
//
//   - the scheme is lower-cased;
//   - the host is lower-cased, and its port dropped when it is empty or the
//     scheme's default (":80" for http, ":443" for https);
//   - userinfo is dropped from the URL (but keyed, see below);
//   - the path is "/" when empty; percent-escapes of unreserved characters
//     are decoded, the others get upper-case hex digits, characters not
//     allowed in a path are escaped, and a '%' that starts no valid escape
//     counts as "%25" (RFC 3986 §6.2.2). Reserved characters keep their
//     form, so "/a%2Fb" and "/a/b" differ; dot segments are kept;
//   - the query is split on '&' into name=value pairs (a bare name has an
//     empty value, empty segments are dropped); names and values are
//     decoded as by url.QueryUnescape ('+' is a space; a stray '%' is
//     literal) and re-encoded as by url.QueryEscape; pairs whose name is in
//     IgnoredParams are dropped; the rest are sorted by encoded name, then
//     encoded value, and joined with '&'. An empty query leaves no '?';
//   - the fragment is dropped.
//
// For example "HTTP://Example.COM:80?b=2&a=%7e+x&token=s3cret#top", with
// "token" ignored, becomes "http://example.com/?a=~+x&b=2".
//
// An opaque URL ("http:foo") is kept as scheme ":" opaque, the opaque part
// normalised like a path.
//
// # Key material
//
// The key is the lower-case hex encoding of the first 16 bytes of the
// SHA-256 digest of the key material. The material is the version string
// "cachestack/keyer/v2" followed by records, each
//
//	record = tag (1 byte) ‖ uvarint(len(data)) ‖ data
//
// so that no data, whatever bytes it holds, can be mistaken for a record
// boundary. The records, in this order:
//
//	'M'  the method, upper-cased; "" is GET
//	'U'  the normalised URL
//	'A'  userinfo as in the URL ("user:pass"), when the URL has one: it is a
//	     credential, so requests made as different users never share a key
//	'O'  the Host field (req.Host) normalised like a URL host, when it is
//	     not empty and differs from the URL's host (virtual hosting)
//	'H'  a header field's canonical name, followed by
//	'V'  one record per field line value, trimmed of spaces and tabs, in
//	     request order; fields are ordered by canonical name
//	'J' | 'F' | 'R'  the body, when it is not empty:
//	     'J' canonical JSON, for a Content-Type of application/json or
//	         */*+json whose body is valid UTF-8 JSON with no duplicate
//	         member names: top-level members named in IgnoredParams are
//	         removed, members of every object are sorted by name, white
//	         space is removed, numbers are kept as written ("1.0" is not
//	         "1") and strings escape only '"', '\\' and control characters;
//	     'F' a form body (application/x-www-form-urlencoded), normalised
//	         like a query, IgnoredParams removed;
//	     'R' the raw bytes otherwise (including JSON that fails the
//	         conditions above).
//	'X'  with Options.Func, the string it returns, in place of the body
//	     record (always present, even when empty)
//
// Header records appear only for fields named in Options.Headers, or, with
// Options.AllHeaders, for every field but the excluded ones (see
// Options.AllHeaders); fields in IgnoredParams never do. A keyed field
// absent from the request adds nothing, and neither does an empty body, so
// KeyOf(method, url) equals the key of a bodiless request for that URL
// without keyed headers.
//
// Ignored values never reach the Result in clear text: the URL drops them
// and the Key is a digest. Errors never quote the whole URL either.
package keyer
