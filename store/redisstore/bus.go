package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachestack/cachestack/store/tierstore"
)

// DefaultPingInterval is BusOptions.PingInterval when it is zero.
const DefaultPingInterval = 250 * time.Millisecond

// BusOptions configure a Bus. A nil *BusOptions, like the zero value,
// means the defaults.
type BusOptions struct {
	// Namespace names the channel, "<Namespace>:invalidations", that the
	// Bus publishes on and subscribes to: the fronts of the stores that
	// share a namespace listen to each other. Empty means
	// DefaultNamespace; like Options.Namespace it must not contain ':'.
	Namespace string
	// PingInterval is how often a subscription sends PING and how long it
	// waits for the reply before it declares itself lost. Since Redis
	// delivers a connection's messages in order, a reply to a PING sent
	// at t proves every message published before t was received: a
	// process learns of another's write within 2 × PingInterval of that
	// write returning, or its front is flushed. 0 means
	// DefaultPingInterval; negative is an error.
	PingInterval time.Duration
}

// Bus is a tierstore.Bus[string] over Redis pub/sub: it lets the memory
// fronts of processes that share a back (a redisstore, usually) drop the
// keys that another process sets or deletes there. Make one per
// tierstore.Store with NewBus and give it to tierstore.NewCoherent.
//
// Publish sends PUBLISH on the namespace's channel; each subscription is
// one connection in subscribed mode, which the Bus pings every
// BusOptions.PingInterval and replaces, after a back-off, when it fails or
// does not answer in time. It works wherever PUBLISH and SUBSCRIBE do:
// one server, Sentinel, Redis Cluster (where PUBLISH reaches every node,
// so a subscription on any node hears it) and managed services, none of
// which need configuration. It carries only the invalidations of writes
// made through a coherent tierstore.Store: a key changed by other
// programs, or evicted by Redis, is seen after FrontTTL.
//
// A Bus owns no goroutine until Subscribe, whose stop function ends it.
// It does not own the client.
type Bus struct {
	client  redis.UniversalClient
	channel string
	self    string // prefixes every message this Bus publishes
	ping    time.Duration
}

var _ tierstore.Bus[string] = (*Bus)(nil)

// NewBus returns a Bus publishing and subscribing through client. It does
// no I/O. It fails, naming the option, when client is nil or an option is
// out of range.
func NewBus(client redis.UniversalClient, opts *BusOptions) (*Bus, error) {
	var o BusOptions
	if opts != nil {
		o = *opts
	}
	if client == nil {
		return nil, errors.New("redisstore: NewBus: client is nil")
	}
	if v := reflect.ValueOf(client); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("redisstore: NewBus: client is a nil %T", client)
	}
	if strings.Contains(o.Namespace, ":") {
		return nil, fmt.Errorf("redisstore: BusOptions.Namespace %q contains ':'; use another separator, such as '-' or '/'", o.Namespace)
	}
	if o.PingInterval < 0 {
		return nil, fmt.Errorf("redisstore: BusOptions.PingInterval is %v, want >= 0", o.PingInterval)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Bus{
		client:  client,
		channel: o.Namespace + ":invalidations",
		self:    hex.EncodeToString(id[:]),
		ping:    o.PingInterval,
	}, nil
}

// Lag is 2 × PingInterval: a subscription confirms delivery with each
// PING answered, one every PingInterval, and declares itself lost when a
// PING goes unanswered for PingInterval.
func (b *Bus) Lag() time.Duration { return 2 * b.ping }

// Channel returns the pub/sub channel the Bus uses.
func (b *Bus) Channel() string { return b.channel }

// A message is "<sender id> k<key>" for a key, "<sender id> *" for every
// key.

// Publish sends one PUBLISH per key, in one pipeline; no keys publishes
// "every key".
func (b *Bus) Publish(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return b.client.Publish(ctx, b.channel, b.self+" *").Err()
	}
	if len(keys) == 1 {
		return b.client.Publish(ctx, b.channel, b.self+" k"+keys[0]).Err()
	}
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Publish(ctx, b.channel, b.self+" k"+k)
		}
		return nil
	})
	return err
}

// Subscribe starts a goroutine that keeps a subscription to the channel
// and tells h what it hears from other Buses, whether it is subscribed
// (Subscribed, after each SUBSCRIBE is confirmed), up to when delivery is
// proven (Confirmed, with each PING answered) and when it loses the
// subscription (Lost: the connection failed, or a PING went unanswered for
// PingInterval). The returned function ends the goroutine and returns once
// it has ended.
func (b *Bus) Subscribe(h tierstore.Handler[string]) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{b: b, h: h}
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx) })
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			l.close()
			wg.Wait()
		})
	}
}

// listener is one Subscribe's goroutine and its connection.
type listener struct {
	b  *Bus
	h  tierstore.Handler[string]
	mu sync.Mutex
	ps *redis.PubSub // the current subscription, closed by close
}

func (l *listener) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ps != nil {
		_ = l.ps.Close()
		l.ps = nil
	}
}

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

func (l *listener) run(ctx context.Context) {
	backoff := minBackoff
	for ctx.Err() == nil {
		l.mu.Lock()
		ps := l.b.client.Subscribe(ctx, l.b.channel)
		l.ps = ps
		l.mu.Unlock()
		if ctx.Err() != nil { // stopped while subscribing: close missed ps
			l.close()
			return
		}
		if l.listen(ctx, ps, func() { backoff = minBackoff }) && ctx.Err() == nil {
			l.h.Lost()
		}
		l.close()
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen reads ps until it fails or goes unanswered, and reports whether
// it had been subscribed (so that the loss is to be told).
func (l *listener) listen(ctx context.Context, ps *redis.PubSub, subscribed func()) (wasLive bool) {
	nextPing := time.Now()
	var pingDeadline, pingSent time.Time // zero: no PING outstanding
	prefix := l.b.self + " "
	for ctx.Err() == nil {
		now := time.Now()
		if !pingDeadline.IsZero() && !now.Before(pingDeadline) {
			return wasLive // unanswered
		}
		if pingDeadline.IsZero() && !now.Before(nextPing) {
			if err := ps.Ping(ctx); err != nil {
				return wasLive
			}
			pingSent = now
			pingDeadline = now.Add(l.b.ping)
			nextPing = now.Add(l.b.ping)
		}
		wait := time.Until(nextPing)
		if !pingDeadline.IsZero() {
			wait = time.Until(pingDeadline)
		}
		msg, err := ps.ReceiveTimeout(ctx, max(wait, time.Millisecond))
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return wasLive
		}
		switch m := msg.(type) {
		case *redis.Pong:
			if wasLive && !pingDeadline.IsZero() {
				// Redis answers a PING after every message it
				// published before it: all have been handled.
				l.h.Confirmed(pingSent)
			}
			pingDeadline = time.Time{}
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == l.b.channel && !wasLive {
				wasLive = true
				subscribed()
				l.h.Subscribed()
			}
		case *redis.Message:
			if !wasLive || strings.HasPrefix(m.Payload, prefix) {
				continue // before the confirmation (cannot happen), or our own
			}
			_, body, ok := strings.Cut(m.Payload, " ")
			switch {
			case !ok:
			case body == "*":
				l.h.Invalidate(nil)
			case strings.HasPrefix(body, "k"):
				l.h.Invalidate([]string{body[1:]})
			}
		}
	}
	return wasLive
}
