package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/account"
	"github.com/diffgate/diffgate/internal/apikey"
	"github.com/diffgate/diffgate/internal/billing"
	"github.com/diffgate/diffgate/internal/cache"
	"github.com/diffgate/diffgate/internal/client"
	"github.com/diffgate/diffgate/internal/credits"
	"github.com/diffgate/diffgate/internal/diff"
	"github.com/diffgate/diffgate/internal/keyring"
	"github.com/diffgate/diffgate/internal/ratelimit"
	"github.com/diffgate/diffgate/internal/redact"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/review/rules"
	"github.com/diffgate/diffgate/internal/server"
	"github.com/diffgate/diffgate/internal/store"
	"github.com/diffgate/diffgate/internal/store/storetest"
)

// env is a running server over a real database, with its logs captured.
type env struct {
	t      testing.TB
	url    string
	srv    *server.Server
	db     *store.DB
	dsn    string // opens another handle on the same database (another replica)
	dir    string
	logs   *syncBuffer
	setup  string // the one-time setup token
	anon   *client.Client
	cancel context.CancelFunc
	done   chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type options struct {
	grace         time.Duration
	rate          int
	reviewers     map[string]review.Reviewer
	maxDiff       int64
	adminEmail    string
	perIP         int
	pg            bool
	noOwner       bool  // leave the server unset-up, its setup token unused
	credits       int64 // free credits per new account; 0 means plenty
	prices        string
	billing       *billing.Billing
	keyring       *keyring.Keyring
	webhookClient *http.Client
	checkURL      func(string) error
	now           func() time.Time
	keyringPath   string
	reviewLease   time.Duration
}

// onBoth runs a test on SQLite and, when enabled, on PostgreSQL.
func onBoth(t *testing.T, f func(t *testing.T, pg bool)) {
	t.Run("sqlite", func(t *testing.T) { f(t, false) })
	t.Run("postgres", func(t *testing.T) { f(t, true) })
}

// openStore opens SQLite in dir, or a fresh PostgreSQL schema when pg is
// set (skipping without DIFFGATE_TEST_POSTGRES_URL).
func openStore(t testing.TB, dir string, pg bool) (*store.DB, string) {
	t.Helper()
	dsn := filepath.Join(dir, "diffgate.db")
	if pg {
		dsn = storetest.PostgresDSN(t)
	}
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, dsn
}

// newServer builds a server on db, as start does; a second one on the same
// store is another replica (S2).
func newServer(t testing.TB, db *store.DB, logs *syncBuffer, o options) *server.Server {
	t.Helper()
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	key, err := account.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := account.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	kh, err := apikey.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if o.rate == 0 {
		o.rate = 1000
	}
	if o.perIP == 0 {
		o.perIP = 1000
	}
	if o.reviewers == nil {
		o.reviewers = map[string]review.Reviewer{"builtin": rules.New()}
	}
	if o.credits == 0 {
		o.credits = 1_000_000
	}
	var prices *credits.Prices
	if o.prices != "" {
		p, err := credits.ParsePrices(o.prices)
		if err != nil {
			t.Fatal(err)
		}
		prices = &p
	}
	now := o.now
	if now == nil {
		now = time.Now
	}
	grace := o.grace
	if grace == 0 {
		grace = -1 // no grace window unless a test asks for one
	}
	srv := server.New(server.Deps{
		Config: server.Config{AllowSignup: true, RefreshGrace: grace, MaxDiffSize: o.maxDiff, AdminEmail: o.adminEmail,
			FreeCredits: o.credits, Prices: prices, LowBalance: 5, ReviewLease: o.reviewLease},
		Store: db, Log: log, Now: now,
		Passwords: account.NewTestHasher(4),
		Tokens:    &account.Issuer{Keyring: kr},
		Guard:     account.NewGuard(account.GuardConfig{PerIPPerMinute: o.perIP}, time.Now),
		KeyHasher: kh,
		Limiter:   ratelimit.NewMemory(o.rate, time.Minute, time.Now),
		Cache:     cache.NewMemory(5*time.Minute, 64<<20, time.Now),
		Reviewers: o.reviewers,
		Billing:   o.billing,
		Keyring:   o.keyring, WebhookClient: o.webhookClient, CheckWebhookURL: o.checkURL, KeyringPath: o.keyringPath,
	})
	return srv
}

func start(t testing.TB, o options) *env {
	t.Helper()
	dir := t.TempDir()
	db, dsn := openStore(t, dir, o.pg)
	logs := &syncBuffer{}
	srv := newServer(t, db, logs, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv)
	token, err := server.NewSetupToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutSetting(ctx, server.SetupTokenSetting, server.HashSetupToken(token)); err != nil {
		t.Fatal(err)
	}
	if !o.noOwner {
		now := time.Now().UTC()
		if _, err := db.ClaimSetup(ctx, server.SetupTokenSetting, server.HashSetupToken(token),
			store.User{Email: "owner@example.com", PasswordHash: "x", Role: store.RoleOwner, CreatedAt: now, PasswordChangedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	anon, err := client.New(hs.URL, "", hs.Client())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, url: hs.URL, srv: srv, db: db, dsn: dsn, dir: dir, logs: logs, setup: token, anon: anon, cancel: cancel, done: done}
	t.Cleanup(func() {
		hs.Close()
		e.flush()
		db.Close()
	})
	return e
}

// flush stops the request-log writer so its rows are in the database.
func (e *env) flush() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

const password = "correct horse battery staple 42"

// user signs up and logs in a fresh account, returning a session client.
func (e *env) user(email string) (*client.Client, client.Tokens) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.anon.Signup(ctx, email, password); err != nil {
		e.t.Fatalf("Signup(%s): %v", email, err)
	}
	tok, err := e.anon.Login(ctx, email, password)
	if err != nil {
		e.t.Fatalf("Login(%s): %v", email, err)
	}
	return e.anon.WithToken(tok.AccessToken), tok
}

func (e *env) key(c *client.Client, k client.NewKey) *client.Client {
	e.t.Helper()
	created, err := c.CreateKey(context.Background(), k)
	if err != nil {
		e.t.Fatalf("CreateKey(%+v): %v", k, err)
	}
	return e.anon.WithToken(created.Key)
}

func status(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	if err == nil {
		return 200
	}
	return -1
}

// raw sends a request and returns the response with its body read.
func (e *env) raw(method, path, token, contentType string, body io.Reader) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const sampleDiff = "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,1 +1,2 @@\n import os\n+os.system(f\"rm -rf {path}\")\n"

// A6, A3: setup creates the owner once; the token cannot be reused, even
// concurrently.
func TestSetupTokenWorksOnce(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		e := start(t, options{pg: pg, noOwner: true})
		ctx := context.Background()
		if _, err := e.anon.Setup(ctx, "wrong-token", "owner@example.com", password); status(err) != 401 {
			t.Errorf("Setup with a wrong token = %v, want 401", err)
		}
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := e.anon.Setup(ctx, e.setup, fmt.Sprintf("owner%d@example.com", i), password)
				if err != nil && status(err) != 401 {
					t.Errorf("concurrent Setup = %v, want success or 401", err)
				}
				if err == nil {
					if u.Role != "owner" {
						t.Errorf("setup made role %q, want owner", u.Role)
					}
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Errorf("%d concurrent setups succeeded, want exactly 1", ok.Load())
		}
	})
}

func TestSetupBoundToAdminEmail(t *testing.T) {
	e := start(t, options{adminEmail: "boss@example.com", noOwner: true})
	if _, err := e.anon.Setup(context.Background(), e.setup, "mallory@example.com", password); status(err) != 403 {
		t.Errorf("Setup for another email = %v, want 403", err)
	}
	if _, err := e.anon.Setup(context.Background(), e.setup, "Boss@Example.com", password); err != nil {
		t.Errorf("Setup for the admin email = %v", err)
	}
}

// A1, A4: bad passwords are refused; an unknown email and a wrong
// password get the same answer.
func TestSignupAndLogin(t *testing.T) {
	e := start(t, options{})
	ctx := context.Background()
	for _, pw := range []string{"short", "password1234", strings.Repeat("x", 73)} {
		if err := e.anon.Signup(ctx, "a@example.com", pw); status(err) != 400 {
			t.Errorf("Signup with password %q = %v, want 400", pw, err)
		}
	}
	if err := e.anon.Signup(ctx, "not-an-email", password); status(err) != 400 {
		t.Errorf("Signup with a bad email = %v, want 400", err)
	}
	e.user("ada@example.com")
	// Signing up again is answered like a new account, and changes nothing.
	if err := e.anon.Signup(ctx, "ADA@example.com", "another long passphrase 99"); err != nil {
		t.Errorf("second Signup = %v, want the same 202", err)
	}
	if _, err := e.anon.Login(ctx, "ada@example.com", password); err != nil {
		t.Errorf("Login after a repeated signup = %v; the repeat must not change the password", err)
	}
	_, wrong := e.raw("POST", "/v1/auth/login", "", "application/json", strings.NewReader(`{"email":"ada@example.com","password":"wrong password 123"}`))
	_, unknown := e.raw("POST", "/v1/auth/login", "", "application/json", strings.NewReader(`{"email":"nobody@example.com","password":"wrong password 123"}`))
	strip := func(b []byte) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("login answer is not JSON: %s", b)
		}
		delete(m, "request_id")
		return m
	}
	if w, u := strip(wrong), strip(unknown); fmt.Sprint(w) != fmt.Sprint(u) || w["status"] != float64(401) {
		t.Errorf("wrong password answered %v, unknown email %v; want the same 401", w, u)
	}
}

// A4: at most 5 attempts a minute from one client IP, answered with 429
// and Retry-After; then the account's progressive delay applies.
func TestLoginRateLimitedPerIP(t *testing.T) {
	e := start(t, options{perIP: 5})
	var codes []int
	var retry string
	for i := range 6 {
		// A different account each time: only the per-IP rule applies.
		resp, _ := e.raw("POST", "/v1/auth/login", "", "application/json", strings.NewReader(fmt.Sprintf(`{"email":"x%d@example.com","password":"wrong password 123"}`, i)))
		codes = append(codes, resp.StatusCode)
		retry = resp.Header.Get("Retry-After")
	}
	if fmt.Sprint(codes) != "[401 401 401 401 401 429]" {
		t.Errorf("six logins from one IP: %v, want five 401 then 429", codes)
	}
	if retry == "" || retry == "0" {
		t.Errorf("429 without a usable Retry-After: %q", retry)
	}
	// A6: X-Forwarded-For from a peer that is not a trusted proxy is not
	// believed, so rotating it does not buy fresh attempts.
	e2 := start(t, options{perIP: 5})
	codes = nil
	for i := range 6 {
		req, _ := http.NewRequest("POST", e2.url+"/v1/auth/login", strings.NewReader(fmt.Sprintf(`{"email":"y%d@example.com","password":"wrong password 123"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if fmt.Sprint(codes) != "[401 401 401 401 401 429]" {
		t.Errorf("six logins with spoofed X-Forwarded-For: %v, want the sixth refused", codes)
	}
}

// A4: repeated failures slow one account down, whether it exists or not.
func TestProgressiveDelayPerAccount(t *testing.T) {
	e := start(t, options{})
	e.user("ada@example.com")
	for _, email := range []string{"ada@example.com", "ghost@example.com"} {
		var last int
		for range 5 {
			resp, _ := e.raw("POST", "/v1/auth/login", "", "application/json", strings.NewReader(`{"email":"`+email+`","password":"wrong password 123"}`))
			last = resp.StatusCode
		}
		if last != 429 {
			t.Errorf("%s after 5 failures: %d, want 429 (progressive delay)", email, last)
		}
	}
}

// A2, A3: access tokens work until their session is revoked; a reused
// refresh token revokes the whole family.
func TestSessions(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		e := start(t, options{pg: pg})
		ctx := context.Background()
		c, tok := e.user("ada@example.com")
		if u, err := c.Me(ctx); err != nil || u.Email != "ada@example.com" {
			t.Fatalf("Me = %+v, %v", u, err)
		}
		// A tampered token and garbage fail alike.
		for _, bad := range []string{tok.AccessToken + "x", "Bearer", "dg_live_nope", strings.Repeat("a", 5000)} {
			resp, body := e.raw("GET", "/v1/me", bad, "", nil)
			if resp.StatusCode != 401 || !strings.Contains(string(body), "missing or invalid credentials") {
				t.Errorf("GET /v1/me with %.20q: %d %s, want the generic 401", bad, resp.StatusCode, body)
			}
		}
		next, err := e.anon.Refresh(ctx, tok.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh = %v", err)
		}
		if next.RefreshToken == tok.RefreshToken {
			t.Fatal("Refresh did not rotate the refresh token")
		}
		// Reusing the old token is theft: the family dies, the new token too.
		if _, err := e.anon.Refresh(ctx, tok.RefreshToken); status(err) != 401 {
			t.Fatalf("reused refresh token = %v, want 401", err)
		}
		if _, err := e.anon.Refresh(ctx, next.RefreshToken); status(err) != 401 {
			t.Errorf("refresh after reuse = %v, want 401 (family revoked)", err)
		}
		if _, err := e.anon.WithToken(next.AccessToken).Me(ctx); status(err) != 401 {
			t.Errorf("access token of a revoked family = %v, want 401", err)
		}

		// Logout revokes at once.
		c2, tok2 := e.user("bob@example.com")
		if err := e.anon.Logout(ctx, tok2.RefreshToken); err != nil {
			t.Fatalf("Logout = %v", err)
		}
		if _, err := c2.Me(ctx); status(err) != 401 {
			t.Errorf("access token after logout = %v, want 401", err)
		}
		if _, err := e.anon.Refresh(ctx, tok2.RefreshToken); status(err) != 401 {
			t.Errorf("refresh after logout = %v, want 401", err)
		}
	})
}

// A2: within the grace window, concurrent refreshes of one token all work.
func TestRefreshGrace(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		e := start(t, options{grace: 10 * time.Second, pg: pg})
		_, tok := e.user("ada@example.com")
		var wg sync.WaitGroup
		var fails atomic.Int32
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.anon.Refresh(context.Background(), tok.RefreshToken); err != nil {
					fails.Add(1)
				}
			}()
		}
		wg.Wait()
		if fails.Load() != 0 {
			t.Errorf("%d of 5 concurrent refreshes failed inside the grace window", fails.Load())
		}
	})
}

// A2: changing the password revokes every session, and needs the current
// password and a session (not an API key).
func TestPasswordChange(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		e := start(t, options{pg: pg})
		ctx := context.Background()
		c, _ := e.user("ada@example.com")
		other, _ := e.anon.Login(ctx, "ada@example.com", password)
		keyed := e.key(c, client.NewKey{Name: "ci", Scopes: []string{"reviews:write", "keys:manage"}})
		if err := keyed.ChangePassword(ctx, password, "a brand new passphrase 7"); status(err) != 403 {
			t.Errorf("ChangePassword with an API key = %v, want 403", err)
		}
		if err := c.ChangePassword(ctx, "not my password 1", "a brand new passphrase 7"); status(err) != 403 {
			t.Errorf("ChangePassword with a wrong current password = %v, want 403", err)
		}
		if err := c.ChangePassword(ctx, password, "a brand new passphrase 7"); err != nil {
			t.Fatalf("ChangePassword = %v", err)
		}
		for _, tk := range []string{other.AccessToken} {
			if _, err := e.anon.WithToken(tk).Me(ctx); status(err) != 401 {
				t.Errorf("a session from before the change = %v, want 401", err)
			}
		}
		if _, err := c.Me(ctx); status(err) != 401 {
			t.Errorf("the changing session itself = %v, want 401", err)
		}
		if _, err := e.anon.Login(ctx, "ada@example.com", "a brand new passphrase 7"); err != nil {
			t.Errorf("Login with the new password = %v", err)
		}
	})
}

// K1, K2, K4, K5: keys are shown once, scoped, revocable at once, and
// private to their owner.
func TestAPIKeys(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		e := start(t, options{pg: pg})
		ctx := context.Background()
		ada, _ := e.user("ada@example.com")
		bob, _ := e.user("bob@example.com")
		created, err := ada.CreateKey(ctx, client.NewKey{Name: "laptop"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(created.Key, "dg_live_") || created.ID == "" {
			t.Fatalf("created key = %+v", created)
		}
		keys, err := ada.ListKeys(ctx)
		if err != nil || len(keys) != 1 || keys[0].Key != "" {
			t.Fatalf("ListKeys = %+v, %v; want one key without its secret", keys, err)
		}
		k := e.anon.WithToken(created.Key)
		if _, err := k.Review(ctx, []byte(sampleDiff), nil); err != nil {
			t.Fatalf("Review with the key = %v", err)
		}
		// Default scopes do not manage keys or read usage.
		if _, err := k.ListKeys(ctx); status(err) != 403 {
			t.Errorf("ListKeys with a reviews-only key = %v, want 403", err)
		}
		if _, err := k.Requests(ctx, 10); status(err) != 403 {
			t.Errorf("Requests with a reviews-only key = %v, want 403", err)
		}
		readOnly := e.key(ada, client.NewKey{Name: "ro", Scopes: []string{"reviews:read"}})
		if _, err := readOnly.Review(ctx, []byte(sampleDiff), nil); status(err) != 403 {
			t.Errorf("Review with a reviews:read key = %v, want 403", err)
		}
		// A key cannot mint a key with more scopes than it has.
		manager := e.key(ada, client.NewKey{Name: "mgr", Scopes: []string{"keys:manage"}})
		if _, err := manager.CreateKey(ctx, client.NewKey{Name: "escalate", Scopes: []string{"reviews:write"}}); status(err) != 403 {
			t.Errorf("escalating CreateKey = %v, want 403", err)
		}
		if _, err := ada.CreateKey(ctx, client.NewKey{Name: "x", Scopes: []string{"admin:all"}}); status(err) != 400 {
			t.Errorf("unknown scope = %v, want 400", err)
		}
		// Bob cannot see or revoke Ada's key, and is told nothing about it.
		if err := bob.RevokeKey(ctx, created.ID); status(err) != 404 {
			t.Errorf("Bob revoking Ada's key = %v, want 404", err)
		}
		if keys, _ := bob.ListKeys(ctx); len(keys) != 0 {
			t.Errorf("Bob sees keys %+v", keys)
		}
		if err := ada.RevokeKey(ctx, created.ID); err != nil {
			t.Fatalf("RevokeKey = %v", err)
		}
		if _, err := k.Review(ctx, []byte(sampleDiff), nil); status(err) != 401 {
			t.Errorf("Review right after revocation = %v, want 401", err)
		}
		// The same id with a forged secret fails like any bad key.
		forged := created.Key[:len(created.Key)-10] + "AAAAAAAAAA"
		if _, err := e.anon.WithToken(forged).Me(ctx); status(err) != 401 {
			t.Errorf("forged key = %v, want 401", err)
		}
		// Keys record their last use.
		fresh, err := ada.CreateKey(ctx, client.NewKey{Name: "used", Scopes: []string{"reviews:write", "keys:manage"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.anon.WithToken(fresh.Key).ListKeys(ctx); err != nil {
			t.Fatal(err)
		}
		keys, _ = ada.ListKeys(ctx)
		for _, kk := range keys {
			if kk.ID == fresh.ID && kk.LastUsedAt == nil {
				t.Error("a used key has no last_used_at")
			}
		}
	})
}

// K5: an expired key stops working.
func TestExpiredKey(t *testing.T) {
	e := start(t, options{})
	ada, _ := e.user("ada@example.com")
	created, err := ada.CreateKey(context.Background(), client.NewKey{Name: "brief", ExpiresIn: "1ms"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := e.anon.WithToken(created.Key).Review(context.Background(), []byte(sampleDiff), nil); status(err) != 401 {
		t.Errorf("expired key = %v, want 401", err)
	}
}

// K3: sandbox keys run only the builtin reviewer.
func TestSandboxKey(t *testing.T) {
	e := start(t, options{reviewers: map[string]review.Reviewer{"builtin": rules.New(), "fake": fakeLLM{}}})
	ada, _ := e.user("ada@example.com")
	created, err := ada.CreateKey(context.Background(), client.NewKey{Name: "sb", Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Key, "dg_test_") {
		t.Fatalf("sandbox key %q lacks the dg_test_ prefix", created.Key)
	}
	sb := e.anon.WithToken(created.Key)
	if _, err := sb.Review(context.Background(), []byte(sampleDiff), []string{"builtin"}); err != nil {
		t.Errorf("sandbox builtin review = %v", err)
	}
	if _, err := sb.Review(context.Background(), []byte(sampleDiff), []string{"fake"}); status(err) != 403 {
		t.Errorf("sandbox LLM review = %v, want 403", err)
	}
	if _, err := ada.Review(context.Background(), []byte(sampleDiff), []string{"builtin", "fake"}); err != nil {
		t.Errorf("live review with both reviewers = %v", err)
	}
}

type fakeLLM struct{}

func (fakeLLM) Name() string { return "fake" }
func (fakeLLM) Review(context.Context, *diff.Diff) (*review.Report, error) {
	return &review.Report{Model: "fake-1"}, nil
}

// R1 and bad input: every malformed request gets a clear 4xx problem.
func TestReviewBadInput(t *testing.T) {
	e := start(t, options{maxDiff: 4096})
	_, tok := e.user("ada@example.com")
	at := tok.AccessToken
	big := "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -0,0 +1,500 @@\n" + strings.Repeat("+aaaaaaaaaa\n", 500)
	tests := []struct {
		name        string
		contentType string
		body        string
		path        string
		want        int
		detail      string
	}{
		{"malformed JSON", "application/json", `{"diff":`, "", 400, "malformed JSON"},
		{"unknown field", "application/json", `{"diff":"","color":"red"}`, "", 400, "unknown field"},
		{"two values", "application/json", `{"diff":""}{"diff":""}`, "", 400, "more than one value"},
		{"wrong type", "application/json", `{"diff":42}`, "", 400, "must be string"},
		{"invalid UTF-8", "application/json", "{\"diff\":\"\xff\xfe\"}", "", 400, "UTF-8"},
		{"wrong content type", "application/xml", `<diff/>`, "", 415, "application/json or text/x-diff"},
		{"no content type", "", sampleDiff, "", 415, ""},
		{"malformed diff", "text/x-diff", "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n", "", 400, "line 5"},
		{"diff too large raw", "text/x-diff", big, "", 413, "larger than"},
		{"diff too large json", "application/json", `{"diff":` + string(mustJSON(big)) + `}`, "", 413, "larger than"},
		{"unknown reviewer", "text/x-diff", sampleDiff, "?reviewers=skynet", 400, "not offered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.raw("POST", "/v1/reviews"+tt.path, at, tt.contentType, strings.NewReader(tt.body))
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var p server.Problem
			if err := json.Unmarshal(body, &p); err != nil || p.Status != tt.want || p.RequestID == "" || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("problem = %+v (%v), want status %d, a request id and detail containing %q", p, err, tt.want, tt.detail)
			}
			if resp.Header.Get("RateLimit-Limit") == "" {
				t.Error("answer lacks RateLimit-Limit")
			}
		})
	}
	// Unauthenticated and unknown routes are problems too.
	resp, _ := e.raw("POST", "/v1/reviews", "", "text/x-diff", strings.NewReader(sampleDiff))
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials: %d, want 401 with WWW-Authenticate", resp.StatusCode)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/v1/nope", 404}, {"GET", "/nope", 404}, {"GET", "/v1/keys/abc", 405}, {"PUT", "/v1/reviews", 405}} {
		resp, body := e.raw(c.method, c.path, at, "", nil)
		var p server.Problem
		if resp.StatusCode != c.want || resp.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(body, &p) != nil || p.Status != c.want || p.RequestID == "" {
			t.Errorf("%s %s: %d %s %s, want a %d problem", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.want)
		}
		if c.want == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// L1: the per-user limit is exact under concurrency, with headers on
// every answer; another user has their own budget.
func TestReviewRateLimit(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		e := start(t, options{rate: 10, pg: pg})
		ada, tok := e.user("ada@example.com")
		var ok, limited atomic.Int32
		var wg sync.WaitGroup
		for i := range 25 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Distinct diffs: the cache must not mask the limit.
				d := sampleDiff + fmt.Sprintf("+# %d\n", i)
				d = strings.Replace(d, "+1,2 @@", "+1,3 @@", 1)
				resp, body := e.raw("POST", "/v1/reviews", tok.AccessToken, "text/x-diff", strings.NewReader(d))
				for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
					if resp.Header.Get(h) == "" {
						t.Errorf("answer %d lacks %s", resp.StatusCode, h)
					}
				}
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
					if resp.Header.Get("Retry-After") == "" {
						t.Error("429 without Retry-After")
					}
				default:
					t.Errorf("status %d: %s", resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 10 || limited.Load() != 15 {
			t.Errorf("%d allowed and %d limited, want exactly 10 and 15", ok.Load(), limited.Load())
		}
		bob, _ := e.user("bob@example.com")
		if _, err := bob.Review(context.Background(), []byte(sampleDiff), nil); err != nil {
			t.Errorf("another user's first review = %v", err)
		}
		_ = ada
	})
}

// D1: an identical request is answered from the cache, per user.
func TestReviewCache(t *testing.T) {
	var calls atomic.Int32
	e := start(t, options{reviewers: map[string]review.Reviewer{"builtin": countingReviewer{rules.New(), &calls}}})
	_, tok := e.user("ada@example.com")
	_, tok2 := e.user("bob@example.com")
	get := func(token string) string {
		resp, body := e.raw("POST", "/v1/reviews", token, "text/x-diff", strings.NewReader(sampleDiff))
		if resp.StatusCode != 200 {
			t.Fatalf("review: %d %s", resp.StatusCode, body)
		}
		return resp.Header.Get("X-Diffgate-Cache")
	}
	if a, b, c := get(tok.AccessToken), get(tok.AccessToken), get(tok2.AccessToken); a != "miss" || b != "hit" || c != "miss" {
		t.Errorf("cache answers %s, %s, then another user %s; want miss, hit, miss", a, b, c)
	}
	if calls.Load() != 2 {
		t.Errorf("reviewer ran %d times, want 2", calls.Load())
	}
}

type countingReviewer struct {
	review.Reviewer
	n *atomic.Int32
}

func (c countingReviewer) Review(ctx context.Context, d *diff.Diff) (*review.Report, error) {
	c.n.Add(1)
	return c.Reviewer.Review(ctx, d)
}

// D2: a diff's content is in no database file, no WAL and no log line; the
// request log holds its metadata.
func TestDiffIsNeverStored(t *testing.T) {
	e := start(t, options{})
	ada, tok := e.user("ada@example.com")
	const marker = "ZQXJ-unique-marker-7781"
	secretDiff := "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1,2 @@\n x\n+password = \"" + marker + "\"\n"
	doc, err := ada.Review(context.Background(), []byte(secretDiff), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) == 0 {
		t.Fatal("the marker line raised no finding; the test would prove little")
	}
	// Also a malformed diff carrying the marker, which goes down the error path.
	e.raw("POST", "/v1/reviews", tok.AccessToken, "text/x-diff", strings.NewReader("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,9 +1,9 @@\n+"+marker+"\n"))
	e.raw("POST", "/v1/reviews", tok.AccessToken, "application/json", strings.NewReader(`{"diff":"`+marker+`","extra":1}`))
	e.flush()
	me, err := ada.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.db.ListRequestLogs(context.Background(), me.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var reviewRow bool
	for _, r := range rows {
		if r.Route == "POST /v1/reviews" && r.Status == 200 && r.DiffBytes == int64(len(secretDiff)) && r.Findings == len(doc.Findings) {
			reviewRow = true
		}
	}
	if !reviewRow {
		t.Errorf("request log %+v lacks the review's metadata row", rows)
	}
	if err := e.db.Close(); err != nil { // checkpoint nothing away: the WAL is searched as it is
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "*"))
	if len(files) == 0 {
		t.Fatal("no database files to search")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s holds the diff's marker", filepath.Base(f))
		}
	}
	if strings.Contains(e.logs.String(), marker) {
		t.Error("the logs hold the diff's marker")
	}
}

// Every route of the server is in the OpenAPI document, and every
// operation of the document is a route.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := start(t, options{})
	resp, body := e.raw("GET", "/v1/openapi.json", "", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/openapi.json: %d", resp.StatusCode)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("not an OpenAPI 3.1 document: %v %q", err, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	routes := map[string]bool{}
	for _, r := range server.Routes() {
		routes[r] = true
		if !documented[r] {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for op := range documented {
		if !routes[op] {
			t.Errorf("the OpenAPI document has %s, which is no route", op)
		}
	}
}

// BenchmarkAuthenticate measures a whole authenticated request in process
// (GET /v1/me through the middleware): credential check, the database
// lookups (revocation is read every time, K4), the user read and the answer.
func BenchmarkAuthenticate(b *testing.B) {
	e := start(b, options{})
	ada, tok := e.user("ada@example.com")
	created, err := ada.CreateKey(context.Background(), client.NewKey{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, token string }{{"api-key", created.Key}, {"jwt", tok.AccessToken}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/v1/me", nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				rec := httptest.NewRecorder()
				e.srv.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("GET /v1/me = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// O3: a graceful shutdown lets a review in flight finish and answer.
func TestShutdownDrainsReviews(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	e := start(t, options{reviewers: map[string]review.Reviewer{"builtin": blockingReviewer{started, release}}})
	_, tok := e.user("ada@example.com")
	hs := &http.Server{Handler: e.srv}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	type answer struct {
		code int
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/reviews", strings.NewReader(sampleDiff))
		req.Header.Set("Content-Type", "text/x-diff")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- answer{0, err}
			return
		}
		resp.Body.Close()
		got <- answer{resp.StatusCode, nil}
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- hs.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v while a review was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if a := <-got; a.err != nil || a.code != 200 {
		t.Errorf("in-flight review answered %d, %v; want 200", a.code, a.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	e.srv.Drain()
}

type blockingReviewer struct{ started, release chan struct{} }

func (blockingReviewer) Name() string { return "builtin" }
func (b blockingReviewer) Review(ctx context.Context, _ *diff.Diff) (*review.Report, error) {
	close(b.started)
	<-b.release
	return &review.Report{}, nil
}

// K2, K3: sandbox keys only review; keys made by keys cannot manage keys
// and do not outlive their maker; names are printable.
func TestKeyEscalation(t *testing.T) {
	e := start(t, options{})
	ctx := context.Background()
	ada, _ := e.user("ada@example.com")
	if _, err := ada.CreateKey(ctx, client.NewKey{Name: "sb", Sandbox: true, Scopes: []string{"keys:manage"}}); status(err) != 400 {
		t.Errorf("sandbox key with keys:manage = %v, want 400", err)
	}
	mgr, err := ada.CreateKey(ctx, client.NewKey{Name: "mgr", Scopes: []string{"keys:manage", "reviews:write"}, ExpiresIn: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	m := e.anon.WithToken(mgr.Key)
	if _, err := m.CreateKey(ctx, client.NewKey{Name: "clone", Scopes: []string{"keys:manage"}}); status(err) != 403 {
		t.Errorf("a key minting a keys:manage key = %v, want 403", err)
	}
	child, err := m.CreateKey(ctx, client.NewKey{Name: "child", Scopes: []string{"reviews:write"}})
	if err != nil {
		t.Fatal(err)
	}
	if child.ExpiresAt == nil || child.ExpiresAt.After(*mgr.ExpiresAt) {
		t.Errorf("child key expires %v, parent %v: a child must not outlive its maker", child.ExpiresAt, mgr.ExpiresAt)
	}
	for _, name := range []string{"a\x00b", "evil\x1b[2J", "tab\there"} {
		if _, err := ada.CreateKey(ctx, client.NewKey{Name: name}); status(err) != 400 {
			t.Errorf("key name %q = %v, want 400", name, err)
		}
	}
}

// Signup waits for the owner: nobody can take the server (or the owner's
// address) before setup.
func TestSignupBeforeSetup(t *testing.T) {
	e := start(t, options{noOwner: true})
	if err := e.anon.Signup(context.Background(), "early@example.com", password); status(err) != 403 {
		t.Errorf("Signup before setup = %v, want 403", err)
	}
	if _, err := e.anon.Setup(context.Background(), e.setup, "owner@example.com", password); err != nil {
		t.Fatalf("Setup = %v", err)
	}
	if err := e.anon.Signup(context.Background(), "later@example.com", password); err != nil {
		t.Errorf("Signup after setup = %v", err)
	}
}

// L2: a balance that covers exactly N reviews lets exactly N of many
// concurrent reviews through; the rest get 402 problems and the ledger
// sums to a zero balance. On SQLite and PostgreSQL.
func TestConcurrentSpend(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		const n, price = 6, 3
		e := start(t, options{pg: pg, credits: n * price, prices: "builtin=3"})
		ada, tok := e.user("ada@example.com")
		var ok, paid atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := strings.Replace(sampleDiff, "+1,2 @@", "+1,3 @@", 1) + fmt.Sprintf("+# %d\n", i)
				resp, body := e.raw("POST", "/v1/reviews", tok.AccessToken, "text/x-diff", strings.NewReader(d))
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 402:
					paid.Add(1)
					if resp.Header.Get("Content-Type") != "application/problem+json" {
						t.Errorf("402 is not a problem: %s", body)
					}
				default:
					t.Errorf("status %d: %s", resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != n || paid.Load() != 20-n {
			t.Errorf("%d reviews ran and %d got 402; want %d and %d", ok.Load(), paid.Load(), n, 20-n)
		}
		cr, err := ada.Credits(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, en := range cr.Entries {
			sum += en.Amount
		}
		if cr.Balance != 0 || sum != 0 {
			t.Errorf("balance %d, ledger sum %d; want 0 and 0", cr.Balance, sum)
		}
	})
}

// L2, K3: quotes, charges on success only, sandbox keys never touch the
// ledger, and only an owner or admin grants credits.
func TestCreditsFlow(t *testing.T) {
	e := start(t, options{noOwner: true, credits: 100, prices: "builtin=2,fake=flat:10", reviewers: map[string]review.Reviewer{"builtin": rules.New(), "fake": failing{}}})
	ctx := context.Background()
	if _, err := e.anon.Setup(ctx, e.setup, "boss@example.com", password); err != nil {
		t.Fatal(err)
	}
	ada, _ := e.user("ada@example.com")
	q, err := ada.QuoteReview(ctx, []byte(sampleDiff), []string{"builtin", "fake"})
	if err != nil || q.Credits != 12 || q.Balance != 100 {
		t.Fatalf("QuoteReview = %+v, %v; want 12 credits of a 100 balance", q, err)
	}
	// The fake reviewer fails: only builtin's 2 credits are charged.
	resp, body := e.raw("POST", "/v1/reviews?reviewers=builtin,fake", mustToken(t, ada), "text/x-diff", strings.NewReader(sampleDiff))
	var answer struct {
		Credits server.CreditsInfo `json:"credits"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &answer) != nil {
		t.Fatalf("review: %d %s", resp.StatusCode, body)
	}
	if answer.Credits != (server.CreditsInfo{Quoted: 12, Charged: 2, Balance: 98}) {
		t.Errorf("credits of the answer = %+v, want quoted 12, charged 2, balance 98", answer.Credits)
	}
	sb, err := ada.CreateKey(ctx, client.NewKey{Name: "sb", Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := ada.Credits(ctx)
	if _, err := e.anon.WithToken(sb.Key).Review(ctx, []byte(strings.Replace(sampleDiff, "+1,2 @@", "+1,3 @@", 1)+"+# sandbox\n"), nil); err != nil {
		t.Fatalf("sandbox review = %v", err)
	}
	after, _ := ada.Credits(ctx)
	if after.Balance != before.Balance || len(after.Entries) != len(before.Entries) {
		t.Errorf("a sandbox review touched the ledger: %d entries → %d", len(before.Entries), len(after.Entries))
	}
	if _, err := ada.Grant(ctx, "ada@example.com", 50, "self"); status(err) != 403 {
		t.Errorf("a user granting credits = %v, want 403", err)
	}
	boss, err := e.anon.Login(ctx, "boss@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	if bal, err := e.anon.WithToken(boss.AccessToken).Grant(ctx, "ada@example.com", 50, "support"); err != nil || bal != 148 {
		t.Errorf("owner Grant = %d, %v; want balance 148", bal, err)
	}
	if _, err := e.anon.WithToken(boss.AccessToken).Grant(ctx, "nobody@example.com", 50, ""); status(err) != 404 {
		t.Errorf("Grant to an unknown account = %v, want 404", err)
	}
	// Admins see any account's ledger; users see only their own.
	resp, b := e.raw("GET", "/v1/admin/credits?email=ada@example.com", boss.AccessToken, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"balance":148`) || !strings.Contains(string(b), `"grant"`) {
		t.Errorf("owner reading Ada's credits: %d %s", resp.StatusCode, b)
	}
	adaTok, _ := e.anon.Login(ctx, "ada@example.com", password)
	if resp, _ := e.raw("GET", "/v1/admin/credits?email=boss@example.com", adaTok.AccessToken, "", nil); resp.StatusCode != 403 {
		t.Errorf("a user reading another's credits: %d, want 403", resp.StatusCode)
	}
}

type failing struct{}

func (failing) Name() string { return "fake" }
func (failing) Review(context.Context, *diff.Diff) (*review.Report, error) {
	return nil, errors.New("fake: 503 unavailable")
}

func mustToken(t *testing.T, c *client.Client) string {
	t.Helper()
	k, err := c.CreateKey(context.Background(), client.NewKey{Name: "tok", Scopes: []string{"reviews:write"}})
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

// L3: a Stripe webhook is verified and applied exactly once; anything
// unsigned, stale or replayed credits nothing.
func TestStripeWebhook(t *testing.T) {
	const secret = "whsec_test_secret_for_diffgate"
	b, err := billing.New(billing.Config{SecretKey: "sk_test_123", WebhookSecret: secret,
		Packs:      []billing.Pack{{ID: "small", PriceID: "price_small", Credits: 500}},
		SuccessURL: "https://diffgate.example.com/ok", CancelURL: "https://diffgate.example.com/cancel"})
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, options{billing: b, credits: 10})
	ada, _ := e.user("ada@example.com")
	me, err := ada.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	event := func(evID, sessionID string) []byte {
		uid := strconv.FormatInt(me.ID, 10)
		body, _ := json.Marshal(map[string]any{
			"id": evID, "object": "event", "type": "checkout.session.completed", "api_version": "2025-04-30.basil",
			"created": time.Now().Unix(), "livemode": false, "pending_webhooks": 1,
			"data": map[string]any{"object": map[string]any{
				"id": sessionID, "object": "checkout.session", "mode": "payment", "status": "complete", "payment_status": "paid",
				"client_reference_id": uid, "metadata": map[string]any{"user_id": uid, "pack_id": "small", "credits": "500"},
			}},
		})
		return body
	}
	sign := func(secret string, ts time.Time, payload []byte) string {
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "%d.", ts.Unix())
		mac.Write(payload)
		return fmt.Sprintf("t=%d,v1=%s", ts.Unix(), hex.EncodeToString(mac.Sum(nil)))
	}
	post := func(body []byte, sig string) int {
		req, _ := http.NewRequest("POST", e.url+"/v1/billing/stripe-webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := event("evt_1", "cs_test_1")
	now := time.Now()
	for _, c := range []struct {
		name string
		sig  string
		want int
	}{
		{"no signature", "", 401},
		{"wrong secret", sign("whsec_other", now, body), 401},
		{"stale", sign(secret, now.Add(-10*time.Minute), body), 401},
		{"valid", sign(secret, now, body), 200},
		{"replayed", sign(secret, now, body), 200},
	} {
		if got := post(body, c.sig); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	// The same session under another event id credits nothing more.
	other := event("evt_2", "cs_test_1")
	if got := post(other, sign(secret, now, other)); got != 200 {
		t.Errorf("second event for the session: %d", got)
	}
	cr, err := ada.Credits(context.Background())
	if err != nil || cr.Balance != 510 {
		t.Errorf("balance after one purchase delivered thrice = %d, %v; want 10 + 500", cr.Balance, err)
	}
	// Without billing configured the endpoints say so.
	e2 := start(t, options{})
	c2, _ := e2.user("bob@example.com")
	resp, bodyB := e2.raw("GET", "/v1/billing/packs", mustToken(t, c2), "", nil)
	if resp.StatusCode != 503 || !strings.Contains(string(bodyB), "billing is not configured") {
		t.Errorf("packs without billing: %d %s", resp.StatusCode, bodyB)
	}
}

// L2: a retried request with the same Idempotency-Key returns the first
// answer and is charged once, even when the retries race; the same key
// with another diff is refused.
func TestIdempotencyKey(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		e := start(t, options{pg: pg, credits: 100, prices: "builtin=7"})
		ada, tok := e.user("ada@example.com")
		post := func(key, body string) (*http.Response, []byte) {
			req, _ := http.NewRequest("POST", e.url+"/v1/reviews", strings.NewReader(body))
			req.Header.Set("Content-Type", "text/x-diff")
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Idempotency-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, b
		}
		var wg sync.WaitGroup
		var ok, busy atomic.Int32
		bodies := make([][]byte, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, b := post("retry-1", sampleDiff)
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
					bodies[i] = b
				case 409:
					busy.Add(1)
				default:
					t.Errorf("status %d: %s", resp.StatusCode, b)
				}
			}()
		}
		wg.Wait()
		if ok.Load() == 0 {
			t.Fatal("no request with the key succeeded")
		}
		resp, replay := post("retry-1", sampleDiff)
		if resp.StatusCode != 200 || resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry after completion: %d %q", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"))
		}
		for _, b := range bodies {
			if b != nil && !bytes.Equal(b, replay) {
				t.Errorf("answers differ for one key:\n%s\n%s", b, replay)
			}
		}
		cr, err := ada.Credits(context.Background())
		if err != nil || cr.Balance != 93 {
			t.Errorf("balance %d, %v; want 100 - 7 (charged once)", cr.Balance, err)
		}
		if resp, _ := post("retry-1", strings.Replace(sampleDiff, "rm -rf", "rm -f", 1)); resp.StatusCode != 409 {
			t.Errorf("same key, other diff: %d, want 409", resp.StatusCode)
		}
		// A failed request does not burn its key.
		if resp, _ := post("retry-2", "not a diff"); resp.StatusCode != 400 {
			t.Errorf("malformed diff: %d, want 400", resp.StatusCode)
		}
		if resp, _ := post("retry-2", sampleDiff+"+# fresh\n"); resp.StatusCode != 400 && resp.StatusCode != 200 {
			t.Errorf("reuse of a failed request's key: %d", resp.StatusCode)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// dbFiles reads every file of the test's SQLite database.
func dbFiles(t *testing.T, e *env) []string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(e.dir, "*"))
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
