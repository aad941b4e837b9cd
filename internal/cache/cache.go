// Package cache keeps review results for a few minutes so that an
// identical request is answered without running the reviewers again (D1).
//
// Entries live at most five minutes, are deleted (and their bytes zeroed)
// when they expire rather than merely ignored, and are keyed by a hash so
// the cache never holds a diff in the clear as a key.
package cache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

// Cache is a short-lived store of opaque values.
type Cache interface {
	// Get returns a copy of the value and true, or false when the key is
	// absent or expired.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores a copy of val for at most ttl (clamped to the cache's
	// maximum).
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// MaxTTL is the longest any entry may live, whatever the configuration
// says (D1).
const MaxTTL = 5 * time.Minute

// DefaultMaxBytes bounds a Memory built with maxBytes <= 0.
const DefaultMaxBytes = 64 << 20

// Key hashes parts into a cache key. Each part is length-prefixed, so
// ("ab","c") and ("a","bc") differ, and the key is hex SHA-256, so it
// holds no plaintext.
func Key(parts ...[]byte) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Memory is an in-process Cache bounded in time and size. The owner starts
// its janitor with Run.
type Memory struct {
	maxTTL   time.Duration
	maxBytes int64
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element
	order   *list.List // of *entry, oldest insertion first
	bytes   int64
}

type entry struct {
	key     string
	val     []byte
	expires time.Time
}

func (e *entry) size() int64 { return int64(len(e.key) + len(e.val)) }

var _ Cache = (*Memory)(nil)

// NewMemory makes a cache whose entries live at most maxTTL and together
// hold at most maxBytes (keys and values). maxTTL is clamped to MaxTTL, and
// a maxTTL <= 0 means MaxTTL, so no configuration can keep results longer
// than five minutes. maxBytes <= 0 means DefaultMaxBytes. now is the clock
// (time.Now when nil).
func NewMemory(maxTTL time.Duration, maxBytes int64, now func() time.Time) *Memory {
	if maxTTL <= 0 || maxTTL > MaxTTL {
		maxTTL = MaxTTL
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{maxTTL: maxTTL, maxBytes: maxBytes, now: now,
		entries: make(map[string]*list.Element), order: list.New()}
}

// TTL is the longest an entry may live in this cache: maxTTL after clamping.
func (m *Memory) TTL() time.Duration { return m.maxTTL }

// Get returns a copy of key's value; the copy lets the cache zero its own
// bytes on expiry without touching what the caller holds. An expired entry
// found here is deleted on the spot.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.entries[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		m.remove(el)
		return nil, false, nil
	}
	return append([]byte(nil), e.val...), true, nil
}

// Set stores a copy of val for ttl, clamped to the cache's maximum; ttl <= 0
// means the maximum. A value bigger than the whole cache is not stored
// (and any older value under key is dropped), since a cache miss is always
// a correct answer.
func (m *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 || ttl > m.maxTTL {
		ttl = m.maxTTL
	}
	e := &entry{key: key, val: append([]byte(nil), val...), expires: m.now().Add(ttl)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries[key]; ok {
		m.remove(el)
	}
	if e.size() > m.maxBytes {
		clear(e.val)
		return nil
	}
	for m.bytes+e.size() > m.maxBytes {
		m.remove(m.order.Front())
	}
	m.entries[key] = m.order.PushBack(e)
	m.bytes += e.size()
	return nil
}

// Delete removes key now.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.entries[key]; ok {
		m.remove(el)
	}
	return nil
}

// Len is the number of entries held, expired or not.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Bytes is the size of the entries held.
func (m *Memory) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// remove needs m.mu held. It zeroes the value so that a result does not
// linger in freed memory after its time is up.
func (m *Memory) remove(el *list.Element) {
	e := m.order.Remove(el).(*entry)
	delete(m.entries, e.key)
	m.bytes -= e.size()
	clear(e.val)
	e.val = nil
}

// DeleteExpired removes every entry whose time is up and returns how many
// it removed.
func (m *Memory) DeleteExpired() int {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for el := m.order.Front(); el != nil; {
		next := el.Next()
		if !now.Before(el.Value.(*entry).expires) {
			m.remove(el)
			n++
		}
		el = next
	}
	return n
}

// Run is the janitor: it deletes expired entries every JanitorInterval
// until ctx is done. The owner starts it and waits for it on shutdown.
func (m *Memory) Run(ctx context.Context) {
	t := time.NewTicker(m.JanitorInterval())
	defer t.Stop()
	m.RunTicks(ctx, t.C)
}

// JanitorInterval is how often Run sweeps: often enough that an entry
// outlives its TTL by a small fraction of it, at most a second.
func (m *Memory) JanitorInterval() time.Duration {
	return min(time.Second, max(m.maxTTL/10, time.Millisecond))
}

// RunTicks is Run driven by tick, so tests can decide when it sweeps. On
// return every entry has been deleted: a cache whose janitor has stopped
// could no longer keep its promise to delete on expiry.
func (m *Memory) RunTicks(ctx context.Context, tick <-chan time.Time) {
	defer m.purge()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			m.DeleteExpired()
		}
	}
}

// purge deletes everything.
func (m *Memory) purge() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.order.Len() > 0 {
		m.remove(m.order.Front())
	}
}
