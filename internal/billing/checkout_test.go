package billing

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// stripeMockBinary finds stripe-mock on PATH or where go install puts it.
func stripeMockBinary() string {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if d, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "stripe-mock")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// startStripeMock runs a real stripe-mock on free loopback ports for the
// test and returns its HTTP base URL. stripe-mock validates every request
// against Stripe's OpenAPI spec, so a request it accepts is one Stripe
// would accept in shape.
func startStripeMock(t *testing.T) string {
	t.Helper()
	bin := stripeMockBinary()
	if bin == "" {
		const how = "stripe-mock not found; install it with `go install github.com/stripe/stripe-mock@latest`"
		if os.Getenv("DIFFGATE_TEST_STRIPE_MOCK") == "required" {
			t.Fatal(how + " (DIFFGATE_TEST_STRIPE_MOCK=required)")
		}
		t.Skip(how + ", or set DIFFGATE_TEST_STRIPE_MOCK=required to fail instead of skipping")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Port 0 for both listeners: stripe-mock reports the ports it got.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	w.Close()
	addr := make(chan string, 1)
	done := make(chan struct{})
	var output strings.Builder // for the failure message only
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			if output.Len() < 4096 {
				output.WriteString(line + "\n")
			}
			if a, ok := strings.CutPrefix(line, "Listening for HTTP at address: "); ok {
				select {
				case addr <- strings.TrimSpace(a):
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-done
		r.Close()
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-done:
		t.Fatalf("stripe-mock exited before listening:\n%s", output.String())
	case <-time.After(30 * time.Second):
		t.Fatal("stripe-mock did not report its address within 30s")
	}
	return ""
}

type recordedRequest struct {
	method, path string
	header       http.Header
	form         url.Values
}

// recorder keeps the requests sent to stripe-mock, so a test can check
// what diffgate asked Stripe for; tamper, when set, edits the form before
// it is sent.
type recorder struct {
	next   http.RoundTripper
	tamper func(url.Values)
	mu     sync.Mutex
	reqs   []recordedRequest
}

func (rc *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, recordedRequest{req.Method, req.URL.Path, req.Header.Clone(), form})
	rc.mu.Unlock()
	if rc.tamper != nil {
		rc.tamper(form)
		body = []byte(form.Encode())
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	return rc.next.RoundTrip(out)
}

func (rc *recorder) requests() []recordedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recordedRequest(nil), rc.reqs...)
}

// L3: a checkout session for a pack is created in Stripe, and diffgate
// sends only what Stripe needs: no card data ever passes through it.
func TestCreateCheckoutStripeMock(t *testing.T) {
	base := startStripeMock(t)
	rec := &recorder{next: http.DefaultTransport}
	b := testBilling(t, func(c *Config) {
		c.APIBase = base
		c.HTTPClient = &http.Client{Transport: rec, Timeout: 30 * time.Second}
	})
	ctx := t.Context()

	checkoutURL, sessionID, err := b.CreateCheckout(ctx, 42, "dev@example.com", "large", "key-1")
	if err != nil {
		t.Fatalf("CreateCheckout(42, large) error: %v", err)
	}
	if !strings.HasPrefix(sessionID, "cs_") {
		t.Errorf("CreateCheckout session id = %q, want cs_…", sessionID)
	}
	if u, err := url.Parse(checkoutURL); err != nil || u.Scheme != "https" || u.Host == "" {
		t.Errorf("CreateCheckout url = %q, want an absolute https URL", checkoutURL)
	}

	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("CreateCheckout sent %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.method != http.MethodPost || got.path != "/v1/checkout/sessions" {
		t.Errorf("CreateCheckout request = %s %s, want POST /v1/checkout/sessions", got.method, got.path)
	}
	want := map[string]string{
		"mode":                                   "payment",
		"line_items[0][price]":                   "price_large",
		"line_items[0][quantity]":                "1",
		"client_reference_id":                    "42",
		"customer_email":                         "dev@example.com",
		"metadata[user_id]":                      "42",
		"metadata[pack_id]":                      "large",
		"metadata[credits]":                      "12000",
		"payment_intent_data[metadata][user_id]": "42",
		"payment_intent_data[metadata][pack_id]": "large",
		"payment_intent_data[metadata][credits]": "12000",
		"success_url":                            "https://diffgate.example/billing/done?session={CHECKOUT_SESSION_ID}",
		"cancel_url":                             "https://diffgate.example/billing",
	}
	for k, v := range want {
		if g := got.form.Get(k); g != v {
			t.Errorf("CreateCheckout sent %s = %q, want %q", k, g, v)
		}
	}
	if len(got.form) != len(want) {
		t.Errorf("CreateCheckout sent %d parameters (%v), want exactly %d", len(got.form), got.form, len(want))
	}
	if k := got.header.Get("Idempotency-Key"); k != stripeIdempotencyKey(42, "large", "key-1") {
		t.Errorf("Idempotency-Key = %q, want %q", k, stripeIdempotencyKey(42, "large", "key-1"))
	}
	if a := got.header.Get("Authorization"); a != "Bearer sk_test_123" {
		t.Errorf("Authorization = %q, want the secret key as a bearer token", a)
	}

	t.Run("no email, no cancel URL", func(t *testing.T) {
		rec := &recorder{next: http.DefaultTransport}
		b := testBilling(t, func(c *Config) {
			c.APIBase, c.CancelURL = base, ""
			c.HTTPClient = &http.Client{Transport: rec}
		})
		if _, _, err := b.CreateCheckout(ctx, 7, "  ", "small", ""); err != nil {
			t.Fatalf("CreateCheckout(7, small) error: %v", err)
		}
		r := rec.requests()[0]
		for _, k := range []string{"customer_email", "cancel_url"} {
			if r.form.Has(k) {
				t.Errorf("CreateCheckout sent %s = %q, want it left out", k, r.form.Get(k))
			}
		}
		if r.form.Get("line_items[0][price]") != "price_small" || r.form.Get("metadata[credits]") != "1000" {
			t.Errorf("CreateCheckout(small) sent price %q credits %q, want price_small 1000", r.form.Get("line_items[0][price]"), r.form.Get("metadata[credits]"))
		}
	})

	t.Run("unknown pack", func(t *testing.T) {
		before := len(rec.requests())
		_, _, err := b.CreateCheckout(ctx, 42, "", "huge", "key-2")
		if apperr.KindOf(err) != apperr.Invalid {
			t.Fatalf("CreateCheckout(huge) error = %v, want Invalid", err)
		}
		if msg := apperr.PublicMessage(err); !strings.Contains(msg, "small, large") {
			t.Errorf("CreateCheckout(huge) message = %q, want the packs on offer", msg)
		}
		if n := len(rec.requests()); n != before {
			t.Errorf("CreateCheckout(huge) sent %d requests to Stripe, want none", n-before)
		}
	})

	t.Run("no user", func(t *testing.T) {
		if _, _, err := b.CreateCheckout(ctx, 0, "", "small", ""); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("CreateCheckout(user 0) error = %v, want Invalid", err)
		}
	})

	// stripe-mock checks parameters against Stripe's spec: a request with
	// a parameter Stripe does not know is refused, which is why the
	// accepted request above proves its shape.
	t.Run("stripe refuses a wrong parameter", func(t *testing.T) {
		rec := &recorder{next: http.DefaultTransport, tamper: func(f url.Values) { f.Set("line_items[0][quantity]", "one") }}
		b := testBilling(t, func(c *Config) {
			c.APIBase = base
			c.HTTPClient = &http.Client{Transport: rec}
		})
		_, _, err := b.CreateCheckout(ctx, 42, "", "small", "key-3")
		if err == nil {
			t.Fatal("CreateCheckout with a tampered quantity succeeded, want stripe-mock to refuse it")
		}
		if k := apperr.KindOf(err); k != apperr.Internal {
			t.Errorf("CreateCheckout refused by Stripe: kind %v, want %v", k, apperr.Internal)
		}
		if msg := apperr.PublicMessage(err); strings.Contains(msg, "validation") || strings.Contains(msg, "quantity") {
			t.Errorf("CreateCheckout refused by Stripe: public message %q leaks Stripe's detail", msg)
		}
	})
}

// roundTripFunc answers requests without a network, for the one thing
// stripe-mock cannot do: fail.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// An outage at Stripe is Unavailable, so the user is told to try again.
func TestCreateCheckoutStripeDown(t *testing.T) {
	calls := 0
	b := testBilling(t, func(c *Config) {
		c.APIBase = "http://stripe.invalid"
		c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			body := `{"error":{"type":"api_error","message":"An unknown error occurred"}}`
			return &http.Response{
				StatusCode: http.StatusServiceUnavailable,
				// Tells stripe-go not to retry, so the test does not wait.
				Header:  http.Header{"Content-Type": {"application/json"}, "Stripe-Should-Retry": {"false"}},
				Body:    io.NopCloser(strings.NewReader(body)),
				Request: r,
			}, nil
		})}
	})
	_, _, err := b.CreateCheckout(context.Background(), 42, "", "small", "k")
	if apperr.KindOf(err) != apperr.Unavailable {
		t.Errorf("CreateCheckout against a failing Stripe: error %v, want Unavailable", err)
	}
	if calls != 1 {
		t.Errorf("CreateCheckout made %d calls, want 1", calls)
	}
}
