package middleware

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// Write-back defaults, used where StoreOptions leaves them zero.
const (
	DefaultWriteQueue      = 1024
	DefaultWriteQueueBytes = 32 << 20
	DefaultWriters         = 4
	DefaultWriteBatch      = 64
)

// maxBatchBytes bounds the bodies of one batch of writes, so that a batch
// is made well within SetTimeout: a writer stops taking queued writes
// into a batch once it holds this much.
const maxBatchBytes = 1 << 20

// writeBack makes a store's writes and deletes in the background, so that
// no caller waits for them. Writes for one key always go to the same
// writer, in order; a write for a key whose earlier write has not started
// replaces it. Until a write is made, lookups of its key see it (pending),
// so a response that was just read is a hit next time even before the
// store has it. The queue is bounded in entries and in body bytes; a
// write that does not fit is dropped and counted. Over a store.Batcher, a
// writer hands the store the writes queued behind the one it takes, up to
// batch of them, in one SetMany.
type writeBack struct {
	st       *storeStage
	w        *Workers
	seed     maphash.Seed
	shards   []chan *writeOp
	maxBytes int64
	batch    int // the most writes one store call makes; 1: no batches

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
	sp      *spill // written if the store refuses e as too large (storeStage.set)
	ttl     time.Duration
	size    int64
	ctx     context.Context // the caller's values, without its cancellation
	started bool
	after   []func() // called once the write is made or given up
}

func newWriteBack(st *storeStage, w *Workers, writers, queue int, maxBytes int64, batch int) (*writeBack, error) {
	wb := &writeBack{st: st, w: w, seed: maphash.MakeSeed(), maxBytes: maxBytes, batch: batch, waiting: map[string]*writeOp{}}
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

// enqueue queues a write of e (a delete when e is nil; sp as
// storeStage.set takes it) and reports whether it did; a write that does
// not fit is dropped and counted.
func (wb *writeBack) enqueue(ctx context.Context, key string, e *cached.Response, sp *spill, ttl time.Duration) bool {
	if wb.w.ctx.Err() != nil {
		wb.dropped(ctx, key, "closed")
		return false
	}
	size := entrySize(e)
	wb.mu.Lock()
	if op := wb.waiting[key]; op != nil && !op.started && wb.bytes-op.size+size <= wb.maxBytes {
		wb.bytes += size - op.size
		op.e, op.sp, op.ttl, op.size = e, sp, ttl, size
		wb.mu.Unlock()
		return true
	}
	if wb.bytes+size > wb.maxBytes {
		wb.mu.Unlock()
		wb.dropped(ctx, key, "queue bytes full")
		return false
	}
	op := &writeOp{key: key, e: e, sp: sp, ttl: ttl, size: size, ctx: context.WithoutCancel(ctx)}
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
			wb.writeFrom(op, ch)
		case <-ctx.Done():
			for {
				select {
				case op := <-ch:
					wb.writeFrom(op, ch)
				default:
					return
				}
			}
		}
	}
}

// writeFrom makes op's write, in one batch with the writes queued behind
// it in ch when the store takes batches. A key's writes stay in order: a
// key has at most one write queued and not started, so a batch holds a
// key once.
func (wb *writeBack) writeFrom(op *writeOp, ch chan *writeOp) {
	if wb.batch <= 1 {
		wb.write(op)
		return
	}
	ops := []*writeOp{op}
	size := wb.start(op)
	for len(ops) < wb.batch && size < maxBatchBytes {
		var next *writeOp
		select {
		case next = <-ch:
		default:
		}
		if next == nil {
			break
		}
		ops = append(ops, next)
		size += wb.start(next)
	}
	if len(ops) == 1 {
		wb.make(op)
		wb.finish(op)
		return
	}
	wb.makeBatch(ops)
	for _, op := range ops {
		wb.finish(op)
	}
}

// start marks op started, so that a later write of its key is queued
// after it rather than replacing it, and returns its size. From then on
// op's entry and ttl do not change.
func (wb *writeBack) start(op *writeOp) int64 {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	op.started = true
	return op.size
}

// write makes one queued write.
func (wb *writeBack) write(op *writeOp) {
	wb.start(op)
	wb.make(op)
	wb.finish(op)
}

// make makes op's write, started, bounded by its deadline and by the end
// of the flush that follows Close.
func (wb *writeBack) make(op *writeOp) {
	if wb.flushEnd.Err() != nil {
		wb.dropped(op.ctx, op.key, "closed")
		return
	}
	ctx, cancel := wb.bound(op.ctx)
	defer cancel()
	if op.e == nil {
		wb.st.call(ctx, OpDelete, op.key, nil, 0)
	} else {
		wb.st.set(ctx, op.key, op.e, op.sp, op.ttl)
	}
}

// makeBatch makes the writes of ops, started: the deletes one by one, the
// entries in one SetMany (with the first write's context values), bounded
// as make bounds one.
func (wb *writeBack) makeBatch(ops []*writeOp) {
	items := make([]store.Item[string, *cached.Response], 0, len(ops))
	batched := make([]*writeOp, 0, len(ops))
	for _, op := range ops {
		switch {
		case op.e == nil:
			wb.make(op)
		case wb.flushEnd.Err() != nil:
			wb.dropped(op.ctx, op.key, "closed")
		default:
			items = append(items, store.Item[string, *cached.Response]{Key: op.key, Value: op.e, TTL: op.ttl})
			batched = append(batched, op)
		}
	}
	if len(items) == 0 {
		return
	}
	ctx, cancel := wb.bound(ops[0].ctx)
	defer cancel()
	if len(items) == 1 {
		op := batched[0]
		wb.st.set(ctx, op.key, op.e, op.sp, op.ttl)
		return
	}
	// A Vary index refused as too large with the variant it holds is
	// written again without it, and the variant under its own key, as set
	// does for a single write.
	for _, i := range wb.st.setMany(ctx, items, func(i int) bool { return spillOf(batched[i].e, batched[i].sp) != nil }) {
		op := batched[i]
		wb.st.spillOver(ctx, op.key, spillOf(op.e, op.sp), op.ttl)
	}
}

// bound returns ctx cancelled when the flush that follows Close ends.
func (wb *writeBack) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(wb.flushEnd, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
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

// setMany writes items in one store call (store.Batcher.SetMany), made as
// call makes one Set (guarded), and counts each item as set counts a Set:
// stored, too large, or failed (an error, a timeout, a panic: a batch that
// fails whole counts once per item). The call's latency is recorded once,
// as a set's; the breaker counts the call once, failed when an item failed
// for another reason than the store's refusal; faults are logged once per
// batch (settle). It returns the items refused as too large for which
// retry reports a smaller form to write instead, uncounted.
func (st *storeStage) setMany(ctx context.Context, items []store.Item[string, *cached.Response], retry func(i int) bool) (smaller []int) {
	m := st.guarded(ctx, OpSet, "", nil, 0, items)
	if m.skipped {
		return nil
	}
	errs := store.ItemErrors(m.err, len(items))
	var t tally
	for i, it := range items {
		switch err := errs[i]; {
		case !t.add(ctx, it.Key, err): // failed or given up: counted in t
		case errors.Is(err, store.ErrTooLarge) && retry(i):
			smaller = append(smaller, i)
		case err == nil, errors.Is(err, store.ErrTooLarge):
			st.stored(ctx, it.Key, it.Value, err)
		}
	}
	st.settle(ctx, OpSet, m, &t, slog.Int("items", len(items)), slog.Int64("failed", t.failed()))
	return smaller
}
