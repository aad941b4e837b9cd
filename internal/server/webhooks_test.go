package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/client"
	"github.com/diffgate/diffgate/internal/keyring"
	"github.com/diffgate/diffgate/internal/server"
	"github.com/diffgate/diffgate/internal/webhook"
)

// receiver is a webhook endpoint that records what it gets.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	got   []delivery
	block chan struct{} // when set, the next request waits on it
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		blk := rc.block
		rc.block = nil
		rc.mu.Unlock()
		if blk != nil {
			<-blk
		}
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{r.Header.Clone(), b})
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// webhookDeps lets the server reach the local receiver: plain http and
// loopback addresses, which production refuses.
func webhookDeps(t *testing.T) (*keyring.Keyring, *http.Client, func(string) error) {
	k, err := keyring.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(k)
	if err != nil {
		t.Fatal(err)
	}
	loopback := func(a netip.Addr) bool { return a.IsLoopback() }
	hc := webhook.NewClient(webhook.Options{AllowHTTP: true, AllowAddr: loopback})
	return kr, hc, func(string) error { return nil }
}

type webhookInfo struct {
	ID     int64    `json:"id"`
	Secret string   `json:"secret"`
	Events []string `json:"events"`
	Paused bool     `json:"paused"`
}

func registerWebhook(t *testing.T, e *env, token, url string, events ...string) webhookInfo {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"url": url, "events": events})
	resp, b := e.raw("POST", "/v1/webhooks", token, "application/json", strings.NewReader(string(body)))
	if resp.StatusCode != 201 {
		t.Fatalf("register webhook: %d %s", resp.StatusCode, b)
	}
	var w webhookInfo
	if err := json.Unmarshal(b, &w); err != nil || !strings.HasPrefix(w.Secret, "whsec_") {
		t.Fatalf("register webhook answered %s", b)
	}
	return w
}

// W1, W2: registration is SSRF-checked; events are written with the change
// that causes them, delivered signed (Standard Webhooks), listed with
// their status; endpoints pause, rotate, test and delete; other users'
// endpoints are invisible.
func TestWebhookLifecycle(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		kr, hc, allow := webhookDeps(t)
		e := start(t, options{pg: pg, keyring: kr, webhookClient: hc, checkURL: allow})
		ctx := context.Background()
		ada, tok := e.user("ada@example.com")
		rc := newReceiver(t)
		wh := registerWebhook(t, e, tok.AccessToken, rc.srv.URL+"/hook", "key.revoked", "credits.low")

		// The production check refuses local and private targets.
		prod := start(t, options{pg: pg, keyring: kr})
		_, ptok := prod.user("ada@example.com")
		// localhost.diffgate-test. does not exist: names that do not resolve are
		// refused too, as are names resolving to loopback (the resolver's own
		// localhost entries).
		for _, u := range []string{"http://127.0.0.1:9/x", "https://127.0.0.1/x", "https://10.0.0.1/x", "https://169.254.169.254/latest", "https://localhost/x", "https://[::1]/x", "ftp://example.com/x",
			"https://ip6-localhost/x", "https://nowhere.diffgate-test.invalid/x", "https://[::ffff:127.0.0.1]/x", "https://2130706433/x"} {
			body, _ := json.Marshal(map[string]any{"url": u, "events": []string{"*"}})
			if resp, b := prod.raw("POST", "/v1/webhooks", ptok.AccessToken, "application/json", strings.NewReader(string(body))); resp.StatusCode != 400 {
				t.Errorf("registering %s: %d %s, want 400", u, resp.StatusCode, b)
			}
		}

		// A revocation writes key.revoked in its own transaction; the
		// dispatcher delivers it signed.
		k, err := ada.CreateKey(ctx, client.NewKey{Name: "doomed"})
		if err != nil {
			t.Fatal(err)
		}
		if err := ada.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if n := e.srv.DispatchOnce(ctx); n != 1 {
			t.Fatalf("DispatchOnce claimed %d deliveries, want 1", n)
		}
		got := rc.deliveries()
		if len(got) != 1 {
			t.Fatalf("receiver got %d deliveries, want 1", len(got))
		}
		if err := webhook.Verify(wh.Secret, got[0].header, got[0].body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("delivery does not verify with the endpoint's secret: %v", err)
		}
		var payload struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(got[0].body, &payload); err != nil || payload.Type != "key.revoked" || payload.Data["key_id"] != k.ID {
			t.Errorf("payload = %s", got[0].body)
		}
		if e.srv.DispatchOnce(ctx) != 0 {
			t.Error("a delivered event was claimed again")
		}
		resp, b := e.raw("GET", "/v1/webhooks/"+itoa(wh.ID)+"/deliveries", tok.AccessToken, "", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"status":200`) {
			t.Errorf("deliveries: %d %s", resp.StatusCode, b)
		}

		// Paused endpoints get nothing; rotation changes the signing secret.
		if resp, b := e.raw("POST", "/v1/webhooks/"+itoa(wh.ID)+"/pause", tok.AccessToken, "", nil); resp.StatusCode != 200 {
			t.Fatalf("pause: %d %s", resp.StatusCode, b)
		}
		k2, _ := ada.CreateKey(ctx, client.NewKey{Name: "doomed2"})
		_ = ada.RevokeKey(ctx, k2.ID)
		e.srv.DispatchOnce(ctx)
		if len(rc.deliveries()) != 1 {
			t.Error("a paused endpoint received a delivery")
		}
		e.raw("POST", "/v1/webhooks/"+itoa(wh.ID)+"/resume", tok.AccessToken, "", nil)
		resp, b = e.raw("POST", "/v1/webhooks/"+itoa(wh.ID)+"/rotate", tok.AccessToken, "", nil)
		var rotated webhookInfo
		if resp.StatusCode != 200 || json.Unmarshal(b, &rotated) != nil || rotated.Secret == "" || rotated.Secret == wh.Secret {
			t.Fatalf("rotate: %d %s", resp.StatusCode, b)
		}
		resp, b = e.raw("POST", "/v1/webhooks/"+itoa(wh.ID)+"/test", tok.AccessToken, "", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"delivered":true`) {
			t.Errorf("test delivery: %d %s", resp.StatusCode, b)
		}
		last := rc.deliveries()[len(rc.deliveries())-1]
		if webhook.Verify(rotated.Secret, last.header, last.body, time.Now(), time.Minute) != nil || webhook.Verify(wh.Secret, last.header, last.body, time.Now(), time.Minute) == nil {
			t.Error("after rotation deliveries must verify with the new secret only")
		}

		// Another user sees nothing of it.
		_, btok := e.user("bob@example.com")
		for _, path := range []string{"/deliveries", ""} {
			if resp, _ := e.raw("GET", "/v1/webhooks/"+itoa(wh.ID)+path, btok.AccessToken, "", nil); resp.StatusCode != 404 && resp.StatusCode != 405 {
				t.Errorf("Bob reading Ada's webhook%s: %d", path, resp.StatusCode)
			}
		}
		if resp, _ := e.raw("DELETE", "/v1/webhooks/"+itoa(wh.ID), btok.AccessToken, "", nil); resp.StatusCode != 404 {
			t.Errorf("Bob deleting Ada's webhook: %d, want 404", resp.StatusCode)
		}
		if resp, _ := e.raw("DELETE", "/v1/webhooks/"+itoa(wh.ID), tok.AccessToken, "", nil); resp.StatusCode != 204 {
			t.Errorf("delete: %d", resp.StatusCode)
		}
		// The secret is sealed at rest: the database holds no whsec_.
		e.flush()
		e.db.Close()
		for _, f := range dbFiles(t, e) {
			if strings.Contains(f, "whsec_") {
				t.Error("a webhook secret is stored in clear")
			}
		}
	})
}

// W1: a dispatcher that dies mid-delivery loses nothing: after the lease
// the event is delivered again with the same webhook-id.
func TestDispatcherCrash(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		kr, hc, allow := webhookDeps(t)
		clock := &fakeClock{t: time.Now()}
		e := start(t, options{pg: pg, keyring: kr, webhookClient: hc, checkURL: allow, now: clock.Now})
		ctx := context.Background()
		ada, tok := e.user("ada@example.com")
		rc := newReceiver(t)
		registerWebhook(t, e, tok.AccessToken, rc.srv.URL+"/hook", "*")
		k, _ := ada.CreateKey(ctx, client.NewKey{Name: "k"})
		if err := ada.RevokeKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		rc.mu.Lock()
		rc.block = release
		rc.mu.Unlock()
		dctx, kill := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { e.srv.DispatchOnce(dctx); close(done) }()
		for {
			rc.mu.Lock()
			waiting := rc.block == nil
			rc.mu.Unlock()
			if waiting {
				break
			}
			time.Sleep(time.Millisecond)
		}
		kill() // the dispatcher dies while the receiver holds the request
		<-done
		close(release)
		if n := e.srv.DispatchOnce(ctx); n != 0 {
			t.Errorf("claimed %d deliveries inside the lease, want 0", n)
		}
		clock.Add(3 * time.Minute) // past the lease
		if n := e.srv.DispatchOnce(ctx); n != 1 {
			t.Fatalf("after the lease DispatchOnce claimed %d, want 1", n)
		}
		ids := map[string]int{}
		for _, d := range rc.deliveries() {
			ids[d.header.Get("webhook-id")]++
		}
		if len(ids) != 1 {
			t.Errorf("webhook-ids %v: one event must keep one id across retries", ids)
		}
		for id, n := range ids {
			if id == "" || n < 1 {
				t.Errorf("event %q arrived %d times", id, n)
			}
		}
	})
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Asynchronous reviews: 202 with an id, run by the worker pool, readable by
// their owner only, findings while cached, review.completed delivered;
// after a restart a queued review fails with its credits released.
func TestAsyncReview(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		kr, hc, allow := webhookDeps(t)
		e := start(t, options{pg: pg, keyring: kr, webhookClient: hc, checkURL: allow, credits: 100, prices: "builtin=4"})
		ctx := context.Background()
		ada, tok := e.user("ada@example.com")
		rc := newReceiver(t)
		registerWebhook(t, e, tok.AccessToken, rc.srv.URL+"/hook", "review.completed", "review.failed")
		wctx, stop := context.WithCancel(ctx)
		var workersDone atomic.Bool
		go func() { e.srv.RunWorkers(wctx, 2); workersDone.Store(true) }()
		defer stop()

		body, _ := json.Marshal(map[string]any{"diff": sampleDiff, "async": true})
		resp, b := e.raw("POST", "/v1/reviews", tok.AccessToken, "application/json", strings.NewReader(string(body)))
		var queued struct{ ID, Status, Location string }
		if resp.StatusCode != 202 || json.Unmarshal(b, &queued) != nil || queued.ID == "" || resp.Header.Get("Location") != "/v1/reviews/"+queued.ID {
			t.Fatalf("async review: %d %s", resp.StatusCode, b)
		}
		var st struct {
			Status   string          `json:"status"`
			Findings int             `json:"findings_count"`
			Charged  int64           `json:"credits_charged"`
			Result   json.RawMessage `json:"result"`
		}
		for i := 0; ; i++ {
			_, b = e.raw("GET", "/v1/reviews/"+queued.ID, tok.AccessToken, "", nil)
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			if st.Status == "done" || st.Status == "failed" || i > 2000 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if st.Status != "done" || st.Findings == 0 || st.Charged != 4 || !strings.Contains(string(st.Result), "DG-CMD-PY-SHELL") {
			t.Fatalf("finished review = %+v %s", st, st.Result)
		}
		_, btok := e.user("bob@example.com")
		if resp, _ := e.raw("GET", "/v1/reviews/"+queued.ID, btok.AccessToken, "", nil); resp.StatusCode != 404 {
			t.Errorf("Bob reading Ada's review: %d, want 404", resp.StatusCode)
		}
		e.srv.DispatchOnce(ctx)
		got := rc.deliveries()
		if len(got) != 1 || !strings.Contains(string(got[0].body), `"review.completed"`) || !strings.Contains(string(got[0].body), "DG-CMD-PY-SHELL") {
			t.Fatalf("review.completed delivery = %d deliveries %v", len(got), got)
		}
		if strings.Contains(string(got[0].body), "rm -rf") {
			t.Error("the webhook carries the diff's code")
		}
		if cr, _ := ada.Credits(ctx); cr.Balance != 96 {
			t.Errorf("balance %d, want 96", cr.Balance)
		}

		// A review queued when the server stops is failed at the next start.
		stop()
		for !workersDone.Load() {
			time.Sleep(time.Millisecond)
		}
		resp, b = e.raw("POST", "/v1/reviews?async=true", tok.AccessToken, "text/x-diff", strings.NewReader(sampleDiff))
		if resp.StatusCode != 202 {
			t.Fatalf("queue with no workers: %d %s", resp.StatusCode, b)
		}
		_ = json.Unmarshal(b, &queued)
		if cr, _ := ada.Credits(ctx); cr.Balance != 92 {
			t.Errorf("balance with a queued review %d, want 92 (reserved)", cr.Balance)
		}
		// The next start is a new replica: it leaves the review alone while
		// the stopped one's lease runs, and fails it once the lease passes.
		later := func() time.Time { return time.Now().Add(server.DefaultReviewLease + time.Second) }
		next := newServer(t, e.db, e.logs, options{pg: pg, now: later, keyring: kr, webhookClient: hc, checkURL: allow})
		n, err := next.FailExpired(ctx)
		if err != nil || n != 1 {
			t.Fatalf("FailExpired = %d, %v; want 1", n, err)
		}
		_, b = e.raw("GET", "/v1/reviews/"+queued.ID, tok.AccessToken, "", nil)
		if !strings.Contains(string(b), `"status":"failed"`) || !strings.Contains(string(b), "restarted") {
			t.Errorf("review after restart: %s", b)
		}
		if cr, _ := ada.Credits(ctx); cr.Balance != 96 {
			t.Errorf("balance after the failed review %d, want 96 (released)", cr.Balance)
		}
		next.DispatchOnce(ctx)
		got = rc.deliveries()
		if len(got) != 2 || !strings.Contains(string(got[1].body), `"review.failed"`) {
			t.Errorf("review.failed was not delivered: %d deliveries", len(got))
		}
	})
}

// D5: rotating the seal key re-encrypts every webhook secret under the new
// key; after the old key is retired the secrets still open and sign.
func TestSealKeyRotation(t *testing.T) {
	kr, hc, allow := webhookDeps(t)
	e := start(t, options{keyring: kr, webhookClient: hc, checkURL: allow})
	_, tok := e.user("ada@example.com")
	rc := newReceiver(t)
	wh := registerWebhook(t, e, tok.AccessToken, rc.srv.URL+"/hook", "*")
	ctx := context.Background()
	k2, err := keyring.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	next, err := kr.Rotate(k2)
	if err != nil {
		t.Fatal(err)
	}
	n, err := server.ResealSecrets(ctx, e.db, next)
	if err != nil || n != 1 {
		t.Fatalf("ResealSecrets = %d, %v; want 1", n, err)
	}
	if n, _ := server.ResealSecrets(ctx, e.db, next); n != 0 {
		t.Errorf("a second rotation pass rewrote %d secrets, want 0", n)
	}
	onlyNew, err := keyring.New(k2)
	if err != nil {
		t.Fatal(err)
	}
	eps, err := e.db.WebhookSecrets(ctx)
	if err != nil || len(eps) != 1 {
		t.Fatal(err)
	}
	if onlyNew.NeedsRotation(eps[0].SecretSealed) {
		t.Fatal("the secret is still sealed under the old key")
	}
	// Holding only the new key, the secret still opens to the original.
	secret, err := onlyNew.Open(eps[0].SecretSealed, []byte(fmt.Sprintf("webhook-secret:%d:%s", eps[0].UserID, eps[0].URL)))
	if err != nil || string(secret) != wh.Secret {
		t.Errorf("after rotation the secret opens to %q, %v; want the original", secret, err)
	}
}

// L2: an asynchronous review retried with the same Idempotency-Key is
// queued and charged once; both answers name the same review.
func TestAsyncIdempotency(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		e := start(t, options{pg: pg, credits: 100, prices: "builtin=5"})
		ada, tok := e.user("ada@example.com")
		post := func() (int, string) {
			req, _ := http.NewRequest("POST", e.url+"/v1/reviews?async=true", strings.NewReader(sampleDiff))
			req.Header.Set("Content-Type", "text/x-diff")
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Idempotency-Key", "async-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b struct{ ID string }
			_ = json.NewDecoder(resp.Body).Decode(&b)
			return resp.StatusCode, b.ID
		}
		c1, id1 := post()
		c2, id2 := post()
		if c1 != 202 || c2 != 202 || id1 == "" || id1 != id2 {
			t.Errorf("two posts with one key: %d %q and %d %q; want the same 202", c1, id1, c2, id2)
		}
		if cr, _ := ada.Credits(context.Background()); cr.Balance != 95 {
			t.Errorf("balance %d, want one reservation of 5", cr.Balance)
		}
	})
}

// D5: a rotation done by another process (diffgate rotate-seal-key) while
// the server runs is picked up from the key file: secrets resealed under
// the new key keep opening, with the old key retired.
func TestSealKeyRotationWhileRunning(t *testing.T) {
	kr, hc, allow := webhookDeps(t)
	path := filepath.Join(t.TempDir(), "seal-keys.json")
	if err := kr.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	e := start(t, options{keyring: kr, keyringPath: path, webhookClient: hc, checkURL: allow})
	_, tok := e.user("ada@example.com")
	rc := newReceiver(t)
	wh := registerWebhook(t, e, tok.AccessToken, rc.srv.URL+"/hook", "*")
	k2, _ := keyring.GenerateKey()
	next, _ := kr.Rotate(k2)
	if _, err := server.ResealSecrets(context.Background(), e.db, next); err != nil {
		t.Fatal(err)
	}
	only, _ := keyring.New(k2)
	if err := only.WriteFile(path); err != nil { // rotated and retired
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	resp, b := e.raw("POST", "/v1/webhooks/"+itoa(wh.ID)+"/test", tok.AccessToken, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"delivered":true`) {
		t.Fatalf("test delivery after an outside rotation: %d %s", resp.StatusCode, b)
	}
	last := rc.deliveries()[len(rc.deliveries())-1]
	if err := webhook.Verify(wh.Secret, last.header, last.body, time.Now(), time.Minute); err != nil {
		t.Errorf("the delivery does not verify with the endpoint's secret: %v", err)
	}
}
