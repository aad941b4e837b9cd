package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diffgate/diffgate/internal/store"
)

// logEntry collects, while a request runs, the metadata its request-log row
// will hold (D2). It has no field that could carry code or finding text.
type logEntry struct {
	mu        sync.Mutex
	userID    int64
	keyID     string
	reviewers []string
	models    []string
	diffBytes int64
	findings  int
	cached    bool
}

func entryOf(ctx context.Context) *logEntry {
	e, _ := ctx.Value(keyLogEntry).(*logEntry)
	if e == nil {
		return &logEntry{}
	}
	return e
}

func (e *logEntry) set(f func(e *logEntry)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e)
}

func (e *logEntry) user() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.userID
}

func (e *logEntry) row(now, start time.Time, rid string, r *http.Request, status int) store.RequestLog {
	e.mu.Lock()
	defer e.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	row := store.RequestLog{
		At: start.UTC(), RequestID: rid, KeyID: e.keyID, Method: r.Method, Route: r.Pattern,
		Reviewers: e.reviewers, Models: e.models, Status: status, LatencyMS: now.Sub(start).Milliseconds(),
		DiffBytes: e.diffBytes, Findings: e.findings, Cached: e.cached,
	}
	if e.userID != 0 {
		uid := e.userID
		row.UserID = &uid
	}
	return row
}

// reqLogWriter writes request-log rows off the request path, in batches,
// so logging never adds a database write to a request's latency. Rows
// queued when the server stops are flushed before Run returns.
type reqLogWriter struct {
	db      *store.DB
	log     *slog.Logger
	ch      chan store.RequestLog
	dropped atomic.Int64
}

func newReqLogWriter(db *store.DB, log *slog.Logger) *reqLogWriter {
	return &reqLogWriter{db: db, log: log, ch: make(chan store.RequestLog, 8192)}
}

// add queues a row without ever making a request wait: when the queue is
// full (the database cannot keep up, or the writer has stopped) the row is
// dropped and counted, and the count is logged.
func (w *reqLogWriter) add(row store.RequestLog) {
	select {
	case w.ch <- row:
	default:
		if n := w.dropped.Add(1); n == 1 || n%1000 == 0 {
			w.log.Warn("request log queue full; rows dropped", "dropped", n)
		}
	}
}

func (w *reqLogWriter) run(ctx context.Context) {
	const maxBatch = 512
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	batch := make([]store.RequestLog, 0, maxBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// A fresh context: rows taken from the queue are written even
		// while the server shuts down.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := w.db.InsertRequestLogs(fctx, batch); err != nil {
			w.log.Error("write request log", "rows", len(batch), "error", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case row := <-w.ch:
			batch = append(batch, row)
			if len(batch) == maxBatch {
				flush()
			}
		case <-tick.C:
			flush()
		case <-ctx.Done():
			for {
				select {
				case row := <-w.ch:
					batch = append(batch, row)
					if len(batch) == maxBatch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

// touchThrottle lets an API key's last-used time be written at most once
// per interval per key (K5), so a busy key does not cost a write a request.
type touchThrottle struct {
	mu    sync.Mutex
	every time.Duration
	last  map[string]time.Time
}

func newTouchThrottle(every time.Duration) *touchThrottle {
	return &touchThrottle{every: every, last: map[string]time.Time{}}
}

func (t *touchThrottle) due(id string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.last[id]; ok && now.Sub(l) < t.every {
		return false
	}
	if len(t.last) > 100_000 {
		clear(t.last) // bounded memory; a few extra writes at worst
	}
	t.last[id] = now
	return true
}
