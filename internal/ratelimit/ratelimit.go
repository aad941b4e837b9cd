// Package ratelimit answers whether a caller may make another request
// (L1): a token bucket per key, and the RateLimit-* headers that tell the
// caller where it stands.
package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Limiter decides on one request for key. Implementations must be exact
// under concurrency: with N tokens left, N concurrent calls are allowed
// and no more.
type Limiter interface {
	Allow(ctx context.Context, key string) (Decision, error)
}

// Decision is the answer for one request.
type Decision struct {
	Allowed bool
	// Limit is the bucket's capacity; Remaining the whole tokens left after
	// this request.
	Limit, Remaining int
	// Reset is the time until the bucket is full again; RetryAfter the time
	// until the next request would be allowed (zero when Allowed).
	Reset, RetryAfter time.Duration
}

// shards spreads keys over independent locks so that users do not
// contend with each other; a key always maps to one shard, which keeps each
// bucket exact.
const shards = 32

// sweepFloor is the map size under which a shard never sweeps on its own.
const sweepFloor = 1024

// Memory is an in-process token bucket per key. Limits are not shared
// between replicas; a replicated deployment needs a shared Limiter.
//
// The arithmetic is in integers so that no rounding can allow an extra
// request: a bucket's state is its debt, in units where one token costs
// per (in nanoseconds) and debt drains at limit units per nanosecond,
// which refills exactly limit tokens per period.
type Memory struct {
	limit  int64
	per    int64 // nanoseconds
	full   int64 // limit * per: the debt of an empty bucket
	now    func() time.Time
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	// sweepAt is the map size that triggers the next amortised sweep.
	sweepAt int
}

type bucket struct {
	debt int64
	last time.Time
}

var _ Limiter = (*Memory)(nil)

// NewMemory allows limit requests per period per key, in bursts of up to
// limit. now is the clock (time.Now when nil). It panics when limit or per
// is not positive or limit*per overflows (about 292 years of
// nanoseconds): those are programming errors, not input.
func NewMemory(limit int, per time.Duration, now func() time.Time) *Memory {
	if limit <= 0 || per <= 0 {
		panic("ratelimit: limit and period must be positive")
	}
	if int64(per) > math.MaxInt64/int64(limit) {
		panic("ratelimit: limit*period overflows")
	}
	if now == nil {
		now = time.Now
	}
	m := &Memory{
		limit: int64(limit), per: int64(per), full: int64(limit) * int64(per),
		now: now, seed: maphash.MakeSeed(),
	}
	for i := range m.shards {
		m.shards[i].buckets = make(map[string]*bucket)
		m.shards[i].sweepAt = sweepFloor
	}
	return m
}

// Allow takes one token from key's bucket if there is one. It never
// returns an error; the signature is the Limiter's.
func (m *Memory) Allow(_ context.Context, key string) (Decision, error) {
	now := m.now()
	s := &m.shards[maphash.String(m.seed, key)%shards]
	s.mu.Lock()
	defer s.mu.Unlock()

	b, ok := s.buckets[key]
	if !ok {
		if len(s.buckets) >= s.sweepAt {
			m.sweepShard(s, now)
		}
		b = &bucket{last: now}
		s.buckets[key] = b
	}
	m.drain(b, now)

	d := Decision{Limit: int(m.limit)}
	if b.debt+m.per <= m.full {
		b.debt += m.per
		d.Allowed = true
	} else {
		// Time until the debt has drained to where one token fits.
		d.RetryAfter = ceilDiv(b.debt-(m.full-m.per), m.limit)
	}
	d.Remaining = int((m.full - b.debt) / m.per)
	d.Reset = ceilDiv(b.debt, m.limit)
	return d, nil
}

// drain applies the refill since b.last. A clock that steps back is
// treated as standing still, so it can never grant tokens.
func (m *Memory) drain(b *bucket, now time.Time) {
	elapsed := int64(now.Sub(b.last))
	if elapsed <= 0 {
		return
	}
	b.last = now
	// Past per the bucket is full whatever its debt; checking first keeps
	// elapsed*limit from overflowing.
	if elapsed >= m.per || elapsed*m.limit >= b.debt {
		b.debt = 0
		return
	}
	b.debt -= elapsed * m.limit
}

// Sweep deletes the buckets that have refilled completely: a full bucket
// is the same as no bucket, so memory holds only keys active within the
// last period. Allow also sweeps a shard whenever its map has doubled since
// the last sweep, so calling Sweep is optional.
func (m *Memory) Sweep() {
	now := m.now()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		m.sweepShard(s, now)
		s.mu.Unlock()
	}
}

// sweepShard needs s.mu held.
func (m *Memory) sweepShard(s *shard, now time.Time) {
	for k, b := range s.buckets {
		m.drain(b, now)
		if b.debt == 0 {
			delete(s.buckets, k)
		}
	}
	s.sweepAt = max(sweepFloor, 2*len(s.buckets))
}

// Len is the number of buckets held, for tests and metrics.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

func ceilDiv(a, b int64) time.Duration {
	if a <= 0 {
		return 0
	}
	return time.Duration((a + b - 1) / b)
}
