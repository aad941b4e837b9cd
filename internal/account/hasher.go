package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/crypto/bcrypt"

	"github.com/diffgate/diffgate/internal/apperr"
)

// MinBcryptCost is the lowest cost production code may use (A1); bcrypt's own
// default of 10 is too cheap for today's hardware.
const MinBcryptCost = 12

// Hasher hashes and checks passwords with bcrypt. Each operation burns a core
// for a quarter of a second at cost 12, so at most maxConcurrent run at once
// and the rest wait (or give up when their context ends): a flood of logins
// then queues up instead of starving every other request of CPU.
type Hasher struct {
	cost  int
	sem   chan struct{}
	dummy []byte
	// inFlight, when set by tests, observes the number of running bcrypt
	// operations changing by +1 or -1.
	inFlight func(delta int)
}

// NewHasher returns a Hasher of the given bcrypt cost (at least
// MinBcryptCost) that runs at most maxConcurrent operations at once
// (runtime.NumCPU() when maxConcurrent <= 0). It computes one dummy hash, so
// it takes as long as a single Hash call.
func NewHasher(cost, maxConcurrent int) (*Hasher, error) {
	if cost < MinBcryptCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("new hasher: bcrypt cost %d outside %d..%d", cost, MinBcryptCost, bcrypt.MaxCost)
	}
	return newHasher(cost, maxConcurrent)
}

// NewTestHasher returns a Hasher at bcrypt.MinCost so tests run fast. It is
// for tests only: its hashes take microseconds to brute-force.
func NewTestHasher(maxConcurrent int) *Hasher {
	h, err := newHasher(bcrypt.MinCost, maxConcurrent)
	if err != nil {
		panic(err) // only crypto/rand can fail here
	}
	return h
}

func newHasher(cost, maxConcurrent int) (*Hasher, error) {
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	// The dummy's plaintext is random and thrown away: nothing can match it.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("new hasher: %w", err)
	}
	dummy, err := bcrypt.GenerateFromPassword(secret, cost)
	if err != nil {
		return nil, fmt.Errorf("new hasher: dummy hash: %w", err)
	}
	return &Hasher{cost: cost, sem: make(chan struct{}, maxConcurrent), dummy: dummy}, nil
}

// Cost is the bcrypt cost of new hashes.
func (h *Hasher) Cost() int { return h.cost }

// Hash returns the bcrypt hash of pw. Callers check CheckPasswordPolicy
// first; a password over 72 bytes is refused rather than truncated.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if len(pw) > MaxPasswordBytes {
		return "", apperr.Newf(apperr.Invalid, "password must be at most %d bytes", MaxPasswordBytes)
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(b), nil
}

// Compare reports whether pw matches hash. A mismatch is (false, nil); an
// error means the hash is unusable or the context ended while waiting.
func (h *Hasher) Compare(ctx context.Context, hash, pw string) (bool, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return compare([]byte(hash), pw)
}

// CompareDummy spends the same time as Compare on a real account, against a
// hash nothing matches, so a login for an unknown email is as slow as one
// for a known email with a wrong password (A4). It only errs when the
// context ends while waiting.
func (h *Hasher) CompareDummy(ctx context.Context, pw string) error {
	release, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, _ = compare(h.dummy, pw)
	return nil
}

// NeedsRehash reports whether hash was made at a lower cost than this
// Hasher's, so the server can upgrade it after a successful login.
func (h *Hasher) NeedsRehash(hash string) bool {
	c, err := bcrypt.Cost([]byte(hash))
	return err != nil || c < h.cost
}

func compare(hash []byte, pw string) (bool, error) {
	p := []byte(pw)
	tooLong := len(p) > MaxPasswordBytes
	if tooLong {
		// Still do the full bcrypt work so length does not show in timing;
		// such a password was never accepted, so it can never match.
		p = p[:MaxPasswordBytes]
	}
	err := bcrypt.CompareHashAndPassword(hash, p)
	switch {
	case err == nil:
		return !tooLong, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("compare password: %w", err)
	}
}

// acquire takes a slot or gives up when ctx ends, whichever comes first.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, "server is busy, try again", err)
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, apperr.Wrap(apperr.Unavailable, "server is busy, try again", ctx.Err())
	}
	if h.inFlight != nil {
		h.inFlight(+1)
	}
	return func() {
		if h.inFlight != nil {
			h.inFlight(-1)
		}
		<-h.sem
	}, nil
}
