package account

import (
	"container/list"
	"crypto/sha256"
	"net/netip"
	"sync"
	"time"
)

// GuardConfig tunes brute-force protection (A4). Zero fields take the
// values of DefaultGuardConfig.
type GuardConfig struct {
	// PerIPPerMinute attempts are allowed per client IP in any IPWindow.
	PerIPPerMinute int
	IPWindow       time.Duration
	// FreeFailures failed logins of one account cost nothing; each further
	// one doubles the wait, from BaseDelay up to MaxDelay.
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	// QuietPeriod without failures forgets an account's failures. It is
	// raised to MaxDelay if smaller, so a delay never outlives its record.
	QuietPeriod time.Duration
	// MaxKeys bounds the IPs and the accounts tracked (each), so a flood of
	// distinct addresses or emails cannot exhaust memory.
	MaxKeys int
}

// DefaultGuardConfig is the A4 policy: 5 attempts a minute per IP; 3 free
// failures per account, then 1 s, 2 s, 4 s … up to 15 minutes, forgotten
// after an hour of quiet.
func DefaultGuardConfig() GuardConfig {
	return GuardConfig{
		PerIPPerMinute: 5,
		IPWindow:       time.Minute,
		FreeFailures:   3,
		BaseDelay:      time.Second,
		MaxDelay:       15 * time.Minute,
		QuietPeriod:    time.Hour,
		MaxKeys:        100_000,
	}
}

func (c GuardConfig) withDefaults() GuardConfig {
	d := DefaultGuardConfig()
	if c.PerIPPerMinute <= 0 {
		c.PerIPPerMinute = d.PerIPPerMinute
	}
	if c.IPWindow <= 0 {
		c.IPWindow = d.IPWindow
	}
	if c.FreeFailures <= 0 {
		c.FreeFailures = d.FreeFailures
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = d.BaseDelay
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = d.MaxDelay
	}
	if c.QuietPeriod <= 0 {
		c.QuietPeriod = d.QuietPeriod
	}
	if c.QuietPeriod < c.MaxDelay {
		c.QuietPeriod = c.MaxDelay
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = d.MaxKeys
	}
	return c
}

// Guard throttles login and signup attempts per client IP (a sliding window,
// exact under concurrency) and per account (progressive delays). Accounts are
// keyed by the normalised email whether or not an account exists, so known
// and unknown emails are throttled alike. Memory is bounded by MaxKeys and by
// expiry; the Guard starts no goroutines: expired entries are dropped a few
// at a time on every call, and all of them by Sweep.
type Guard struct {
	cfg GuardConfig
	now func() time.Time

	mu       sync.Mutex
	ips      lruTable[string, *ipRecord]
	accounts lruTable[[32]byte, *accountRecord]
}

type ipRecord struct {
	// times of allowed attempts inside the window, oldest first; at most
	// PerIPPerMinute of them.
	times []time.Time
}

type accountRecord struct {
	failures int
	// inFlight counts attempts admitted by AdmitAccount and not yet settled
	// by RecordFailure or RecordSuccess; they count as failures meanwhile so
	// concurrent guesses cannot all slip through one free slot.
	inFlight int
	last     time.Time
}

// NewGuard returns a Guard reading time from now (time.Now when nil).
func NewGuard(cfg GuardConfig, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	cfg = cfg.withDefaults()
	return &Guard{
		cfg:      cfg,
		now:      now,
		ips:      newLRUTable[string, *ipRecord](cfg.MaxKeys),
		accounts: newLRUTable[[32]byte, *accountRecord](cfg.MaxKeys),
	}
}

// sweepBatch is how many expired entries each call removes on its way.
const sweepBatch = 8

// AllowIP counts an attempt from ip and reports whether it may proceed; when
// it may not, retryAfter is when the oldest attempt leaves the window.
// Refused attempts are not counted. IPv6 clients are counted per /64, the
// block one subscriber usually holds, so cycling addresses gains nothing.
func (g *Guard) AllowIP(ip string) (ok bool, retryAfter time.Duration) {
	now := g.now()
	ip = ipKey(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweepLocked(now, sweepBatch)

	e := g.ips.get(ip)
	if e == nil {
		e = g.ips.insert(ip, &ipRecord{times: make([]time.Time, 0, g.cfg.PerIPPerMinute)}, now)
	}
	rec := e.val
	keep := rec.times[:0]
	for _, t := range rec.times {
		if now.Sub(t) < g.cfg.IPWindow {
			keep = append(keep, t)
		}
	}
	rec.times = keep
	if len(rec.times) >= g.cfg.PerIPPerMinute {
		return false, rec.times[0].Add(g.cfg.IPWindow).Sub(now)
	}
	rec.times = append(rec.times, now)
	g.ips.touch(e, now)
	return true, 0
}

// AccountDelay returns how long the account named by email must wait before
// its next password check; zero means it may be checked now. It only looks;
// AdmitAccount is the check-and-count the login path uses.
func (g *Guard) AccountDelay(email string) time.Duration {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.accounts.get(accountKey(email))
	if e == nil {
		return 0
	}
	rec := *e.val
	g.decayLocked(&rec, now)
	return max(g.waitLocked(&rec, now), 0)
}

// AdmitAccount is AccountDelay that also admits the attempt when the wait is
// zero, atomically: the admitted attempt counts as a failure until
// RecordFailure or RecordSuccess settles it, so concurrent guesses cannot
// all pass through one free slot. Every zero answer must be followed by one
// of the two.
func (g *Guard) AdmitAccount(email string) time.Duration {
	now := g.now()
	key := accountKey(email)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweepLocked(now, sweepBatch)

	e := g.accountLocked(key, now)
	rec := e.val
	if wait := g.waitLocked(rec, now); wait > 0 {
		return wait
	}
	rec.inFlight++
	rec.last = now
	g.accounts.touch(e, now)
	return 0
}

// accountLocked finds or starts the record of key, decayed to now.
func (g *Guard) accountLocked(key [32]byte, now time.Time) *lruEntry[[32]byte, *accountRecord] {
	e := g.accounts.get(key)
	if e == nil {
		e = g.accounts.insert(key, &accountRecord{}, now)
	}
	g.decayLocked(e.val, now)
	return e
}

func (g *Guard) waitLocked(rec *accountRecord, now time.Time) time.Duration {
	return rec.last.Add(g.delayFor(rec.failures + rec.inFlight)).Sub(now)
}

// RecordFailure notes a failed login for email (known account or not).
func (g *Guard) RecordFailure(email string) {
	now := g.now()
	key := accountKey(email)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweepLocked(now, sweepBatch)

	e := g.accountLocked(key, now)
	rec := e.val
	if rec.inFlight > 0 {
		rec.inFlight--
	}
	rec.failures++
	rec.last = now
	g.accounts.touch(e, now)
}

// RecordSuccess forgets the failures of email after a successful login.
func (g *Guard) RecordSuccess(email string) {
	key := accountKey(email)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.accounts.remove(key)
}

// Sweep removes every expired entry; the server calls it periodically.
func (g *Guard) Sweep() {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweepLocked(now, -1)
}

// sizes reports how many IPs and accounts are tracked.
func (g *Guard) sizes() (ips, accounts int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ips.len(), g.accounts.len()
}

func (g *Guard) sweepLocked(now time.Time, limit int) {
	g.ips.sweep(now, g.cfg.IPWindow, limit)
	g.accounts.sweep(now, g.cfg.QuietPeriod, limit)
}

func (g *Guard) decayLocked(rec *accountRecord, now time.Time) {
	if !rec.last.IsZero() && now.Sub(rec.last) >= g.cfg.QuietPeriod {
		*rec = accountRecord{}
	}
}

// delayFor is the wait after n counted failures: none for the free ones,
// then BaseDelay doubling up to MaxDelay.
func (g *Guard) delayFor(n int) time.Duration {
	over := n - g.cfg.FreeFailures
	if over <= 0 {
		return 0
	}
	d := g.cfg.BaseDelay
	for i := 1; i < over; i++ {
		d *= 2
		if d >= g.cfg.MaxDelay {
			return g.cfg.MaxDelay
		}
	}
	return min(d, g.cfg.MaxDelay)
}

func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// accountKey hashes the email so the guard's memory holds no addresses.
func accountKey(email string) [32]byte { return sha256.Sum256([]byte(email)) }

// RetryAfterSeconds rounds d up to whole seconds, at least 1, for a
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// lruTable is a map whose entries are ordered by last write, so the oldest
// are found first when sweeping (entries expire a fixed time after their
// last write) and when evicting at capacity.
type lruTable[K comparable, V any] struct {
	items map[K]*list.Element
	order *list.List
	max   int
}

type lruEntry[K comparable, V any] struct {
	key     K
	val     V
	touched time.Time
}

func newLRUTable[K comparable, V any](maxKeys int) lruTable[K, V] {
	return lruTable[K, V]{items: make(map[K]*list.Element), order: list.New(), max: maxKeys}
}

func (t *lruTable[K, V]) len() int { return len(t.items) }

func (t *lruTable[K, V]) get(k K) *lruEntry[K, V] {
	if el, ok := t.items[k]; ok {
		return el.Value.(*lruEntry[K, V])
	}
	return nil
}

// insert adds k, evicting the least recently written entry when full: under
// a flood of distinct keys, forgetting the stalest record is better than
// refusing every newcomer.
func (t *lruTable[K, V]) insert(k K, v V, now time.Time) *lruEntry[K, V] {
	for len(t.items) >= t.max {
		front := t.order.Front()
		t.order.Remove(front)
		delete(t.items, front.Value.(*lruEntry[K, V]).key)
	}
	e := &lruEntry[K, V]{key: k, val: v, touched: now}
	t.items[k] = t.order.PushBack(e)
	return e
}

func (t *lruTable[K, V]) touch(e *lruEntry[K, V], now time.Time) {
	e.touched = now
	t.order.MoveToBack(t.items[e.key])
}

func (t *lruTable[K, V]) remove(k K) {
	if el, ok := t.items[k]; ok {
		t.order.Remove(el)
		delete(t.items, k)
	}
}

// sweep removes up to limit entries (all when limit < 0) not written for
// retention.
func (t *lruTable[K, V]) sweep(now time.Time, retention time.Duration, limit int) {
	for n := 0; limit < 0 || n < limit; n++ {
		front := t.order.Front()
		if front == nil {
			return
		}
		e := front.Value.(*lruEntry[K, V])
		if now.Sub(e.touched) < retention {
			return
		}
		t.order.Remove(front)
		delete(t.items, e.key)
	}
}
