package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/diffgate/diffgate/internal/account"
	"github.com/diffgate/diffgate/internal/apikey"
	"github.com/diffgate/diffgate/internal/billing"
	"github.com/diffgate/diffgate/internal/cache"
	"github.com/diffgate/diffgate/internal/credits"
	"github.com/diffgate/diffgate/internal/keyring"
	"github.com/diffgate/diffgate/internal/ratelimit"
	"github.com/diffgate/diffgate/internal/redact"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/server"
	"github.com/diffgate/diffgate/internal/store"
)

type serveFlags struct {
	addr           string
	dataDir        string
	databaseURL    string
	adminEmail     string
	trustedProxies string
	allowSignup    bool
	reviewRate     string
	cacheTTL       string
	maxSize        string
	reviewTimeout  string
	bcryptCost     string
	accessTTL      string
	refreshGrace   string
	refreshLife    string
	jwtKeys        string
	keyPepper      string
	logLevel       string
	prices         string
	freeCredits    string
	lowBalance     string
	stripePacks    string
	stripeSuccess  string
	stripeCancel   string
	stripeAPI      string
	webhookHTTP    bool
	workers        string
	authRate       string
	providers      reviewFlags // --reviewer and the provider flags, shared with review
}

func (sf *serveFlags) register(ef *envFlags) {
	ef.str(&sf.addr, "addr", "DIFFGATE_ADDR", "127.0.0.1:8080", "listen on `host:port` (use 0.0.0.0:8080 to accept other machines)")
	ef.str(&sf.dataDir, "data-dir", "DIFFGATE_DATA_DIR", "./diffgate-data", "`DIR` for the SQLite database and server secrets (created 0700)")
	ef.str(&sf.databaseURL, "database-url", "DIFFGATE_DATABASE_URL", "", "PostgreSQL `URL` (postgres://…); empty uses SQLite in --data-dir")
	ef.str(&sf.adminEmail, "admin-email", "DIFFGATE_ADMIN_EMAIL", "", "`email` of the owner account the setup token creates")
	ef.str(&sf.trustedProxies, "trusted-proxies", "DIFFGATE_TRUSTED_PROXIES", "", "comma-separated `CIDRs` of proxies whose X-Forwarded-For is believed")
	ef.boolean(&sf.allowSignup, "allow-signup", "DIFFGATE_ALLOW_SIGNUP", true, "let anyone create an account with POST /v1/auth/signup")
	ef.str(&sf.reviewRate, "review-rate", "DIFFGATE_REVIEW_RATE", "10", "review requests per minute per user (`N`)")
	ef.str(&sf.cacheTTL, "cache-ttl", "DIFFGATE_CACHE_TTL", "5m", "how long identical review requests are answered from memory (`duration`, at most 5m)")
	ef.str(&sf.maxSize, "max-diff-size", "DIFFGATE_MAX_DIFF_SIZE", "2MiB", "refuse diffs larger than `SIZE` with 413")
	ef.str(&sf.reviewTimeout, "review-timeout", "DIFFGATE_REVIEW_TIMEOUT", "3m", "time allowed for one review, provider retries included (`duration`)")
	ef.str(&sf.accessTTL, "access-ttl", "DIFFGATE_ACCESS_TTL", "15m", "lifetime of a session access token (`duration`)")
	ef.str(&sf.refreshGrace, "refresh-grace", "DIFFGATE_REFRESH_GRACE", "10s", "window in which a used refresh token may be presented again by a concurrent refresh (`duration`; 0s for none)")
	ef.str(&sf.refreshLife, "refresh-lifetime", "DIFFGATE_REFRESH_LIFETIME", "720h", "absolute lifetime of a session's refresh tokens (`duration`)")
	ef.str(&sf.bcryptCost, "bcrypt-cost", "DIFFGATE_BCRYPT_COST", "12", "bcrypt `cost` of password hashes (at least 12)")
	ef.str(&sf.jwtKeys, "jwt-keys", "DIFFGATE_JWT_KEYS", "", "`FILE` of the token signing keyring (default: generated in --data-dir/secrets)")
	ef.str(&sf.keyPepper, "key-pepper", "DIFFGATE_KEY_PEPPER", "", "`FILE` of the API-key hashing pepper (default: generated in --data-dir/secrets)")
	ef.str(&sf.prices, "prices", "DIFFGATE_PRICES", "", "credit `prices` per reviewer, e.g. builtin=1,anthropic:in=3/1k,anthropic:out=15/1k,openai=flat:20 (default: builtin 1 a review, LLMs 3/1k input and 15/1k output tokens)")
	ef.str(&sf.freeCredits, "free-credits", "DIFFGATE_FREE_CREDITS", "1000", "credits granted to every new account (`N`, 0 for none)")
	ef.str(&sf.lowBalance, "low-balance", "DIFFGATE_LOW_BALANCE", "100", "balance (`N` credits) whose crossing raises a credits.low event")
	ef.str(&sf.stripePacks, "stripe-packs", "DIFFGATE_STRIPE_PACKS", "", "credit `packs` on sale: id=price_id:credits,… e.g. small=price_123:1000 (billing needs DIFFGATE_STRIPE_SECRET_KEY and DIFFGATE_STRIPE_WEBHOOK_SECRET)")
	ef.str(&sf.stripeSuccess, "stripe-success-url", "DIFFGATE_STRIPE_SUCCESS_URL", "", "`URL` Stripe Checkout returns to after paying")
	ef.str(&sf.stripeCancel, "stripe-cancel-url", "DIFFGATE_STRIPE_CANCEL_URL", "", "`URL` Stripe Checkout returns to when the user gives up")
	ef.str(&sf.stripeAPI, "stripe-api-base", "DIFFGATE_STRIPE_API_BASE", "", "Stripe API base `URL` (for stripe-mock; empty: Stripe)")
	ef.boolean(&sf.webhookHTTP, "webhook-allow-http", "DIFFGATE_WEBHOOK_ALLOW_HTTP", false, "accept http:// webhook URLs (development only; private and loopback addresses stay refused)")
	ef.str(&sf.workers, "review-workers", "DIFFGATE_REVIEW_WORKERS", "4", "asynchronous reviews run at once (`N`)")
	ef.str(&sf.authRate, "auth-rate", "DIFFGATE_AUTH_RATE", "5", "login, signup and setup attempts per minute per client IP (`N`)")
	ef.str(&sf.logLevel, "log-level", "DIFFGATE_LOG_LEVEL", "info", "`level` of the JSON logs on stderr: debug, info, warn, error")
	sf.providers.registerProviders(ef)
}

func serveUsage(ef *envFlags) func() {
	return func() {
		w := ef.fs.Output()
		fmt.Fprint(w, `Usage: diffgate serve [flags]

Runs the diffgate API server. With no flags it keeps everything in
./diffgate-data (SQLite) and listens on 127.0.0.1:8080. On a first start with
no account it prints a one-time setup token that creates the owner account.

Flags:
`)
		ef.printDefaults(w)
	}
}

func runServe(ctx context.Context, args []string, env *Env) int {
	var sf serveFlags
	ef := newEnvFlags("serve", env.Getenv, io.Discard)
	sf.register(ef)
	ef.fs.Usage = serveUsage(ef)
	pos, err := parseInterspersed(ef.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		ef.fs.SetOutput(env.Stdout)
		ef.fs.Usage()
		return ExitOK
	}
	if err != nil {
		return fail(env.Stderr, usagef("%v (see diffgate serve -h)", err), ExitUsage)
	}
	if len(ef.errs) > 0 {
		return fail(env.Stderr, ef.errs[0], ExitUsage)
	}
	if len(pos) > 0 {
		return fail(env.Stderr, usagef("serve takes no arguments"), ExitUsage)
	}
	if err := serve(ctx, &sf, env); err != nil {
		code := ExitReviewer
		var ue *usageError
		if errors.As(err, &ue) {
			code = ExitUsage
		}
		return fail(env.Stderr, err, code)
	}
	return ExitOK
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

func serve(ctx context.Context, sf *serveFlags, env *Env) error {
	level, err := parseLevel(sf.logLevel)
	if err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", sf.logLevel)
	}
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level})))
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	rate, err := strconv.Atoi(sf.reviewRate)
	if err != nil || rate < 1 || rate > 100000 {
		return usagef("--review-rate %q: want a whole number of requests per minute", sf.reviewRate)
	}
	cost, err := strconv.Atoi(sf.bcryptCost)
	if err != nil || cost < account.MinBcryptCost || cost > 31 {
		return usagef("--bcrypt-cost %q: want %d to 31", sf.bcryptCost, account.MinBcryptCost)
	}
	reviewers, err := sf.providers.buildReviewers(env.Getenv)
	if err != nil {
		return err
	}
	byName := map[string]review.Reviewer{}
	for _, r := range reviewers {
		byName[r.Name()] = r
	}

	dsn := sf.databaseURL
	if dsn == "" {
		if err := os.MkdirAll(sf.dataDir, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		// An existing directory keeps its mode; the database and secrets
		// inside must not be reachable by other users.
		if fi, err := os.Stat(sf.dataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(sf.dataDir, 0o700); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
		}
		dsn = filepath.Join(sf.dataDir, "diffgate.db")
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	jwtKeys, pepper, err := loadSecrets(sf)
	if err != nil {
		return err
	}
	sealer, err := loadSealKeys(sf)
	if err != nil {
		return err
	}
	authRate, err := strconv.Atoi(sf.authRate)
	if err != nil || authRate < 1 || authRate > 10000 {
		return usagef("--auth-rate %q: want 1 to 10000", sf.authRate)
	}
	nWorkers, err := strconv.Atoi(sf.workers)
	if err != nil || nWorkers < 1 || nWorkers > 64 {
		return usagef("--review-workers %q: want 1 to 64", sf.workers)
	}
	keyHasher, err := apikey.NewHasher(pepper)
	if err != nil {
		return fmt.Errorf("key pepper: %w", err)
	}
	passwords, err := account.NewHasher(cost, 0)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		return usagef("listen on %s: %v", sf.addr, err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	if err := announceSetup(ctx, db, base, env.Stderr); err != nil {
		return err
	}

	var bill *billing.Billing
	if key := env.Getenv("DIFFGATE_STRIPE_SECRET_KEY"); key != "" {
		packs, err := billing.ParsePacks(sf.stripePacks)
		if err != nil {
			return usagef("--stripe-packs: %v", err)
		}
		bill, err = billing.New(billing.Config{SecretKey: key, WebhookSecret: env.Getenv("DIFFGATE_STRIPE_WEBHOOK_SECRET"),
			Packs: packs, SuccessURL: sf.stripeSuccess, CancelURL: sf.stripeCancel, APIBase: sf.stripeAPI})
		if err != nil {
			return usagef("billing: %v", err)
		}
	}

	now := time.Now
	var stopping atomic.Bool
	resultCache := cache.NewMemory(cfg.CacheTTL, 256<<20, now)
	srv := server.New(server.Deps{
		Config:      cfg,
		Store:       db,
		Log:         log,
		Now:         now,
		Passwords:   passwords,
		Tokens:      &account.Issuer{Keyring: jwtKeys, TTL: cfg.AccessTTL, Now: now},
		Guard:       account.NewGuard(account.GuardConfig{PerIPPerMinute: authRate}, now),
		KeyHasher:   keyHasher,
		Limiter:     ratelimit.NewMemory(rate, time.Minute, now),
		Cache:       resultCache,
		Reviewers:   byName,
		Billing:     bill,
		Keyring:     sealer,
		KeyringPath: filepath.Join(sf.dataDir, "secrets", "seal-keys.json"),
		Ready: func(context.Context) error {
			if stopping.Load() {
				return errors.New("shutting down")
			}
			return nil
		},
	})
	hs := httpServer(srv, log, httpTimeouts{header: 5 * time.Second, read: 60 * time.Second, write: cfg.ReviewTimeout + 30*time.Second, idle: 120 * time.Second})

	// Reviews whose server stopped (a crash of this one, or of another
	// replica) are failed once their leases pass: their diffs were never
	// written anywhere, so they cannot resume. Their credits are released
	// and their webhooks sent. RunLeases goes on doing so every few
	// seconds, and renews the leases of this replica's own reviews.
	// A review that cannot be failed is logged, not fatal: the server
	// still starts, and RunLeases tries again.
	if n, err := srv.FailExpired(ctx); err != nil {
		log.Error("fail expired reviews", "failed", n, "error", err)
	} else if n > 0 {
		log.Warn("reviews left unfinished by a stopped server were failed", "count", n)
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	workersCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, 6)
	go func() { srv.Run(bg); done <- struct{}{} }()
	go func() { resultCache.Run(bg); done <- struct{}{} }()
	go func() { srv.RunDispatcher(bg, time.Second); done <- struct{}{} }()
	go func() { srv.RunWorkers(workersCtx, nWorkers); done <- struct{}{} }()
	go func() { srv.RunLeases(bg); done <- struct{}{} }()
	go func() { srv.RunRetention(bg); done <- struct{}{} }()
	defer func() {
		stopWorkers()
		stopBG()
		for range 6 {
			<-done
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("diffgate listening", "addr", ln.Addr().String(), "database", db.Dialect(), "reviewers", strings.Join(keys(byName), ","))
	fmt.Fprintf(env.Stderr, "diffgate: listening on %s\n", base)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Graceful shutdown: stop being ready, stop accepting, let in-flight
	// requests (reviews included) finish.
	stopping.Store(true)
	log.Info("shutting down; draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ReviewTimeout+10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Error("shutdown", "error", err)
	}
	stopWorkers() // running reviews finish; queued ones fail with their credits released
	srv.Drain()
	log.Info("stopped")
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (sf *serveFlags) config() (server.Config, error) {
	var cfg server.Config
	var err error
	if cfg.MaxDiffSize, err = parseSize(sf.maxSize); err != nil {
		return cfg, usagef("--max-diff-size: %v", err)
	}
	if cfg.CacheTTL, err = time.ParseDuration(sf.cacheTTL); err != nil || cfg.CacheTTL <= 0 || cfg.CacheTTL > cache.MaxTTL {
		return cfg, usagef("--cache-ttl %q: want a duration from 1s to 5m (D1)", sf.cacheTTL)
	}
	if cfg.ReviewTimeout, err = time.ParseDuration(sf.reviewTimeout); err != nil || cfg.ReviewTimeout <= 0 {
		return cfg, usagef("--review-timeout %q: want a positive duration", sf.reviewTimeout)
	}
	if cfg.TrustedProxies, err = account.ParseTrustedProxies(sf.trustedProxies); err != nil {
		return cfg, usagef("--trusted-proxies: %v", err)
	}
	if sf.adminEmail != "" {
		if cfg.AdminEmail, err = account.NormalizeEmail(sf.adminEmail); err != nil {
			return cfg, usagef("--admin-email: %v", err)
		}
	}
	if cfg.AccessTTL, err = time.ParseDuration(sf.accessTTL); err != nil || cfg.AccessTTL < time.Minute || cfg.AccessTTL > time.Hour {
		return cfg, usagef("--access-ttl %q: want a duration from 1m to 1h", sf.accessTTL)
	}
	if cfg.RefreshGrace, err = time.ParseDuration(sf.refreshGrace); err != nil || cfg.RefreshGrace < 0 || cfg.RefreshGrace > time.Minute {
		return cfg, usagef("--refresh-grace %q: want a duration from 0s to 1m", sf.refreshGrace)
	}
	if cfg.RefreshGrace == 0 {
		cfg.RefreshGrace = -1 // the server reads zero as "default"
	}
	if cfg.RefreshLifetime, err = time.ParseDuration(sf.refreshLife); err != nil || cfg.RefreshLifetime < time.Hour {
		return cfg, usagef("--refresh-lifetime %q: want a duration of at least 1h", sf.refreshLife)
	}
	if sf.prices != "" {
		p, err := credits.ParsePrices(sf.prices)
		if err != nil {
			return cfg, usagef("--prices: %v", err)
		}
		cfg.Prices = &p
	}
	if cfg.FreeCredits, err = strconv.ParseInt(sf.freeCredits, 10, 64); err != nil || cfg.FreeCredits < 0 {
		return cfg, usagef("--free-credits %q: want a whole number, 0 or more", sf.freeCredits)
	}
	if cfg.LowBalance, err = strconv.ParseInt(sf.lowBalance, 10, 64); err != nil || cfg.LowBalance < 0 {
		return cfg, usagef("--low-balance %q: want a whole number, 0 or more", sf.lowBalance)
	}
	cfg.AllowSignup = sf.allowSignup
	cfg.WebhookAllowHTTP = sf.webhookHTTP
	return cfg, nil
}

// loadSecrets reads the signing keyring and the key pepper, generating
// them on first start in the data directory with mode 0600.
func loadSecrets(sf *serveFlags) (*account.Keyring, []byte, error) {
	dir := filepath.Join(sf.dataDir, "secrets")
	keysFile, pepperFile := sf.jwtKeys, sf.keyPepper
	if keysFile == "" || pepperFile == "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("secrets directory: %w", err)
		}
	}
	if keysFile == "" {
		keysFile = filepath.Join(dir, "jwt-keys.json")
	}
	if pepperFile == "" {
		pepperFile = filepath.Join(dir, "key-pepper")
	}
	kb, err := readOrCreate(keysFile, func() ([]byte, error) {
		k, err := account.GenerateKey()
		if err != nil {
			return nil, err
		}
		kr, err := account.NewKeyring(k)
		if err != nil {
			return nil, err
		}
		return account.MarshalKeyring(kr)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	kr, err := account.ParseKeyring(kb)
	if err != nil {
		return nil, nil, fmt.Errorf("signing keys %s: %w", keysFile, err)
	}
	pb, err := readOrCreate(pepperFile, func() ([]byte, error) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		return []byte(hex.EncodeToString(b[:]) + "\n"), nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("key pepper: %w", err)
	}
	pepper, err := hex.DecodeString(strings.TrimSpace(string(pb)))
	if err != nil || len(pepper) < 32 {
		return nil, nil, fmt.Errorf("key pepper %s: want at least 32 bytes, hex-encoded", pepperFile)
	}
	return kr, pepper, nil
}

// readOrCreate reads path, or creates it with make's content and mode
// 0600 when it does not exist (O_EXCL: two starting servers cannot both
// write it). A secret file readable by others is refused.
func readOrCreate(path string, make func() ([]byte, error)) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%s is readable by other users (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	content, err := make()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return content, f.Close()
}

// announceSetup prints a fresh one-time setup token while the server has
// no owner: the only way to create the owner, never a default password.
func announceSetup(ctx context.Context, db *store.DB, base string, w io.Writer) error {
	ok, err := db.OwnerExists(ctx)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	token, err := server.NewSetupToken()
	if err != nil {
		return err
	}
	if err := db.PutSetting(ctx, server.SetupTokenSetting, server.HashSetupToken(token)); err != nil {
		return fmt.Errorf("store setup token: %w", err)
	}
	fmt.Fprintf(w, "diffgate: no account exists yet. Create the owner account once with:\n"+
		"  diffgate setup --server %s --token %s --email you@example.com\n", base, token)
	return nil
}

type httpTimeouts struct{ header, read, write, idle time.Duration }

// maxHeaderBytes bounds a request's headers; larger ones get 431.
const maxHeaderBytes = 32 << 10

// httpServer sets every timeout, so a slow or stalled client cannot hold a
// connection (and its goroutine) open: headers must arrive within
// header, the body within read, the answer leave within write.
func httpServer(h http.Handler, log *slog.Logger, t httpTimeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.header,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// loadSealKeys reads the keyring that seals server-side secrets (webhook
// secrets, D5), creating it with one key on first start (mode 0600).
func loadSealKeys(sf *serveFlags) (*keyring.Keyring, error) {
	path := filepath.Join(sf.dataDir, "secrets", "seal-keys.json")
	kr, err := keyring.ReadFile(path)
	if err == nil {
		return kr, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("seal keys: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secrets directory: %w", err)
	}
	k, err := keyring.GenerateKey()
	if err != nil {
		return nil, err
	}
	if kr, err = keyring.New(k); err != nil {
		return nil, err
	}
	if err := kr.WriteFile(path); err != nil {
		return nil, fmt.Errorf("seal keys: %w", err)
	}
	return kr, nil
}
