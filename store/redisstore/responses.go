package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
)

// OpenResponses connects to the Redis server at addr and returns a store
// of the cached responses that cachestack.Options.Store takes, encoded
// with codec.Response: a cache kept in Redis in one line,
//
//	s, err := redisstore.OpenResponses("127.0.0.1:6379", nil)
//	...
//	c, err := cachestack.New(&cachestack.Options{Store: s})
//
// addr is a host:port, or a URL as redis.ParseURL reads it
// ("redis://user:password@host:6379/2", "rediss://…" for TLS,
// "unix:///run/redis.sock"). The store owns the client it makes: closing
// the returned store closes it. Like New, OpenResponses does no I/O, so it
// succeeds while Redis is down; the cache then sends requests to the
// network until Redis answers. For a Redis Cluster, or a client of your
// own, use NewResponses.
func OpenResponses(addr string, opts *Options) (*codec.Bound[string, *cached.Response], error) {
	if addr == "" {
		return nil, errors.New("redisstore: OpenResponses: empty address")
	}
	var ro *redis.Options
	if strings.Contains(addr, "://") {
		var err error
		if ro, err = redis.ParseURL(addr); err != nil {
			var ue *url.Error // its message quotes the URL, which may carry a password
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("redisstore: OpenResponses: the address is not a Redis URL: %w", err)
		}
	} else {
		ro = &redis.Options{Addr: addr}
	}
	client := redis.NewClient(ro)
	s, err := New(client, opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	return codec.Bind[string](&owning{Store: s, client: client}, codec.Response()), nil
}

// NewResponses returns a store of cached responses, for
// cachestack.Options.Store, over client, which may be a Redis Cluster or
// Sentinel client: New, then codec.Response. The caller owns client, as
// with New.
func NewResponses(client redis.UniversalClient, opts *Options) (*codec.Bound[string, *cached.Response], error) {
	s, err := New(client, opts)
	if err != nil {
		return nil, err
	}
	return codec.Bind[string](s, codec.Response()), nil
}

// owning is a Store that closes its client with itself.
type owning struct {
	*Store
	client redis.UniversalClient
	closed atomic.Bool
}

func (o *owning) Close() error {
	if o.closed.Swap(true) {
		return nil
	}
	return errors.Join(o.Store.Close(), o.client.Close())
}
