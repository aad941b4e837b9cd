// Command loadtest measures diffgate's overhead as a gateway. It starts, in
// one process, a zero-latency fake LLM provider (OpenAI-compatible wire
// format), a diffgate server on SQLite whose only reviewer is that provider,
// and a bare httputil.ReverseProxy to the same fake. It drives both with
// many users holding distinct API keys, first at a fixed request rate
// (open loop: latency percentiles), then flat out (closed loop:
// throughput), and prints both side by side with their ratio.
//
//	go run ./bench/loadtest -rate 1000 -duration 10s -users 100
package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diffgate/diffgate/internal/account"
	"github.com/diffgate/diffgate/internal/apikey"
	"github.com/diffgate/diffgate/internal/cache"
	"github.com/diffgate/diffgate/internal/ratelimit"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/review/llm"
	"github.com/diffgate/diffgate/internal/server"
	"github.com/diffgate/diffgate/internal/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run() error {
	rate := flag.Int("rate", 1000, "requests per second in the fixed-rate phase")
	duration := flag.Duration("duration", 10*time.Second, "length of each phase")
	users := flag.Int("users", 100, "distinct users, each with its own API key")
	conc := flag.Int("concurrency", 64, "workers in the flat-out phase")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of diffgate's flat-out phase to `file`")
	database := flag.String("database", "", "a PostgreSQL URL to run on, in a fresh schema dropped afterwards (default: SQLite in a temporary directory)")
	tracefile := flag.String("trace", "", "write an execution trace of diffgate's flat-out phase to `file`")
	flag.Parse()
	if *rate < 1 || *users < 1 || *conc < 1 || *duration <= 0 {
		return fmt.Errorf("-rate, -users, -concurrency and -duration must be positive")
	}
	ctx := context.Background()

	fake, err := listen(http.HandlerFunc(fakeProvider))
	if err != nil {
		return err
	}
	defer fake.close()

	dir, err := os.MkdirTemp("", "diffgate-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dsn := filepath.Join(dir, "diffgate.db")
	if *database != "" {
		var drop func()
		if dsn, drop, err = freshSchema(ctx, *database); err != nil {
			return err
		}
		defer drop()
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	kh, err := apikey.NewHasher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		return err
	}
	keys, err := makeUsers(ctx, db, kh, *users)
	if err != nil {
		return err
	}
	rv, err := llm.New(llm.Config{Provider: "openai-compatible", BaseURL: fake.url + "/v1", Model: "fake"})
	if err != nil {
		return err
	}
	key, err := account.GenerateKey()
	if err != nil {
		return err
	}
	kr, err := account.NewKeyring(key)
	if err != nil {
		return err
	}
	srv := server.New(server.Deps{
		Config: server.Config{},
		Store:  db, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now,
		Passwords: account.NewTestHasher(2),
		Tokens:    &account.Issuer{Keyring: kr},
		Guard:     account.NewGuard(account.GuardConfig{}, time.Now),
		KeyHasher: kh,
		// The limit is raised so the harness measures the path, not the 429s.
		Limiter:   ratelimit.NewMemory(1_000_000, time.Minute, time.Now),
		Cache:     cache.NewMemory(5*time.Minute, 256<<20, time.Now),
		Reviewers: map[string]review.Reviewer{"openai-compatible": rv},
	})
	bg, stop := context.WithCancel(ctx)
	defer stop()
	go srv.Run(bg)
	dg, err := listen(srv)
	if err != nil {
		return err
	}
	defer dg.close()
	target, _ := url.Parse(fake.url)
	rp := httputil.NewSingleHostReverseProxy(target)
	// The same connection reuse as diffgate's provider client, so the
	// comparison is of the gateways, not of their connection pools.
	pt := http.DefaultTransport.(*http.Transport).Clone()
	pt.MaxIdleConnsPerHost = 64
	rp.Transport = pt
	proxy, err := listen(rp)
	if err != nil {
		return err
	}
	defer proxy.close()

	tr := &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var seq atomic.Int64
	// Every request carries a distinct diff, so the cache never answers:
	// the full path (auth, limit, parse, review, log) is measured.
	diffgateReq := func(i int) (*http.Request, error) {
		n := seq.Add(1)
		body := fmt.Sprintf("diff --git a/f.go b/f.go\n--- a/f.go\n+++ b/f.go\n@@ -1,1 +1,2 @@\n package f\n+var x = %d\n", n)
		req, err := http.NewRequest("POST", dg.url+"/v1/reviews?reviewers=openai-compatible", bytes.NewReader([]byte(body)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "text/x-diff")
		req.Header.Set("Authorization", "Bearer "+keys[i%len(keys)])
		return req, nil
	}
	proxyReq := func(int) (*http.Request, error) {
		n := seq.Add(1)
		body := fmt.Sprintf(`{"model":"fake","messages":[{"role":"user","content":"%d"}]}`, n)
		req, err := http.NewRequest("POST", proxy.url+"/v1/chat/completions", bytes.NewReader([]byte(body)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}

	fmt.Printf("loadtest: %d users, fixed rate %d/s and flat out with %d workers, %s each\n\n", *users, *rate, *conc, *duration)
	// Warm both paths (connections, page cache, JIT-free but allocator warm).
	for i, mk := range []func(int) (*http.Request, error){diffgateReq, proxyReq} {
		st, err := closedLoop(hc, mk, *conc, time.Second)
		if err != nil {
			return err
		}
		if st.errors > 0 {
			return fmt.Errorf("warm-up: %d of %d requests to %s failed; the measurement would be meaningless", st.errors, st.n, []string{"diffgate", "the proxy"}[i])
		}
	}
	var results [2][2]stats
	for i, mk := range []func(int) (*http.Request, error){diffgateReq, proxyReq} {
		if results[i][0], err = openLoop(hc, mk, *rate, *duration); err != nil {
			return err
		}
		stopProfile := func() {}
		if i == 0 && *cpuprofile != "" {
			if stopProfile, err = startProfile(*cpuprofile, false); err != nil {
				return err
			}
		}
		stopTrace := func() {}
		if i == 0 && *tracefile != "" {
			if stopTrace, err = startProfile(*tracefile, true); err != nil {
				return err
			}
		}
		results[i][1], err = closedLoop(hc, mk, *conc, *duration)
		stopProfile()
		stopTrace()
		if err != nil {
			return err
		}
	}
	fmt.Printf("%-28s %12s %12s %10s %10s %10s %8s\n", "", "throughput", "sent", "p50", "p99", "max", "errors")
	names := []string{"diffgate", "bare reverse proxy"}
	for i, name := range names {
		for j, phase := range []string{fmt.Sprintf("fixed %d/s", *rate), "flat out"} {
			s := results[i][j]
			fmt.Printf("%-28s %10.0f/s %12d %10s %10s %10s %8d\n", name+", "+phase, s.throughput, s.n, round(s.p50), round(s.p99), round(s.max), s.errors)
		}
	}
	d, p := results[0], results[1]
	fmt.Printf("\nat %d/s: p50 overhead %s, p99 overhead %s\n", *rate, round(d[0].p50-p[0].p50), round(d[0].p99-p[0].p99))
	fmt.Printf("flat out: diffgate reaches %.2f of the bare proxy's throughput\n", d[1].throughput/p[1].throughput)
	return nil
}

type endpoint struct {
	url   string
	srv   *http.Server
	close func()
}

// freshSchema creates a schema of its own in the PostgreSQL database at
// base and returns a URL that uses it, and a function that drops it.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("dg_loadtest_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		_, _ = admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		admin.Close()
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// startProfile starts a CPU profile, or an execution trace, into path; the
// function it returns stops it.
func startProfile(path string, execTrace bool) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	start, stop := pprof.StartCPUProfile, pprof.StopCPUProfile
	if execTrace {
		start, stop = trace.Start, trace.Stop
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		stop()
		f.Close()
	}, nil
}

func listen(h http.Handler) (*endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.Serve(ln) }()
	return &endpoint{url: "http://" + ln.Addr().String(), srv: s, close: func() { _ = s.Close() }}, nil
}

// fakeProvider answers every chat completion at once with no findings, in
// the OpenAI Chat Completions format.
func fakeProvider(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"fake","choices":[{"index":0,"message":{"role":"assistant","content":"{\"findings\":[]}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105}}`)
}

func makeUsers(ctx context.Context, db *store.DB, kh *apikey.Hasher, n int) ([]string, error) {
	now := time.Now().UTC()
	keys := make([]string, 0, n)
	for i := range n {
		u, err := db.CreateUser(ctx, store.User{Email: fmt.Sprintf("user%d@example.com", i), PasswordHash: "x", Role: store.RoleUser, CreatedAt: now, PasswordChangedAt: now})
		if err != nil {
			return nil, err
		}
		k, err := apikey.Generate(false)
		if err != nil {
			return nil, err
		}
		if err := db.CreateAPIKey(ctx, store.APIKey{ID: k.ID, UserID: u.ID, Name: "load", Hash: kh.Hash(k.Plaintext), Scopes: apikey.DefaultScopes(), CreatedAt: now}); err != nil {
			return nil, err
		}
		// Enough credits that the harness measures reviews, not 402s.
		if _, err := db.Credit(ctx, u.ID, 1_000_000_000, store.LedgerGrant, "load test", now); err != nil {
			return nil, err
		}
		keys = append(keys, k.Plaintext)
	}
	return keys, nil
}

type stats struct {
	n, errors     int
	throughput    float64
	p50, p99, max time.Duration
}

func summarise(lat []time.Duration, errors int, elapsed time.Duration) stats {
	slices.Sort(lat)
	s := stats{n: len(lat), errors: errors, throughput: float64(len(lat)-errors) / elapsed.Seconds()}
	if len(lat) > 0 {
		s.p50 = lat[len(lat)*50/100]
		s.p99 = lat[min(len(lat)*99/100, len(lat)-1)]
		s.max = lat[len(lat)-1]
	}
	return s
}

func do(hc *http.Client, req *http.Request) bool {
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// openLoop sends at a fixed rate whatever the answers do, so slow answers
// show as latency instead of lowering the load (no coordinated omission:
// latency is measured from each request's scheduled time).
func openLoop(hc *http.Client, mk func(int) (*http.Request, error), rate int, d time.Duration) (stats, error) {
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, total)
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		req, err := mk(i)
		if err != nil {
			return stats{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !do(hc, req) {
				errs.Add(1)
			}
			lat[i] = time.Since(at)
		}()
	}
	wg.Wait()
	return summarise(lat, int(errs.Load()), time.Since(start)), nil
}

// closedLoop runs workers back to back for d: the most the path can carry.
func closedLoop(hc *http.Client, mk func(int) (*http.Request, error), workers int, d time.Duration) (stats, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var firstErr error
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := w; time.Now().Before(deadline); i += workers {
				req, err := mk(i)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				t := time.Now()
				if !do(hc, req) {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return summarise(lat, int(errs.Load()), time.Since(start)), firstErr
}

func round(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + round(-d)
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}
