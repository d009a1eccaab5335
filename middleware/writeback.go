package middleware

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/cachestack/cachestack/cached"
)

// Write-back defaults, used where StoreOptions leaves them zero.
const (
	DefaultWriteQueue      = 1024
	DefaultWriteQueueBytes = 32 << 20
	DefaultWriters         = 4
)

// writeBack makes a store's writes and deletes in the background, so that
// no caller waits for them. Writes for one key always go to the same
// writer, in order; a write for a key whose earlier write has not started
// replaces it. Until a write is made, lookups of its key see it (pending),
// so a response that was just read is a hit next time even before the
// store has it. The queue is bounded in entries and in body bytes; a
// write that does not fit is dropped and counted.
type writeBack struct {
	st       *storeStage
	w        *Workers
	seed     maphash.Seed
	shards   []chan *writeOp
	maxBytes int64

	mu      sync.Mutex
	bytes   int64
	waiting map[string]*writeOp // the latest write queued or running per key
	flushed chan struct{}       // closed when waiting empties, if someone waits

	// flushEnd ends SetTimeout after the workers close: writes still
	// queued or running then are given up.
	flushEnd context.Context
}

// writeOp is one queued write; e nil means delete. Its fields are guarded
// by writeBack.mu until a writer takes it (started).
type writeOp struct {
	key     string
	e       *cached.Response
	bare    *cached.Response // written if the store refuses e as too large (storeStage.set)
	ttl     time.Duration
	size    int64
	ctx     context.Context // the caller's values, without its cancellation
	started bool
	after   []func() // called once the write is made or given up
}

func newWriteBack(st *storeStage, w *Workers, writers, queue int, maxBytes int64) (*writeBack, error) {
	wb := &writeBack{st: st, w: w, seed: maphash.MakeSeed(), maxBytes: maxBytes, waiting: map[string]*writeOp{}}
	flushEnd, endFlush := context.WithCancel(context.Background())
	wb.flushEnd = flushEnd
	context.AfterFunc(w.ctx, func() { time.AfterFunc(st.timeouts[OpSet], endFlush) })
	writers = min(writers, queue)
	for range writers {
		wb.shards = append(wb.shards, make(chan *writeOp, max(1, queue/writers)))
	}
	for _, ch := range wb.shards {
		if !w.start(func(ctx context.Context) { wb.run(ctx, ch) }) {
			return nil, errors.New("workers are closed")
		}
	}
	return wb, nil
}

// pending returns the entry a queued or running write holds for key: ok
// with a nil entry for a delete.
func (wb *writeBack) pending(key string) (*cached.Response, bool) {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	if len(wb.waiting) == 0 {
		return nil, false
	}
	op, ok := wb.waiting[key]
	if !ok {
		return nil, false
	}
	return op.e, true
}

func entrySize(e *cached.Response) int64 {
	if e == nil {
		return 0
	}
	n := int64(len(e.Body)) + int64(len(e.URL)) + 256
	if v := e.Variant; v != nil {
		n += int64(len(v.Body)) + int64(len(v.URL)) + 256
	}
	return n
}

// enqueue queues a write of e (a delete when e is nil; bare as
// storeStage.set takes it) and reports whether it did; a write that does
// not fit is dropped and counted.
func (wb *writeBack) enqueue(ctx context.Context, key string, e, bare *cached.Response, ttl time.Duration) bool {
	if wb.w.ctx.Err() != nil {
		wb.dropped(ctx, key, "closed")
		return false
	}
	size := entrySize(e)
	wb.mu.Lock()
	if op := wb.waiting[key]; op != nil && !op.started && wb.bytes-op.size+size <= wb.maxBytes {
		wb.bytes += size - op.size
		op.e, op.bare, op.ttl, op.size = e, bare, ttl, size
		wb.mu.Unlock()
		return true
	}
	if wb.bytes+size > wb.maxBytes {
		wb.mu.Unlock()
		wb.dropped(ctx, key, "queue bytes full")
		return false
	}
	op := &writeOp{key: key, e: e, bare: bare, ttl: ttl, size: size, ctx: context.WithoutCancel(ctx)}
	select {
	case wb.shards[maphash.String(wb.seed, key)%uint64(len(wb.shards))] <- op:
		wb.waiting[key] = op
		wb.bytes += size
		wb.mu.Unlock()
		return true
	default:
		wb.mu.Unlock()
		wb.dropped(ctx, key, "queue full")
		return false
	}
}

func (wb *writeBack) dropped(ctx context.Context, key, reason string) {
	wb.st.add(MetricWritesDropped, 1)
	wb.st.fault(ctx, rateWriteDropped, EventWriteDropped, slog.String("key", key), slog.String("reason", reason))
}

// run is one writer. When the workers close, it makes the writes still
// queued until SetTimeout after Close, and drops the rest.
func (wb *writeBack) run(ctx context.Context, ch chan *writeOp) {
	for {
		select {
		case op := <-ch:
			wb.write(op)
		case <-ctx.Done():
			for {
				select {
				case op := <-ch:
					wb.write(op)
				default:
					return
				}
			}
		}
	}
}

// write makes one queued write, bounded by its deadline and by the end
// of the flush that follows Close.
func (wb *writeBack) write(op *writeOp) {
	wb.mu.Lock()
	op.started = true
	e, bare, ttl := op.e, op.bare, op.ttl
	wb.mu.Unlock()
	if wb.flushEnd.Err() != nil {
		wb.dropped(op.ctx, op.key, "closed")
		wb.finish(op)
		return
	}
	ctx, cancel := context.WithCancel(op.ctx)
	stop := context.AfterFunc(wb.flushEnd, cancel)
	if e == nil {
		wb.st.call(ctx, OpDelete, op.key, nil, 0)
	} else {
		wb.st.set(ctx, op.key, e, bare, ttl)
	}
	stop()
	cancel()
	wb.finish(op)
}

func (wb *writeBack) finish(op *writeOp) {
	wb.mu.Lock()
	wb.bytes -= op.size
	if wb.waiting[op.key] == op {
		delete(wb.waiting, op.key)
	}
	if len(wb.waiting) == 0 && wb.flushed != nil {
		close(wb.flushed)
		wb.flushed = nil
	}
	after := op.after
	op.after = nil
	wb.mu.Unlock()
	for _, f := range after {
		f()
	}
}

// after arranges for f to be called once the write queued for key is made
// or given up, and reports whether one was queued; if not, the caller
// calls f itself.
func (wb *writeBack) after(key string, f func()) bool {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	op := wb.waiting[key]
	if op == nil {
		return false
	}
	op.after = append(op.after, f)
	return true
}

// flush waits until every write queued so far has been made, or ctx ends.
func (wb *writeBack) flush(ctx context.Context) error {
	wb.mu.Lock()
	if len(wb.waiting) == 0 {
		wb.mu.Unlock()
		return nil
	}
	if wb.flushed == nil {
		wb.flushed = make(chan struct{})
	}
	ch := wb.flushed
	wb.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WriteBackStats is the write-back queue in a Stats snapshot.
type WriteBackStats struct {
	Enabled  bool  `json:"enabled"`
	Queued   int   `json:"queued"`    // writes queued or running
	Bytes    int64 `json:"bytes"`     // their size
	MaxBytes int64 `json:"max_bytes"` // the queue's byte budget
	Writers  int   `json:"writers"`
}

func (wb *writeBack) stats() WriteBackStats {
	if wb == nil {
		return WriteBackStats{}
	}
	wb.mu.Lock()
	defer wb.mu.Unlock()
	return WriteBackStats{Enabled: true, Queued: len(wb.waiting), Bytes: wb.bytes, MaxBytes: wb.maxBytes, Writers: len(wb.shards)}
}
