// Package billing sells credit packs through Stripe Checkout and reads
// Stripe's webhook events (L3). Card data never reaches diffgate: the user
// pays on Stripe's page, and Stripe reports the paid session back through
// a signed webhook. Applying a purchase to the ledger, once per event, is
// the store's job.
package billing

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/stripe/stripe-go/v82"
)

// ErrNotConfigured is returned by New without a secret key and by every
// method of a nil *Billing, so a server without Stripe can keep a nil
// Billing and answer its billing endpoints with this error (L3). Its kind
// is Unavailable: the operator has to configure Stripe, and admins grant
// credits meanwhile.
var ErrNotConfigured = apperr.New(apperr.Unavailable, "billing is not configured; an admin can grant credits")

// DefaultTolerance is how far a webhook's signed timestamp may be from
// now, either way, before the event is refused as a replay or forgery.
// Stripe's libraries use the same five minutes.
const DefaultTolerance = 5 * time.Minute

const defaultHTTPTimeout = 30 * time.Second

// Pack is a credit pack offered for sale: a Stripe price and the credits
// it buys.
type Pack struct {
	// ID is how users name the pack ("small").
	ID string `json:"id"`
	// PriceID is the Stripe Price that is charged ("price_…"); its amount
	// and currency live in Stripe.
	PriceID string `json:"price_id"`
	Credits int64  `json:"credits"`
}

// Config configures billing. Only SecretKey decides whether billing is on.
type Config struct {
	// SecretKey is a Stripe secret (sk_…) or restricted (rk_…) key.
	SecretKey string
	// WebhookSecret is the signing secret of the webhook endpoint (whsec_…).
	WebhookSecret string
	Packs         []Pack
	// SuccessURL and CancelURL are where Stripe sends the user back after
	// paying or giving up. SuccessURL may hold {CHECKOUT_SESSION_ID}.
	SuccessURL string
	CancelURL  string
	// APIBase overrides Stripe's API address (stripe-mock in tests).
	APIBase string
	// Tolerance bounds the age (and future skew) of a webhook's signed
	// timestamp; 0 means DefaultTolerance.
	Tolerance time.Duration
	// HTTPClient talks to Stripe; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
}

// Billing creates checkout sessions and verifies webhooks. It is safe for
// concurrent use. A nil *Billing means billing is not configured.
type Billing struct {
	client        *stripe.Client
	webhookSecret string
	packs         []Pack
	successURL    string
	cancelURL     string
	tolerance     time.Duration
}

// New checks cfg and builds a Billing; ErrNotConfigured when cfg has no
// secret key.
func New(cfg Config) (*Billing, error) {
	key := strings.TrimSpace(cfg.SecretKey)
	if key == "" {
		return nil, ErrNotConfigured
	}
	// A publishable key (pk_) pasted by mistake would fail every call; say
	// so at start-up. The key itself is never echoed.
	if !strings.HasPrefix(key, "sk_") && !strings.HasPrefix(key, "rk_") {
		return nil, errors.New("billing: the Stripe secret key must start with sk_ or rk_")
	}
	if strings.TrimSpace(cfg.WebhookSecret) == "" {
		return nil, errors.New("billing: a webhook signing secret (whsec_…) is required, or purchases are never credited")
	}
	if len(cfg.Packs) == 0 {
		return nil, errors.New("billing: no credit packs configured")
	}
	if err := checkPacks(cfg.Packs); err != nil {
		return nil, fmt.Errorf("billing: %w", err)
	}
	if err := checkURL("success URL", cfg.SuccessURL, true); err != nil {
		return nil, err
	}
	if err := checkURL("cancel URL", cfg.CancelURL, false); err != nil {
		return nil, err
	}
	if cfg.Tolerance < 0 {
		return nil, errors.New("billing: the webhook tolerance cannot be negative")
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	bc := &stripe.BackendConfig{
		HTTPClient: hc,
		// stripe-go logs to stderr by default; the server logs errors
		// itself, once, through its redacting logger.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.APIBase != "" {
		if err := checkURL("API base", cfg.APIBase, true); err != nil {
			return nil, err
		}
		bc.URL = stripe.String(strings.TrimRight(cfg.APIBase, "/"))
	}
	return &Billing{
		client:        stripe.NewClient(key, stripe.WithBackends(stripe.NewBackendsWithConfig(bc))),
		webhookSecret: cfg.WebhookSecret,
		packs:         append([]Pack(nil), cfg.Packs...),
		successURL:    cfg.SuccessURL,
		cancelURL:     cfg.CancelURL,
		tolerance:     cfg.Tolerance,
	}, nil
}

// Packs lists the packs on sale, in configured order.
func (b *Billing) Packs() ([]Pack, error) {
	if b == nil {
		return nil, ErrNotConfigured
	}
	return append([]Pack(nil), b.packs...), nil
}

func (b *Billing) pack(id string) (Pack, bool) {
	for _, p := range b.packs {
		if p.ID == id {
			return p, true
		}
	}
	return Pack{}, false
}

// ParsePacks reads packs in the form used by flags and environment
// variables: comma-separated id=price_id:credits entries, e.g.
// "small=price_123:1000,large=price_456:12000". Spaces around parts are
// ignored; ids are unique.
func ParsePacks(s string) ([]Pack, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var packs []Pack
	for i, raw := range strings.Split(s, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			return nil, fmt.Errorf("packs: entry %d is empty", i+1)
		}
		id, rest, ok := strings.Cut(entry, "=")
		price, credits, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 {
			return nil, fmt.Errorf("packs: entry %d (%q): want id=price_id:credits", i+1, entry)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(credits), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("packs: entry %d (%q): credits %q are not a whole number", i+1, entry, strings.TrimSpace(credits))
		}
		packs = append(packs, Pack{ID: strings.TrimSpace(id), PriceID: strings.TrimSpace(price), Credits: n})
	}
	if err := checkPacks(packs); err != nil {
		return nil, fmt.Errorf("packs: %w", err)
	}
	return packs, nil
}

func checkPacks(packs []Pack) error {
	seen := map[string]bool{}
	for _, p := range packs {
		if !validPackID(p.ID) {
			return fmt.Errorf("pack id %q must be 1 to 32 of a-z, 0-9, '-' and '_'", p.ID)
		}
		if seen[p.ID] {
			return fmt.Errorf("pack %q is given twice", p.ID)
		}
		seen[p.ID] = true
		if !strings.HasPrefix(p.PriceID, "price_") || strings.ContainsAny(p.PriceID, " \t\r\n") {
			return fmt.Errorf("pack %q: price id %q is not a Stripe price id (price_…)", p.ID, p.PriceID)
		}
		if p.Credits <= 0 {
			return fmt.Errorf("pack %q: credits must be positive", p.ID)
		}
	}
	return nil
}

func validPackID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func checkURL(what, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("billing: a %s is required", what)
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("billing: the %s must be an absolute http(s) URL", what)
	}
	return nil
}
