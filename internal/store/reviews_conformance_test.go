package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// ledgerSum returns the sum of the user's ledger and what it must equal:
// the balance plus the credits held for running reviews.
func ledgerSum(t *testing.T, db *DB, userID int64) (sum, settled int64) {
	t.Helper()
	ctx := context.Background()
	entries, err := db.Ledger(ctx, userID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		sum += e.Amount
	}
	if len(entries) > 0 && entries[0].BalanceAfter != sum {
		t.Errorf("newest ledger entry's balance_after = %d, want the sum %d", entries[0].BalanceAfter, sum)
	}
	if err := db.w.QueryRowContext(ctx, `SELECT coalesce(sum(balance + held), 0) FROM balances WHERE user_id = $1`, userID).Scan(&settled); err != nil {
		t.Fatal(err)
	}
	return sum, settled
}

func review(id string, userID int64, reserved int64, sandbox bool) Review {
	return Review{ID: id, UserID: userID, KeyID: "k1", Sandbox: sandbox, Reviewers: []string{"builtin", "anthropic"},
		Reserved: reserved, CreatedAt: t0, Owner: "inst_a", LeaseUntil: t0.Add(30 * time.Second)}
}

// L2, D2: a queued review reserves its credits in the same transaction
// that stores it; it is finished once, settling the reservation with its
// events; other users cannot see it.
func testReviews(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	bob := mkUser(t, db, "bob@example.com")
	mkEndpoint(t, db, ada.ID, "https://a/1", false, "review.completed", "review.failed", "credits.low")
	if _, err := db.Credit(ctx, ada.ID, 100, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	balance := func() int64 { b, _ := db.Balance(ctx, ada.ID); return b }

	creates := []struct {
		name    string
		r       Review
		want    apperr.Kind // -1: success
		wantBal int64
	}{
		{"reserves", review("rev_1", ada.ID, 40, false), -1, 60},
		{"sandbox reserves nothing", review("rev_2", ada.ID, 40, true), -1, 60},
		{"zero reserves nothing", review("rev_3", ada.ID, 0, false), -1, 60},
		{"more than the balance", review("rev_4", ada.ID, 61, false), apperr.PaymentRequired, 60},
		{"duplicate id", review("rev_1", ada.ID, 10, false), apperr.Conflict, 60},
		{"unknown user", review("rev_5", bob.ID+1000, 0, false), apperr.NotFound, 60},
		{"negative", review("rev_6", ada.ID, -1, false), apperr.Invalid, 60},
		{"second", review("rev_7", ada.ID, 50, false), -1, 10},
	}
	for _, tt := range creates {
		t.Run("create "+tt.name, func(t *testing.T) {
			err := db.CreateReview(ctx, tt.r, t0)
			if tt.want < 0 && err != nil {
				t.Fatalf("CreateReview(%s) = %v", tt.r.ID, err)
			}
			if tt.want >= 0 {
				wantKind(t, "CreateReview("+tt.name+")", err, tt.want)
			}
			if b := balance(); b != tt.wantBal {
				t.Errorf("balance after CreateReview(%s) = %d, want %d", tt.name, b, tt.wantBal)
			}
		})
	}
	_, err := db.ReviewByID(ctx, ada.ID, "rev_4")
	wantKind(t, "ReviewByID(refused review)", err, apperr.NotFound)
	// Holds write no ledger entry: the ledger still sums to balance + held.
	entries, _ := db.Ledger(ctx, ada.ID, 10)
	if len(entries) != 1 || entries[0].Kind != LedgerGrant {
		t.Errorf("ledger = %+v, want the grant only", entries)
	}
	if held := countRows(t, db, `SELECT held FROM balances WHERE user_id = $1`, ada.ID); held != 90 {
		t.Errorf("held = %d, want 90 (rev_1 and rev_7)", held)
	}

	got, err := db.ReviewByID(ctx, ada.ID, "rev_1")
	want := review("rev_1", ada.ID, 40, false)
	if err != nil || got.ID != want.ID || got.UserID != ada.ID || got.KeyID != "k1" || got.Sandbox || got.Status != ReviewQueued ||
		!slices.Equal(got.Reviewers, want.Reviewers) || got.Reserved != 40 || got.Error != "" || got.Findings != 0 ||
		got.Charged != 0 || !sameTime(t0, got.CreatedAt) || got.StartedAt != nil || got.FinishedAt != nil {
		t.Errorf("ReviewByID(rev_1) = %+v, %v", got, err)
	}
	for _, id := range []string{"rev_1", "nope"} {
		_, err := db.ReviewByID(ctx, bob.ID, id)
		wantKind(t, "ReviewByID(bob, "+id+")", err, apperr.NotFound)
	}

	t1 := t0.Add(time.Second)
	if err := db.MarkReviewRunning(ctx, "rev_1", t1); err != nil {
		t.Fatalf("MarkReviewRunning() = %v", err)
	}
	wantKind(t, "MarkReviewRunning(again)", db.MarkReviewRunning(ctx, "rev_1", t1), apperr.Conflict)
	wantKind(t, "MarkReviewRunning(unknown)", db.MarkReviewRunning(ctx, "nope", t1), apperr.NotFound)
	if got, _ := db.ReviewByID(ctx, ada.ID, "rev_1"); got.Status != ReviewRunning || !sameTimePtr(&t1, got.StartedAt) {
		t.Errorf("after MarkReviewRunning: %+v", got)
	}

	// Threshold 50: the balance is 10 + 40 released = 50 before the charge
	// of rev_1 and 20 after, a crossing; so is 20 + 50 released = 70 before
	// rev_7's charge of 50. low may be called in a transaction that then
	// rolls back, so only the events written count.
	calls := 0
	low := func(b int64) Event {
		calls++
		return ev(fmt.Sprintf("msg_low_%d_at_%d", calls, b), ada.ID, "credits.low")
	}
	lowsWritten := func() []string {
		rows, err := db.r.QueryContext(ctx, `SELECT id FROM events WHERE type = 'credits.low' ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	t2 := t0.Add(2 * time.Second)
	finishes := []struct {
		name                 string
		id, status, errMsg   string
		findings             int
		charged              int64
		eventID              string
		want                 apperr.Kind
		wantBal, wantCharged int64
		wantLows             []string
	}{
		{"bad status", "rev_1", "running", "", 0, 1, "msg_x1", apperr.Invalid, 10, 0, nil},
		{"taken event id rolls back", "rev_1", ReviewDone, "", 3, 30, "msg_dup", apperr.Conflict, 10, 0, nil},
		{"done", "rev_1", ReviewDone, "", 3, 30, "msg_f1", -1, 20, 30, []string{"msg_low_2_at_20"}},
		{"twice", "rev_1", ReviewDone, "", 3, 30, "msg_f2", apperr.Conflict, 20, 30, []string{"msg_low_2_at_20"}},
		{"sandbox charges nothing", "rev_2", ReviewDone, "", 1, 25, "msg_f3", -1, 20, 0, []string{"msg_low_2_at_20"}},
		{"charge capped at the reservation", "rev_7", ReviewFailed, "reviewer unavailable", 0, 80, "msg_f4", -1, 20, 50, []string{"msg_low_2_at_20", "msg_low_3_at_20"}},
		{"unknown", "nope", ReviewDone, "", 0, 0, "msg_f5", apperr.NotFound, 20, 0, []string{"msg_low_2_at_20", "msg_low_3_at_20"}},
	}
	if err := db.AppendEvents(ctx, t0, ev("msg_dup", ada.ID, "review.completed")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range finishes {
		t.Run("finish "+tt.name, func(t *testing.T) {
			bal, err := db.FinishReview(ctx, tt.id, tt.status, tt.errMsg, tt.findings, tt.charged, t2, 50, low, ev(tt.eventID, ada.ID, "review.completed"))
			if tt.want < 0 && (err != nil || bal != tt.wantBal) {
				t.Fatalf("FinishReview(%s) = %d, %v; want balance %d", tt.id, bal, err, tt.wantBal)
			}
			if tt.want >= 0 {
				wantKind(t, "FinishReview("+tt.name+")", err, tt.want)
			}
			if tt.eventID != "msg_dup" && eventExists(t, db, tt.eventID) != (tt.want < 0) {
				t.Errorf("FinishReview(%s): event written = %v, want %v", tt.name, !(tt.want < 0), tt.want < 0)
			}
			if b := balance(); b != tt.wantBal {
				t.Errorf("balance after FinishReview(%s) = %d, want %d", tt.name, b, tt.wantBal)
			}
			if got := lowsWritten(); !slices.Equal(got, tt.wantLows) {
				t.Errorf("low events after FinishReview(%s) = %v, want %v", tt.name, got, tt.wantLows)
			}
			if tt.id == "nope" {
				return
			}
			got, err := db.ReviewByID(ctx, ada.ID, tt.id)
			if err != nil || got.Charged != tt.wantCharged {
				t.Errorf("ReviewByID(%s).Charged = %d (%v), want %d", tt.id, got.Charged, err, tt.wantCharged)
			}
			if tt.want == apperr.Conflict && tt.eventID == "msg_dup" && (got.Status != ReviewRunning || got.FinishedAt != nil) {
				t.Errorf("a rolled-back finish left %+v", got)
			}
			if tt.want < 0 && (got.Status != tt.status || got.Error != tt.errMsg || got.Findings != tt.findings || !sameTimePtr(&t2, got.FinishedAt)) {
				t.Errorf("ReviewByID(%s) after finishing = %+v", tt.id, got)
			}
		})
	}
	if sum, bal := ledgerSum(t, db, ada.ID); sum != bal || bal != 20 {
		t.Errorf("ledger sums to %d, balance %d; want both 20", sum, bal)
	}
	// One delivery per committed event: msg_dup, three finishes, two lows.
	if got := claimAll(t, db, t2); len(got) != 6 {
		t.Errorf("deliveries = %v, want 6", got)
	}
}

// L2: a balance that covers exactly N reviews lets exactly N of many
// concurrent CreateReview calls through; the rest are PaymentRequired and
// store nothing.
func testReviewsConcurrent(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	const n, tries, price = 6, 40, 7
	if _, err := db.Credit(ctx, u.ID, n*price, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	warmPool(t, db, 8)
	var ok, refused atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			<-start
			err := db.CreateReview(ctx, review(fmt.Sprintf("rev_%d", i), u.ID, price, false), t0)
			switch {
			case err == nil:
				ok.Add(1)
			case apperr.KindOf(err) == apperr.PaymentRequired:
				refused.Add(1)
			default:
				t.Errorf("CreateReview = %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != n || refused.Load() != tries-n {
		t.Errorf("%d reviews created and %d refused, want %d and %d", ok.Load(), refused.Load(), n, tries-n)
	}
	if got := countRows(t, db, `SELECT count(*) FROM reviews WHERE user_id = $1`, u.ID); got != n {
		t.Errorf("%d reviews stored, want %d", got, n)
	}
	// Every credit is held now: none left to spend, the ledger unchanged.
	if sum, settled := ledgerSum(t, db, u.ID); sum != settled || settled != n*price {
		t.Errorf("ledger sums to %d and balance + held is %d, want both %d", sum, settled, n*price)
	}
	if bal, _ := db.Balance(ctx, u.ID); bal != 0 {
		t.Errorf("balance %d, want 0", bal)
	}
}

// L2, W1, S2: a review whose lease has passed (its replica stopped) is
// failed with the reason, its whole reservation released and one event
// written for it. Reviews whose owner renewed their leases, and finished
// ones, are left alone; a renewal never revives a failed review, and a
// second sweep finds nothing.
func testFailExpired(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	bob := mkUser(t, db, "bob@example.com")
	mkEndpoint(t, db, ada.ID, "https://a/1", false, "review.failed")
	for _, u := range []User{ada, bob} {
		if _, err := db.Credit(ctx, u.ID, 100, LedgerGrant, "grant", t0); err != nil {
			t.Fatal(err)
		}
	}
	bobs := review("rev_bob", bob.ID, 40, false)
	bobs.Owner = "inst_b" // alive: renews its lease below
	alive := review("rev_alive", bob.ID, 7, false)
	alive.Owner, alive.LeaseUntil = "inst_c", t0.Add(5*time.Minute)
	rs := []Review{
		review("rev_queued", ada.ID, 10, false),
		review("rev_running", ada.ID, 20, false),
		review("rev_sandbox", ada.ID, 30, true),
		review("rev_done", ada.ID, 5, false),
		bobs, alive,
	}
	for _, r := range rs {
		if err := db.CreateReview(ctx, r, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.MarkReviewRunning(ctx, "rev_running", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FinishReview(ctx, "rev_done", ReviewDone, "", 2, 5, t0, 0, nil); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Minute)
	if n, err := db.RenewReviewLeases(ctx, "inst_b", t1.Add(30*time.Second)); err != nil || n != 1 {
		t.Fatalf("RenewReviewLeases(inst_b) = %d, %v; want 1 (its one unfinished review)", n, err)
	}
	const reason = "the server running the review stopped"
	var seen []Review
	event := func(r Review) Event {
		seen = append(seen, r)
		return ev("msg_"+r.ID, r.UserID, "review.failed")
	}
	n, err := db.FailExpiredReviews(ctx, reason, t1, event)
	if err != nil || n != 3 {
		t.Fatalf("FailExpiredReviews() = %d, %v; want 3", n, err)
	}
	if len(seen) != 3 {
		t.Fatalf("event built for %d reviews, want 3", len(seen))
	}
	for _, r := range seen {
		if r.Status != ReviewFailed || r.Error != reason || !sameTimePtr(&t1, r.FinishedAt) || r.Reserved == 0 || r.Owner != "inst_a" {
			t.Errorf("event built from %+v, want the failed review", r)
		}
	}
	for _, r := range rs {
		got, err := db.ReviewByID(ctx, r.UserID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantFailed := r.Owner == "inst_a" && r.ID != "rev_done"
		if (got.Status == ReviewFailed) != wantFailed || (wantFailed && (got.Error != reason || !sameTimePtr(&t1, got.FinishedAt))) {
			t.Errorf("ReviewByID(%s) = %+v, want failed %v", r.ID, got, wantFailed)
		}
		if eventExists(t, db, "msg_"+r.ID) != wantFailed {
			t.Errorf("event for %s written = %v, want %v", r.ID, !wantFailed, wantFailed)
		}
	}
	for _, tt := range []struct {
		u    User
		want int64
		held int64
	}{{ada, 95, 0}, {bob, 53, 47}} {
		if sum, settled := ledgerSum(t, db, tt.u.ID); sum != settled || settled != tt.want+tt.held {
			t.Errorf("%s: ledger sums to %d, balance + held %d; want both %d", tt.u.Email, sum, settled, tt.want+tt.held)
		}
		if bal, _ := db.Balance(ctx, tt.u.ID); bal != tt.want {
			t.Errorf("%s: balance %d, want %d", tt.u.Email, bal, tt.want)
		}
	}
	if got := claimAll(t, db, t1); len(got) != 3 {
		t.Errorf("deliveries = %v, want ada's three review.failed events", got)
	}
	if n, err := db.FailExpiredReviews(ctx, reason, t1, event); err != nil || n != 0 || len(seen) != 3 {
		t.Errorf("second FailExpiredReviews() = %d, %v (%d events); want 0 and no new event", n, err, len(seen))
	}
	// The stopped owner coming back cannot revive its failed reviews, and
	// cannot run or finish them.
	if n, err := db.RenewReviewLeases(ctx, "inst_a", t1.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("RenewReviewLeases(inst_a) after its reviews failed = %d, %v; want 0", n, err)
	}
	if err := db.MarkReviewRunning(ctx, "rev_queued", t1); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("MarkReviewRunning(failed review) = %v, want Conflict", err)
	}
	if _, err := db.FinishReview(ctx, "rev_running", ReviewDone, "", 1, 20, t1, 0, nil); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("FinishReview(failed review) = %v, want Conflict", err)
	}
	if sum, bal := ledgerSum(t, db, ada.ID); sum != bal || bal != 95 {
		t.Errorf("ada after the late finish: ledger %d, balance %d; want 95", sum, bal)
	}
	// Once its lease too has passed, bob's review fails; the one whose
	// lease runs for minutes more stays.
	t2 := t1.Add(31 * time.Second)
	if n, err := db.FailExpiredReviews(ctx, reason, t2, nil); err != nil || n != 1 {
		t.Errorf("FailExpiredReviews(after bob's lease) = %d, %v; want 1", n, err)
	}
	if got, _ := db.ReviewByID(ctx, bob.ID, "rev_alive"); got.Status != ReviewQueued {
		t.Errorf("rev_alive = %s, want still queued", got.Status)
	}

	bad := review("rev_nolease", ada.ID, 1, false)
	bad.Owner = ""
	if err := db.CreateReview(ctx, bad, t0); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("CreateReview without an owner = %v, want Invalid", err)
	}
}

// S2, L2: replicas sweeping at once fail each expired review exactly once:
// one event and one release per review, and the ledger still sums.
func testFailExpiredConcurrent(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	mkEndpoint(t, db, u.ID, "https://a/failed", false, "review.failed")
	if _, err := db.Credit(ctx, u.ID, 1000, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	const reviews, sweepers = 20, 6
	for i := range reviews {
		if err := db.CreateReview(ctx, review(fmt.Sprintf("rev_%02d", i), u.ID, 10, false), t0); err != nil {
			t.Fatal(err)
		}
	}
	t1 := t0.Add(time.Minute)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range sweepers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := db.FailExpiredReviews(ctx, "stopped", t1, func(r Review) Event {
				return ev("msg_"+r.ID, r.UserID, "review.failed")
			})
			if err != nil {
				t.Error(err)
			}
			failed.Add(int64(n))
		}()
	}
	wg.Wait()
	if failed.Load() != reviews {
		t.Errorf("sweepers failed %d reviews in all, want %d", failed.Load(), reviews)
	}
	if got := countRows(t, db, `SELECT count(*) FROM events WHERE user_id = $1`, u.ID); got != reviews {
		t.Errorf("%d review.failed events, want %d", got, reviews)
	}
	if held := countRows(t, db, `SELECT held FROM balances WHERE user_id = $1`, u.ID); held != 0 {
		t.Errorf("held = %d after every review failed, want 0", held)
	}
	if sum, bal := ledgerSum(t, db, u.ID); sum != bal || bal != 1000 {
		t.Errorf("ledger sums to %d, balance %d; want 1000", sum, bal)
	}
}

// S2: a review that cannot be failed (here a hold the balance row no
// longer has) does not hold back the others: they are failed, and its
// error is reported.
func testFailExpiredSkipsBadRow(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	bob := mkUser(t, db, "bob@example.com")
	for _, id := range []int64{u.ID, bob.ID} {
		if _, err := db.Credit(ctx, id, 100, LedgerGrant, "grant", t0); err != nil {
			t.Fatal(err)
		}
	}
	bad := review("rev_bad", bob.ID, 10, false)
	bad.LeaseUntil = t0 // expires first, so the sweep meets it first
	good := review("rev_good", u.ID, 20, false)
	for _, r := range []Review{bad, good} {
		if err := db.CreateReview(ctx, r, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.w.ExecContext(ctx, `UPDATE balances SET held = 5 WHERE user_id = $1`, bob.ID); err != nil {
		t.Fatal(err)
	}
	n, err := db.FailExpiredReviews(ctx, "stopped", t0.Add(time.Minute), nil)
	if n != 1 || err == nil || !strings.Contains(err.Error(), "rev_bad") {
		t.Errorf("FailExpiredReviews = %d, %v; want 1 and rev_bad's error", n, err)
	}
	if got, _ := db.ReviewByID(ctx, u.ID, "rev_good"); got.Status != ReviewFailed {
		t.Errorf("rev_good = %s, want failed despite rev_bad", got.Status)
	}
	if got, _ := db.ReviewByID(ctx, bob.ID, "rev_bad"); got.Status != ReviewQueued {
		t.Errorf("rev_bad = %s, want left as it was (its transaction rolled back)", got.Status)
	}
}

// L2: a refund gives back exactly what a finished review was charged, as
// one refund entry, once, however many refunds race; reviews not finished
// or charged nothing cannot be refunded.
func testRefundReview(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	if _, err := db.Credit(ctx, u.ID, 100, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	for _, r := range []Review{review("rev_charged", u.ID, 30, false), review("rev_running", u.ID, 10, false), review("rev_sandbox", u.ID, 10, true)} {
		if err := db.CreateReview(ctx, r, t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"rev_charged", "rev_sandbox"} {
		if _, err := db.FinishReview(ctx, id, ReviewDone, "", 1, 12, t0, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	// 100 - 12 charged - 10 held by rev_running.
	if bal, _ := db.Balance(ctx, u.ID); bal != 78 {
		t.Fatalf("balance before the refund = %d, want 78", bal)
	}
	const racers = 8
	var ok, conflict atomic.Int32
	var wg sync.WaitGroup
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, bal, err := db.RefundReview(ctx, "rev_charged", t0.Add(time.Hour))
			switch {
			case err == nil:
				ok.Add(1)
				if r.Refunded != 12 || r.UserID != u.ID || bal != 90 {
					t.Errorf("RefundReview = %+v, balance %d; want 12 refunded and balance 90", r, bal)
				}
			case apperr.KindOf(err) == apperr.Conflict:
				conflict.Add(1)
			default:
				t.Errorf("RefundReview = %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != racers-1 {
		t.Errorf("%d refunds succeeded and %d were refused, want 1 and %d", ok.Load(), conflict.Load(), racers-1)
	}
	entries, _ := db.Ledger(ctx, u.ID, 1)
	if e := entries[0]; e.Kind != LedgerRefund || e.Amount != 12 || e.Reference != "rev_charged" {
		t.Errorf("newest ledger entry = %+v, want a refund of 12 for rev_charged", e)
	}
	if got, _ := db.ReviewByID(ctx, u.ID, "rev_charged"); got.Refunded != 12 || got.Charged != 12 {
		t.Errorf("refunded review = %+v, want charged 12 and refunded 12", got)
	}
	for _, tt := range []struct {
		id   string
		want apperr.Kind
	}{{"rev_running", apperr.Conflict}, {"rev_sandbox", apperr.Conflict}, {"nope", apperr.NotFound}} {
		_, _, err := db.RefundReview(ctx, tt.id, t0)
		wantKind(t, "RefundReview("+tt.id+")", err, tt.want)
	}
	if sum, settled := ledgerSum(t, db, u.ID); sum != settled || settled != 100 {
		t.Errorf("ledger sums to %d, balance + held %d; want 100", sum, settled)
	}
}

// L2: amounts beyond 32 bits work on both databases: a hold of three
// billion credits, its settlement with a low-balance threshold of four
// billion (the credits.low event fires), and a refund.
func testLargeAmounts(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	mkEndpoint(t, db, u.ID, "https://a/all", false, "*")
	const big = 3_000_000_000
	if _, err := db.Credit(ctx, u.ID, 10_000_000_000, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateReview(ctx, review("rev_big", u.ID, big, false), t0); err != nil {
		t.Fatalf("CreateReview(3e9) = %v", err)
	}
	if err := db.CreateReview(ctx, review("rev_too_big", u.ID, 8_000_000_000, false), t0); apperr.KindOf(err) != apperr.PaymentRequired {
		t.Errorf("CreateReview(8e9 of 7e9 left) = %v, want PaymentRequired", err)
	}
	fired := 0
	low := func(b int64) Event { fired++; return ev("msg_low_big", u.ID, "credits.low") }
	bal, err := db.FinishReview(ctx, "rev_big", ReviewDone, "", 1, big, t0, 8_000_000_000, low)
	if err != nil || bal != 7_000_000_000 || fired != 1 {
		t.Fatalf("FinishReview(3e9, threshold 8e9) = %d, %v, low fired %d; want 7e9 and one low event", bal, err, fired)
	}
	if _, bal, err := db.RefundReview(ctx, "rev_big", t0); err != nil || bal != 10_000_000_000 {
		t.Errorf("RefundReview = %d, %v; want the balance back at 1e10", bal, err)
	}
	if sum, settled := ledgerSum(t, db, u.ID); sum != settled || sum != 10_000_000_000 {
		t.Errorf("ledger sums to %d, balance + held %d; want 1e10", sum, settled)
	}
}
