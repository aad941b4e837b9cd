package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/client"
	"github.com/diffgate/diffgate/internal/review"
	"github.com/diffgate/diffgate/internal/server"
	"github.com/diffgate/diffgate/internal/store"
)

// S2, L2: replicas share one database and each holds its own reviews'
// diffs. Another replica's start or sweep leaves a review alone while its
// owner renews the lease; once the owner stops renewing and the lease
// passes, any replica fails it with its credits released, and the owner
// coming back late cannot charge for it.
func TestReviewLeasesAcrossReplicas(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		clock := &fakeClock{t: time.Now().UTC()}
		started, release := make(chan struct{}), make(chan struct{})
		e := start(t, options{pg: pg, now: clock.Now, credits: 100, prices: "builtin=10",
			reviewers: map[string]review.Reviewer{"builtin": blockingReviewer{started, release}}})
		ctx := context.Background()
		ada, tok := e.user("ada@example.com")
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		var workersDone atomic.Bool
		go func() { e.srv.RunWorkers(wctx, 1); workersDone.Store(true) }()

		resp, b := e.raw("POST", "/v1/reviews?async=true", tok.AccessToken, "text/x-diff", strings.NewReader(sampleDiff))
		if resp.StatusCode != 202 {
			t.Fatalf("async review: %d %s", resp.StatusCode, b)
		}
		var queued struct{ ID string }
		_ = json.Unmarshal(b, &queued)
		<-started
		balance := func() int64 {
			t.Helper()
			cr, err := ada.Credits(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return cr.Balance
		}
		if cr, err := ada.Credits(ctx); err != nil || cr.Balance != 90 || cr.Held != 10 {
			t.Fatalf("credits while running = %+v, %v; want balance 90, held 10", cr, err)
		}

		other := newServer(t, e.db, e.logs, options{pg: pg, now: clock.Now})
		if other.Instance() == e.srv.Instance() {
			t.Fatal("two replicas share an instance id")
		}
		status := func() store.Review {
			t.Helper()
			r, err := e.db.ReviewByID(ctx, mustUserID(t, e, "ada@example.com"), queued.ID)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		if r := status(); r.Owner != e.srv.Instance() || r.Status != store.ReviewRunning {
			t.Fatalf("review = %+v, want running and owned by the first replica", r)
		}
		// The other replica starts (and sweeps) while the owner is alive.
		for range 3 {
			if n, err := other.FailExpired(ctx); err != nil || n != 0 {
				t.Fatalf("FailExpired with a live owner = %d, %v; want 0", n, err)
			}
			clock.Add(server.DefaultReviewLease * 2 / 3)
			if err := e.srv.RenewLeases(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if r := status(); r.Status != store.ReviewRunning {
			t.Fatalf("review after %s of renewals = %s, want running", 2*server.DefaultReviewLease, r.Status)
		}

		// The owner stops renewing (a crash, a lost database): once its
		// lease passes, the other replica fails the review.
		clock.Add(server.DefaultReviewLease + time.Second)
		if n, err := other.FailExpired(ctx); err != nil || n != 1 {
			t.Fatalf("FailExpired after the lease = %d, %v; want 1", n, err)
		}
		if r := status(); r.Status != store.ReviewFailed || !strings.Contains(r.Error, "stopped") {
			t.Errorf("review = %+v, want failed because its server stopped", r)
		}
		if got := balance(); got != 100 {
			t.Errorf("balance after the failure %d, want 100 (released)", got)
		}

		// The owner's reviewer finishes late: the review stays failed and
		// nothing is charged.
		close(release)
		stop()
		for !workersDone.Load() {
			time.Sleep(time.Millisecond)
		}
		if r := status(); r.Status != store.ReviewFailed || r.Charged != 0 {
			t.Errorf("review after the late finish = %+v, want failed, charged 0", r)
		}
		if cr, err := ada.Credits(ctx); err != nil || cr.Balance != 100 || cr.Held != 0 {
			t.Errorf("credits after the late finish = %+v, %v; want balance 100, held 0", cr, err)
		}
	})
}

// S2: RunLeases itself renews the replica's leases while it runs, on the
// real clock, and stops with its context; after that the lease passes.
func TestRunLeasesRenews(t *testing.T) {
	const lease = 1500 * time.Millisecond
	started, release := make(chan struct{}), make(chan struct{})
	e := start(t, options{reviewLease: lease, reviewers: map[string]review.Reviewer{"builtin": blockingReviewer{started, release}}})
	ctx := context.Background()
	_, tok := e.user("ada@example.com")
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	go e.srv.RunWorkers(wctx, 1)
	lctx, stopLeases := context.WithCancel(ctx)
	leasesDone := make(chan struct{})
	go func() { e.srv.RunLeases(lctx); close(leasesDone) }()
	defer close(release)

	resp, b := e.raw("POST", "/v1/reviews?async=true", tok.AccessToken, "text/x-diff", strings.NewReader(sampleDiff))
	if resp.StatusCode != 202 {
		t.Fatalf("async review: %d %s", resp.StatusCode, b)
	}
	var queued struct{ ID string }
	_ = json.Unmarshal(b, &queued)
	<-started
	uid := mustUserID(t, e, "ada@example.com")
	first, err := e.db.ReviewByID(ctx, uid, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Wait for a renewal to move the lease forward.
	for {
		r, err := e.db.ReviewByID(ctx, uid, queued.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.LeaseUntil.After(first.LeaseUntil) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopLeases()
	<-leasesDone
	last, err := e.db.ReviewByID(ctx, uid, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	other := newServer(t, e.db, e.logs, options{reviewLease: lease})
	for time.Now().Before(last.LeaseUntil.Add(10 * time.Millisecond)) {
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := other.FailExpired(ctx); err != nil || n != 1 {
		t.Errorf("FailExpired once the renewals stopped = %d, %v; want 1", n, err)
	}
}

func mustUserID(t *testing.T, e *env, email string) int64 {
	t.Helper()
	u, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// O2: the server's purge applies the retention policy: 31 days on, a
// finished review's metadata and its request log are gone, the ledger's
// charge stays.
func TestPurgeRetention(t *testing.T) {
	e := start(t, options{credits: 100, prices: "builtin=3"})
	ctx := context.Background()
	ada, tok := e.user("ada@example.com")
	body, _ := json.Marshal(map[string]any{"diff": sampleDiff, "async": true})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go e.srv.RunWorkers(wctx, 1)
	resp, b := e.raw("POST", "/v1/reviews", tok.AccessToken, "application/json", strings.NewReader(string(body)))
	if resp.StatusCode != 202 {
		t.Fatalf("async review: %d %s", resp.StatusCode, b)
	}
	var queued struct{ ID string }
	_ = json.Unmarshal(b, &queued)
	for {
		_, b = e.raw("GET", "/v1/reviews/"+queued.ID, tok.AccessToken, "", nil)
		if strings.Contains(string(b), `"status":"done"`) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.flush() // the request log is written
	later := newServer(t, e.db, e.logs, options{now: func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }})
	if err := later.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ReviewByID(ctx, mustUserID(t, e, "ada@example.com"), queued.ID); err == nil {
		t.Error("the review's metadata outlived its retention")
	}
	if logs, err := e.db.ListRequestLogs(ctx, mustUserID(t, e, "ada@example.com"), 100); err != nil || len(logs) != 0 {
		t.Errorf("request logs after the purge = %d, %v; want none", len(logs), err)
	}
	entries, err := e.db.Ledger(ctx, mustUserID(t, e, "ada@example.com"), 10)
	if err != nil || len(entries) == 0 || entries[0].Kind != store.LedgerCharge || entries[0].Reference != queued.ID {
		t.Errorf("ledger after the purge = %+v, %v; want the review's charge kept", entries, err)
	}
	// The session expired 30 days after login, a day before: it is gone.
	if _, err := ada.Credits(ctx); err == nil {
		t.Error("a session 31 days old still works after the purge")
	}
}

// L2, S2: two replicas, each with its own connections to one database,
// share one account whose balance covers exactly N reviews; of many
// concurrent reviews sent to both, exactly N run and the rest get 402.
func TestConcurrentSpendAcrossReplicas(t *testing.T) {
	onBoth(t, func(t *testing.T, pg bool) {
		const n, price, tries = 6, 3, 20
		e := start(t, options{pg: pg, credits: n * price, prices: "builtin=3"})
		ada, _ := e.user("ada@example.com")
		key, err := ada.CreateKey(context.Background(), client.NewKey{Name: "ci", Scopes: []string{"reviews:write"}})
		if err != nil {
			t.Fatal(err)
		}
		db2, err := store.Open(context.Background(), e.dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db2.Close() })
		other := httptest.NewServer(newServer(t, db2, e.logs, options{pg: pg, prices: "builtin=3"}))
		t.Cleanup(other.Close)

		var ok, paid atomic.Int32
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := e.url
				if i%2 == 1 {
					base = other.URL
				}
				d := strings.Replace(sampleDiff, "+1,2 @@", "+1,3 @@", 1) + fmt.Sprintf("+# %d\n", i)
				req, _ := http.NewRequest("POST", base+"/v1/reviews", strings.NewReader(d))
				req.Header.Set("Content-Type", "text/x-diff")
				req.Header.Set("Authorization", "Bearer "+key.Key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 402:
					paid.Add(1)
				default:
					t.Errorf("status %d: %s", resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != n || paid.Load() != tries-n {
			t.Errorf("%d reviews ran and %d got 402; want %d and %d", ok.Load(), paid.Load(), n, tries-n)
		}
		cr, err := ada.Credits(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, en := range cr.Entries {
			sum += en.Amount
		}
		if cr.Balance != 0 || cr.Held != 0 || sum != 0 {
			t.Errorf("balance %d, held %d, ledger sum %d; want all 0", cr.Balance, cr.Held, sum)
		}
	})
}

// L2: the owner gives back what a review was charged, once; the account
// holder cannot refund their own review, and neither can an API key.
func TestRefundReview(t *testing.T) {
	e := start(t, options{noOwner: true, credits: 100, prices: "builtin=7"})
	ctx := context.Background()
	if _, err := e.anon.Setup(ctx, e.setup, "boss@example.com", password); err != nil {
		t.Fatal(err)
	}
	ada, tok := e.user("adarefund@example.com")
	resp, body := e.raw("POST", "/v1/reviews", tok.AccessToken, "text/x-diff", strings.NewReader(sampleDiff))
	var answer struct {
		ID      string             `json:"id"`
		Credits server.CreditsInfo `json:"credits"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &answer) != nil || answer.ID == "" || answer.Credits.Charged != 7 {
		t.Fatalf("review: %d %s", resp.StatusCode, body)
	}
	bossTok, err := e.anon.Login(ctx, "boss@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	boss := e.anon.WithToken(bossTok.AccessToken)

	// Not the account holder, not an API key (even the owner's).
	if _, err := ada.RefundReview(ctx, answer.ID); status(err) != 403 {
		t.Errorf("refund by the account holder = %v, want 403", err)
	}
	bossKey, err := boss.CreateKey(ctx, client.NewKey{Name: "k", Scopes: []string{"usage:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.anon.WithToken(bossKey.Key).RefundReview(ctx, answer.ID); status(err) != 403 {
		t.Errorf("refund with an API key = %v, want 403", err)
	}

	rf, err := boss.RefundReview(ctx, answer.ID)
	if err != nil || rf.Refunded != 7 || rf.Balance != 100 || rf.ReviewID != answer.ID {
		t.Fatalf("RefundReview = %+v, %v; want 7 back and balance 100", rf, err)
	}
	if _, err := boss.RefundReview(ctx, answer.ID); status(err) != 409 {
		t.Errorf("second refund = %v, want 409", err)
	}
	if _, err := boss.RefundReview(ctx, "rev_nope"); status(err) != 404 {
		t.Errorf("refund of an unknown review = %v, want 404", err)
	}
	cr, err := ada.Credits(ctx)
	if err != nil || cr.Balance != 100 || cr.Entries[0].Kind != "refund" || cr.Entries[0].Amount != 7 || cr.Entries[0].Reference != answer.ID {
		t.Errorf("credits after the refund = %+v, %v; want balance 100 and a refund entry of 7", cr, err)
	}
	_, b := e.raw("GET", "/v1/reviews/"+answer.ID, tok.AccessToken, "", nil)
	if !strings.Contains(string(b), `"credits_refunded":7`) {
		t.Errorf("review status after the refund: %s", b)
	}
}
