package diskstore

import (
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
)

// OpenResponses opens the cache directory dir as New does and returns it
// typed for the cache: cached responses, encoded with codec.Response. It
// is the one line a persistent cache needs:
//
//	responses, err := diskstore.OpenResponses("~/.cache/myapp/http", nil)
//
// Closing the returned store closes the Store it built.
func OpenResponses(dir string, opts *Options) (*codec.Bound[string, *cached.Response], error) {
	s, err := New(dir, opts)
	if err != nil {
		return nil, err
	}
	return codec.Bind[string](s, codec.Response()), nil
}
