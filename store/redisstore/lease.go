package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachestack/cachestack/store"
)

var _ store.Leaser[string] = (*Store)(nil)

// How AwaitRelease polls: first after leasePollMin, then each wait half as
// long again as the last, up to leasePollMax, and never past the lease's
// remaining time to live. A waiter so learns of a release within
// leasePollMax, and of a crashed holder's lease expiring within a
// millisecond or two, at a cost of a few dozen PTTL commands a second per
// waiting process at most.
const (
	leasePollMin = 2 * time.Millisecond
	leasePollMax = 25 * time.Millisecond
)

// releaseScript deletes the lease only if it still holds the caller's
// token, in one step on the server: a holder whose lease expired, and was
// then taken by another, never deletes the other's.
var releaseScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

// leaseKey is the Redis key of the lease on key: ":lease:<namespace>:<key>".
// It starts with ':', which no entry key does ("<namespace>:<key>", with a
// namespace that is never empty), so Keys and Clear never meet it, and the
// namespace, which has no ':', cannot run into the key.
func (s *Store) leaseKey(key string) string { return ":lease:" + s.prefix + key }

// Acquire takes the lease on key for ttl with SET NX PX, under a random
// token, if no one holds it (store.Leaser). The lease is a Redis key of its
// own, ":lease:<namespace>:<key>", which Redis drops when ttl passes, so a
// holder that crashes blocks no one for longer than ttl. A ttl under a
// millisecond is an error. It is a single-key command, so it works on a
// Redis Cluster as on one server.
func (s *Store) Acquire(ctx context.Context, key string, ttl time.Duration) (string, bool, error) {
	if s.closed.Load() {
		return "", false, store.Wrap(name, "acquire", key, store.ErrClosed)
	}
	if ttl < time.Millisecond {
		return "", false, store.Wrap(name, "acquire", key, errors.New("lease ttl under a millisecond"))
	}
	if err := ctx.Err(); err != nil {
		return "", false, store.Wrap(name, "acquire", key, err)
	}
	var r [16]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand)
	token := hex.EncodeToString(r[:])
	ok, err := s.client.SetNX(ctx, s.leaseKey(key), token, ttl).Result()
	if err != nil {
		return "", false, store.Wrap(name, "acquire", key, err)
	}
	if !ok {
		return "", false, nil
	}
	return token, true, nil
}

// Release ends the lease on key if token still holds it, with a script
// that compares and deletes in one step (store.Leaser); a lease that has
// expired, or is held by another, is left alone, and that is no error.
func (s *Store) Release(ctx context.Context, key, token string) error {
	if s.closed.Load() {
		return store.Wrap(name, "release", key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "release", key, err)
	}
	err := releaseScript.Run(ctx, s.client, []string{s.leaseKey(key)}, token).Err()
	return store.Wrap(name, "release", key, err)
}

// AwaitRelease waits until no one holds the lease on key (store.Leaser),
// polling its remaining time to live with PTTL: after 2ms, then at
// intervals growing by half up to 25ms, and never later than the lease's
// expiry. It returns nil when the lease is gone, ctx's error (wrapped)
// when ctx ends first, and the client's error when a poll fails.
func (s *Store) AwaitRelease(ctx context.Context, key string) error {
	lk := s.leaseKey(key)
	wait := leasePollMin
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if s.closed.Load() {
			return store.Wrap(name, "await", key, store.ErrClosed)
		}
		if err := ctx.Err(); err != nil {
			return store.Wrap(name, "await", key, err)
		}
		left, err := s.client.PTTL(ctx, lk).Result()
		if err != nil {
			return store.Wrap(name, "await", key, err)
		}
		if left == -2 { // no such key: go-redis keeps the reply's -2 as is
			return nil
		}
		d := wait
		if left >= 0 && left+time.Millisecond < d { // 0: under a millisecond left
			d = left + time.Millisecond
		}
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			return store.Wrap(name, "await", key, ctx.Err())
		}
		wait = min(wait+wait/2, leasePollMax)
	}
}
