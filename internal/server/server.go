// Package server is diffgate's HTTP API: NewServer wires the handlers of
// routes.go over the store and the domain packages. Handlers speak
// apperr; problem.go alone maps errors to HTTP.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"sync"
	"time"

	"github.com/diffgate/diffgate/internal/account"
	"github.com/diffgate/diffgate/internal/apikey"
	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/billing"
	"github.com/diffgate/diffgate/internal/cache"
	"github.com/diffgate/diffgate/internal/credits"
	"github.com/diffgate/diffgate/internal/keyring"
	"github.com/diffgate/diffgate/internal/ratelimit"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/store"
	"github.com/diffgate/diffgate/internal/webhook"
)

// Config holds the server's tunables; zero values take the defaults below.
type Config struct {
	// MaxDiffSize is the largest diff accepted, in bytes (R1: 2 MiB).
	MaxDiffSize int64
	// CacheTTL is how long a review result is kept for identical requests
	// (D1: at most 5 minutes).
	CacheTTL time.Duration
	// ReviewTimeout bounds one review, provider retries included.
	ReviewTimeout time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For is believed (A6).
	TrustedProxies []netip.Prefix
	// AllowSignup lets anyone create an account; otherwise only the setup
	// token creates the first (owner) account.
	AllowSignup bool
	// AccessTTL, RefreshGrace and RefreshLifetime tune sessions (A2).
	AccessTTL       time.Duration
	RefreshGrace    time.Duration
	RefreshLifetime time.Duration
	// AdminEmail, when set, is the only email the setup token accepts.
	AdminEmail string
	// Prices set each review's credit cost (L2); the zero value means
	// credits.DefaultPrices.
	Prices *credits.Prices
	// FreeCredits are granted to every new account (0: none).
	FreeCredits int64
	// LowBalance is the threshold whose crossing raises a credits.low event.
	LowBalance int64
	// WebhookAllowHTTP accepts http:// webhook URLs (development only).
	WebhookAllowHTTP bool
	// AsyncQueue bounds the queued asynchronous reviews (default 256).
	AsyncQueue int
	// ReviewLease is how long a replica that stops answering keeps its
	// unfinished reviews before another fails them (default 30s; the
	// owner renews every third of it).
	ReviewLease time.Duration
	// Retention is how long records are kept (O2); the zero value means
	// store.DefaultRetention.
	Retention store.Retention
}

const (
	DefaultMaxDiffSize     = 2 << 20
	DefaultCacheTTL        = 5 * time.Minute
	DefaultReviewTimeout   = 3 * time.Minute
	DefaultRefreshGrace    = 10 * time.Second
	DefaultRefreshLifetime = 30 * 24 * time.Hour
	DefaultReviewLease     = 30 * time.Second
	// maxJSONBody bounds every JSON body but a review's.
	maxJSONBody = 64 << 10
)

// Deps is everything the server needs. Nothing in the server reaches for
// globals: the clock, the logger and every store come from here.
type Deps struct {
	Config    Config
	Store     *store.DB
	Log       *slog.Logger
	Now       func() time.Time
	Passwords *account.Hasher
	Tokens    *account.Issuer
	Guard     *account.Guard
	KeyHasher *apikey.Hasher
	// Limiter limits review requests per user (L1).
	Limiter ratelimit.Limiter
	Cache   cache.Cache
	// Reviewers are the reviewers this server offers, by name. Provider
	// keys live in them (server configuration), never in requests.
	Reviewers map[string]review.Reviewer
	// Billing sells credits through Stripe; nil answers "billing is not
	// configured" (admins grant credits instead).
	Billing *billing.Billing
	// Keyring seals server-side secrets (webhook secrets, D5).
	Keyring *keyring.Keyring
	// KeyringPath, when set, is the keyring's file: the server reloads it
	// when it changes, so a rotation (diffgate rotate-seal-key) takes
	// effect without a restart.
	KeyringPath string
	// WebhookClient delivers webhooks; it must come from webhook.NewClient
	// (SSRF-safe dialer, no proxy, no redirects).
	WebhookClient *http.Client
	// CheckWebhookURL vets a URL at registration; nil means
	// webhook.CheckURL. Only tests replace it (to reach a local receiver).
	CheckWebhookURL func(raw string) error
	// Ready reports whether the server should take traffic (readyz).
	Ready func(ctx context.Context) error
}

// Server is the HTTP API.
type Server struct {
	Deps
	log      *slog.Logger
	handler  http.Handler
	reqlog   *reqLogWriter
	touch    *touchThrottle
	pool     *workers
	instance string // owner of the reviews this replica runs
	ringMu   sync.Mutex
	ringMod  time.Time
	wg       sync.WaitGroup // in-flight reviews, drained on shutdown
}

// New builds the server. Close must be called to flush the request log.
func New(d Deps) *Server {
	c := &d.Config
	if c.MaxDiffSize <= 0 {
		c.MaxDiffSize = DefaultMaxDiffSize
	}
	if c.CacheTTL <= 0 || c.CacheTTL > DefaultCacheTTL {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.ReviewTimeout <= 0 {
		c.ReviewTimeout = DefaultReviewTimeout
	}
	if c.AccessTTL <= 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.RefreshGrace < 0 {
		c.RefreshGrace = 0
	} else if c.RefreshGrace == 0 {
		c.RefreshGrace = DefaultRefreshGrace
	}
	if c.RefreshLifetime <= 0 {
		c.RefreshLifetime = DefaultRefreshLifetime
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if c.Prices == nil {
		p := credits.DefaultPrices()
		c.Prices = &p
	}
	if c.ReviewLease <= 0 {
		c.ReviewLease = DefaultReviewLease
	}
	if c.Retention == (store.Retention{}) {
		c.Retention = store.DefaultRetention
	}
	s := &Server{Deps: d, log: d.Log, instance: newInstanceID()}
	s.reqlog = newReqLogWriter(d.Store, d.Log)
	s.touch = newTouchThrottle(time.Minute)
	if c.AsyncQueue <= 0 {
		c.AsyncQueue = 256
	}
	s.pool = newWorkers(c.AsyncQueue)
	if s.CheckWebhookURL == nil {
		s.CheckWebhookURL = func(raw string) error { return checkWebhookURL(raw, c.WebhookAllowHTTP) }
	}
	if s.WebhookClient == nil {
		s.WebhookClient = webhook.NewClient(webhook.Options{AllowHTTP: c.WebhookAllowHTTP})
	}
	s.handler = s.middleware(s.routes())
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Run runs the server's background work (request-log flushing) until ctx
// ends, then flushes what is left.
func (s *Server) Run(ctx context.Context) { s.reqlog.run(ctx) }

// Drain waits for in-flight reviews to finish.
func (s *Server) Drain() { s.wg.Wait() }

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
	keyLogEntry
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "inst_" + hex.EncodeToString(b[:])
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// middleware applies what every answer needs: a request id, security
// headers, a recovered panic turned into a 500 problem, and the request
// log entry (metadata only, D2).
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.Now()
		rid := newRequestID()
		ctx := context.WithValue(r.Context(), keyRequestID, rid)
		entry := &logEntry{}
		ctx = context.WithValue(ctx, keyLogEntry, entry)
		r = r.WithContext(ctx)
		h := w.Header()
		h.Set("X-Request-Id", rid)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic", "request_id", rid, "panic", p, "stack", string(debug.Stack()))
				if !sw.wrote {
					writeProblem(sw, Problem{Type: ProblemBase + "internal", Title: "Internal Server Error", Status: 500, RequestID: rid})
				}
			}
			// Rows are kept for callers who proved who they are; anonymous
			// traffic (failed logins, bad tokens, scans) would otherwise let
			// anyone fill the disk.
			if uid := entry.user(); uid != 0 && r.Pattern != "" {
				s.reqlog.add(entry.row(s.Now(), start, rid, r, sw.status))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkWebhookURL vets a webhook URL at registration (W2): the URL's form,
// then every address its host resolves to now. The dialer checks the
// addresses again at every delivery, so a name that changes later is
// still refused.
func checkWebhookURL(raw string, allowHTTP bool) error {
	if err := webhook.CheckURL(raw, allowHTTP); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return apperr.New(apperr.Invalid, "invalid webhook URL")
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // an address literal, already checked
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return apperr.New(apperr.Invalid, "the webhook host does not resolve")
	}
	for _, a := range addrs {
		if webhook.CheckAddr(a) != nil {
			return apperr.New(apperr.Invalid, "the webhook host resolves to a private or reserved address")
		}
	}
	return nil
}
