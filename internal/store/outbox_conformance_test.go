package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Conformance tests for the webhook outbox (W1, W2) and asynchronous
// reviews; registered in runConformance, so they run on SQLite and
// PostgreSQL alike.

func ev(id string, userID int64, typ string) Event {
	return Event{ID: id, UserID: userID, Type: typ, Payload: []byte(`{"id":"` + id + `"}`)}
}

func mkEndpoint(t *testing.T, db *DB, userID int64, url string, paused bool, events ...string) WebhookEndpoint {
	t.Helper()
	e, err := db.CreateWebhookEndpoint(context.Background(), WebhookEndpoint{
		UserID: userID, URL: url, Events: events, SecretSealed: "sealed:" + url, Paused: paused, CreatedAt: t0,
	})
	if err != nil {
		t.Fatalf("CreateWebhookEndpoint(%s) = %v", url, err)
	}
	return e
}

func countRows(t *testing.T, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.w.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func eventExists(t *testing.T, db *DB, id string) bool {
	t.Helper()
	return countRows(t, db, `SELECT count(*) FROM events WHERE id = $1`, id) == 1
}

// claimAll claims every delivery due at now with a long lease, as
// "event@endpointURL" pairs, sorted.
func claimAll(t *testing.T, db *DB, now time.Time) []string {
	t.Helper()
	ds, err := db.ClaimDeliveries(context.Background(), now, time.Hour, 1000)
	if err != nil {
		t.Fatalf("ClaimDeliveries() = %v", err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.EventID+"@"+d.URL)
	}
	slices.Sort(out)
	return out
}

// W1: an event fans out to exactly the unpaused endpoints of its own user
// that subscribe to its type or to "*".
func testEventsFanOut(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	bob := mkUser(t, db, "bob@example.com")
	mkEndpoint(t, db, ada.ID, "https://a/completed", false, "review.completed")
	mkEndpoint(t, db, ada.ID, "https://a/all", false, "*")
	mkEndpoint(t, db, ada.ID, "https://a/paused", true, "review.completed", "key.revoked")
	mkEndpoint(t, db, ada.ID, "https://a/low", false, "credits.low")
	mkEndpoint(t, db, bob.ID, "https://b/all", false, "*")

	e1 := ev("msg_1", ada.ID, "review.completed")
	e1.CreatedAt = t0.Add(-time.Minute)
	if err := db.AppendEvents(ctx, t0, e1, ev("msg_2", ada.ID, "key.revoked"), ev("msg_3", bob.ID, "credits.low")); err != nil {
		t.Fatalf("AppendEvents() = %v", err)
	}
	want := []string{"msg_1@https://a/all", "msg_1@https://a/completed", "msg_2@https://a/all", "msg_3@https://b/all"}
	if got := claimAll(t, db, t0); !slices.Equal(got, want) {
		t.Errorf("deliveries = %v, want %v", got, want)
	}

	// What a dispatcher gets: everything it needs to sign and send.
	if err := db.AppendEvents(ctx, t0, ev("msg_4", bob.ID, "review.failed")); err != nil {
		t.Fatal(err)
	}
	ds, err := db.ClaimDeliveries(ctx, t0, time.Minute, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("ClaimDeliveries() = %v, %v; want msg_4 only", ds, err)
	}
	d := ds[0]
	if d.EventID != "msg_4" || d.UserID != bob.ID || d.URL != "https://b/all" || d.SecretSealed != "sealed:https://b/all" ||
		d.Type != "review.failed" || string(d.Payload) != `{"id":"msg_4"}` || d.Attempt != 0 || !sameTime(t0, d.EventCreatedAt) || d.ID == 0 {
		t.Errorf("claimed delivery = %+v", d)
	}

	bad := []struct {
		name string
		evs  []Event
		want apperr.Kind
	}{
		{"duplicate id", []Event{ev("msg_5", ada.ID, "key.revoked"), ev("msg_1", ada.ID, "key.revoked")}, apperr.Conflict},
		{"not JSON", []Event{ev("msg_6", ada.ID, "key.revoked"), {ID: "msg_7", UserID: ada.ID, Type: "x", Payload: []byte("{not json")}}, apperr.Invalid},
		{"duplicate in the batch", []Event{ev("msg_8", ada.ID, "key.revoked"), ev("msg_8", ada.ID, "review.failed")}, apperr.Conflict},
		{"no type", []Event{{ID: "msg_10", UserID: ada.ID}}, apperr.Invalid},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, "AppendEvents("+tt.name+")", db.AppendEvents(ctx, t0, tt.evs...), tt.want)
			// All or nothing: the valid first event is not kept either.
			if eventExists(t, db, tt.evs[0].ID) {
				t.Errorf("AppendEvents(%s) kept event %s of a failed batch", tt.name, tt.evs[0].ID)
			}
		})
	}
	// The leases ran out, so the same five are due again; no failed batch
	// queued anything.
	want = append(want, "msg_4@https://b/all")
	slices.Sort(want)
	if got := claimAll(t, db, t0.Add(2*time.Hour)); !slices.Equal(got, want) {
		t.Errorf("deliveries after failed appends = %v, want %v", got, want)
	}
	if err := db.AppendEvents(ctx, t0); err != nil {
		t.Errorf("AppendEvents(none) = %v", err)
	}
	// An event no endpoint wants is not stored: nothing would deliver it.
	carol := mkUser(t, db, "carol@example.com")
	if err := db.AppendEvents(ctx, t0, ev("msg_11", ada.ID, "credits.low"), ev("msg_12", carol.ID, "review.completed")); err != nil {
		t.Fatal(err)
	}
	if !eventExists(t, db, "msg_11") || eventExists(t, db, "msg_12") {
		t.Errorf("stored msg_11 %v, msg_12 %v; want only msg_11 (ada's endpoints want it, carol has none)",
			eventExists(t, db, "msg_11"), eventExists(t, db, "msg_12"))
	}
}

// W1: endpoints are per user; another user's is NotFound for every
// operation; pausing holds deliveries back; deleting drops them; rotation
// re-seals with compare-and-swap.
func testWebhookEndpoints(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	bob := mkUser(t, db, "bob@example.com")
	e1 := mkEndpoint(t, db, ada.ID, "https://a/1", false, "review.completed", "review.failed")
	e2 := mkEndpoint(t, db, ada.ID, "https://a/2", false, "*")
	b1 := mkEndpoint(t, db, bob.ID, "https://b/1", false, "*")
	if e1.ID == 0 || e2.ID == e1.ID || !sameTime(t0, e1.CreatedAt) || !sameTime(t0, e1.UpdatedAt) {
		t.Fatalf("CreateWebhookEndpoint() = %+v", e1)
	}
	_, err := db.CreateWebhookEndpoint(ctx, WebhookEndpoint{UserID: bob.ID + 1000, URL: "https://x", CreatedAt: t0})
	wantKind(t, "CreateWebhookEndpoint(unknown user)", err, apperr.NotFound)

	got, err := db.WebhookEndpoint(ctx, ada.ID, e1.ID)
	if err != nil || got.URL != e1.URL || !slices.Equal(got.Events, e1.Events) || got.SecretSealed != e1.SecretSealed ||
		got.Paused || got.Failing || got.ConsecutiveFailures != 0 || !sameTime(t0, got.CreatedAt) {
		t.Errorf("WebhookEndpoint(e1) = %+v, %v; want %+v", got, err, e1)
	}
	list, err := db.ListWebhookEndpoints(ctx, ada.ID)
	if err != nil || len(list) != 2 || list[0].ID != e1.ID || list[1].ID != e2.ID {
		t.Errorf("ListWebhookEndpoints(ada) = %+v, %v; want e1, e2", list, err)
	}

	// Bob's endpoint is invisible to Ada, exactly like an unknown one.
	later := t0.Add(time.Minute)
	for _, id := range []int64{b1.ID, b1.ID + 1000} {
		_, err := db.WebhookEndpoint(ctx, ada.ID, id)
		wantKind(t, fmt.Sprintf("WebhookEndpoint(ada, %d)", id), err, apperr.NotFound)
		wantKind(t, "SetWebhookPaused(other's)", db.SetWebhookPaused(ctx, ada.ID, id, true, later), apperr.NotFound)
		wantKind(t, "SetWebhookSecret(other's)", db.SetWebhookSecret(ctx, ada.ID, id, "stolen", later), apperr.NotFound)
		wantKind(t, "DeleteWebhookEndpoint(other's)", db.DeleteWebhookEndpoint(ctx, ada.ID, id), apperr.NotFound)
		_, err = db.ListDeliveryAttempts(ctx, ada.ID, id, 10)
		wantKind(t, "ListDeliveryAttempts(other's)", err, apperr.NotFound)
	}
	if got, _ := db.WebhookEndpoint(ctx, bob.ID, b1.ID); got.Paused || got.SecretSealed != b1.SecretSealed {
		t.Errorf("bob's endpoint changed by ada: %+v", got)
	}

	// Paused: no new deliveries, pending ones wait; resumed: they flow.
	if err := db.AppendEvents(ctx, t0, ev("msg_1", ada.ID, "review.completed")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetWebhookPaused(ctx, ada.ID, e1.ID, true, later); err != nil {
		t.Fatalf("SetWebhookPaused(true) = %v", err)
	}
	if got, _ := db.WebhookEndpoint(ctx, ada.ID, e1.ID); !got.Paused || !sameTime(later, got.UpdatedAt) {
		t.Errorf("after pausing: %+v", got)
	}
	if err := db.AppendEvents(ctx, t0, ev("msg_2", ada.ID, "review.failed")); err != nil {
		t.Fatal(err)
	}
	if got, want := claimAll(t, db, later), []string{"msg_1@https://a/2", "msg_2@https://a/2"}; !slices.Equal(got, want) {
		t.Errorf("deliveries while e1 paused = %v, want %v", got, want)
	}
	if err := db.SetWebhookPaused(ctx, ada.ID, e1.ID, false, later); err != nil {
		t.Fatalf("SetWebhookPaused(false) = %v", err)
	}
	if got, want := claimAll(t, db, later), []string{"msg_1@https://a/1"}; !slices.Equal(got, want) {
		t.Errorf("deliveries after resuming e1 = %v, want %v", got, want)
	}

	// Rotation by the user, then by a keyring rotation racing it.
	if err := db.SetWebhookSecret(ctx, ada.ID, e2.ID, "sealed:v2", later); err != nil {
		t.Fatalf("SetWebhookSecret() = %v", err)
	}
	all, err := db.WebhookSecrets(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("WebhookSecrets() = %d endpoints, %v; want 3 (every user's)", len(all), err)
	}
	if all[1].ID != e2.ID || all[1].SecretSealed != "sealed:v2" {
		t.Errorf("WebhookSecrets()[1] = %+v, want e2 with sealed:v2", all[1])
	}
	wantKind(t, "ResealWebhookSecret(stale old value)", db.ResealWebhookSecret(ctx, e2.ID, "sealed:https://a/2", "resealed"), apperr.Conflict)
	if err := db.ResealWebhookSecret(ctx, e2.ID, "sealed:v2", "resealed:v2"); err != nil {
		t.Errorf("ResealWebhookSecret() = %v", err)
	}
	if got, _ := db.WebhookEndpoint(ctx, ada.ID, e2.ID); got.SecretSealed != "resealed:v2" {
		t.Errorf("after reseal SecretSealed = %q, want resealed:v2", got.SecretSealed)
	}
	wantKind(t, "ResealWebhookSecret(unknown)", db.ResealWebhookSecret(ctx, b1.ID+1000, "a", "b"), apperr.NotFound)

	// Deleting takes its deliveries along; the other endpoint keeps its own.
	if err := db.AppendEvents(ctx, later, ev("msg_3", ada.ID, "review.completed")); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteWebhookEndpoint(ctx, ada.ID, e1.ID); err != nil {
		t.Fatalf("DeleteWebhookEndpoint() = %v", err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, e1.ID); n != 0 {
		t.Errorf("%d deliveries left for a deleted endpoint, want 0", n)
	}
	if got, want := claimAll(t, db, later), []string{"msg_3@https://a/2"}; !slices.Equal(got, want) {
		t.Errorf("deliveries after deleting e1 = %v, want %v", got, want)
	}
	_, err = db.WebhookEndpoint(ctx, ada.ID, e1.ID)
	wantKind(t, "WebhookEndpoint(deleted)", err, apperr.NotFound)
	wantKind(t, "DeleteWebhookEndpoint(again)", db.DeleteWebhookEndpoint(ctx, ada.ID, e1.ID), apperr.NotFound)
}

// W1: a claim is a lease. The row is not claimed again while it runs, and
// is claimed again after it ends — a dispatcher that died mid-delivery
// loses no event (at least once).
func testClaimLease(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	mkEndpoint(t, db, ada.ID, "https://a/1", false, "*")
	if err := db.AppendEvents(ctx, t0, ev("msg_1", ada.ID, "key.revoked")); err != nil {
		t.Fatal(err)
	}
	const lease = 30 * time.Second
	_, err := db.ClaimDeliveries(ctx, t0, 0, 10)
	wantKind(t, "ClaimDeliveries(lease 0)", err, apperr.Invalid)
	if got := claimAll(t, db, t0.Add(-time.Second)); len(got) != 0 {
		t.Errorf("claimed before due: %v", got)
	}
	first, err := db.ClaimDeliveries(ctx, t0, lease, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("first ClaimDeliveries() = %v, %v; want 1", first, err)
	}
	// The dispatcher "crashes" here: nothing is recorded. A restarted one,
	// on a fresh handle, sees the delivery again only after the lease.
	restarted := openDSN(t, c.dsn)
	for _, tt := range []struct {
		at   time.Time
		want int
	}{
		{t0, 0},
		{t0.Add(lease - time.Microsecond), 0},
		{t0.Add(lease), 1},
		{t0.Add(lease), 0}, // leased again by the claim just before
	} {
		got, err := restarted.ClaimDeliveries(ctx, tt.at, lease, 10)
		if err != nil || len(got) != tt.want {
			t.Errorf("ClaimDeliveries(at +%v) = %d deliveries, %v; want %d", tt.at.Sub(t0), len(got), err, tt.want)
		}
		if len(got) == 1 && (got[0].ID != first[0].ID || got[0].EventID != "msg_1") {
			t.Errorf("re-claimed %+v, want the same delivery as %+v", got[0], first[0])
		}
	}
	at := t0.Add(lease + time.Second)
	if err := restarted.RecordAttempt(ctx, first[0].ID, AttemptResult{At: at, Status: 204, Delivered: true}, 5); err != nil {
		t.Fatal(err)
	}
	if got := claimAll(t, db, t0.Add(24*time.Hour)); len(got) != 0 {
		t.Errorf("claimable after delivery: %v", got)
	}
}

// W1: four dispatchers claiming at once never get the same delivery twice,
// and between them get every one.
func testClaimConcurrent(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	mkEndpoint(t, db, ada.ID, "https://a/1", false, "*")
	mkEndpoint(t, db, ada.ID, "https://a/2", false, "*")
	const events, workers = 60, 4
	var evs []Event
	for i := range events {
		evs = append(evs, ev(fmt.Sprintf("msg_%03d", i), ada.ID, "review.completed"))
	}
	if err := db.AppendEvents(ctx, t0, evs...); err != nil {
		t.Fatal(err)
	}
	warmPool(t, db, workers)
	got := make([][]int64, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			for {
				ds, err := db.ClaimDeliveries(ctx, t0, time.Hour, 3)
				if err != nil {
					t.Errorf("ClaimDeliveries() = %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				for _, d := range ds {
					got[w] = append(got[w], d.ID)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	seen := map[int64]int{}
	for _, ids := range got {
		for _, id := range ids {
			seen[id]++
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("delivery %d claimed %d times", id, n)
		}
	}
	if len(seen) != 2*events {
		t.Errorf("%d distinct deliveries claimed, want %d", len(seen), 2*events)
	}
}

func deliveryState(t *testing.T, db *DB, id int64) (string, int) {
	t.Helper()
	var state string
	var attempt int
	if err := db.w.QueryRowContext(context.Background(), `SELECT state, attempt FROM webhook_deliveries WHERE id = $1`, id).
		Scan(&state, &attempt); err != nil {
		t.Fatalf("read delivery %d: %v", id, err)
	}
	return state, attempt
}

// W1: the attempt state machine — retry, give up, deliver — and the
// endpoint's failure streak: failing after failingAfter errors in a row,
// reset by a success or a resume. Attempts are listed newest first.
func testRecordAttempt(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	ep := mkEndpoint(t, db, ada.ID, "https://a/1", false, "*")
	if err := db.AppendEvents(ctx, t0, ev("msg_1", ada.ID, "review.completed"), ev("msg_2", ada.ID, "review.failed")); err != nil {
		t.Fatal(err)
	}
	ds, err := db.ClaimDeliveries(ctx, t0, time.Hour, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("ClaimDeliveries() = %v, %v", ds, err)
	}
	d1, d2 := ds[0].ID, ds[1].ID
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	next := func(s int) *time.Time { n := at(s); return &n }
	const failingAfter = 3
	steps := []struct {
		name        string
		delivery    int64
		r           AttemptResult
		wantState   string
		wantAttempt int
		wantCF      int
		wantFailing bool
		claimAt     time.Time // d1 or d2 due again then (checked when non-zero)
	}{
		{"timeout retries", d1, AttemptResult{At: at(1), Err: "timeout", LatencyMS: 10000, NextAt: next(60)}, "pending", 1, 1, false, at(60)},
		{"500 retries", d1, AttemptResult{At: at(61), Status: 500, LatencyMS: 12, Err: "status 500", NextAt: next(300)}, "pending", 2, 2, false, at(300)},
		{"third failure marks failing", d2, AttemptResult{At: at(62), Status: 502, Err: "status 502", NextAt: next(600)}, "pending", 1, 3, true, at(600)},
		{"give up", d1, AttemptResult{At: at(301), Status: 410, Err: "status 410"}, "failed", 3, 4, true, time.Time{}},
		{"success resets the streak", d2, AttemptResult{At: at(601), Status: 200, LatencyMS: 7, Delivered: true}, "delivered", 2, 0, false, time.Time{}},
		{"late failure keeps delivered", d2, AttemptResult{At: at(602), Status: 500, Err: "late", NextAt: next(900)}, "delivered", 2, 1, false, time.Time{}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := db.RecordAttempt(ctx, st.delivery, st.r, failingAfter); err != nil {
				t.Fatalf("RecordAttempt() = %v", err)
			}
			if state, attempt := deliveryState(t, db, st.delivery); state != st.wantState || attempt != st.wantAttempt {
				t.Errorf("delivery = %s attempt %d, want %s attempt %d", state, attempt, st.wantState, st.wantAttempt)
			}
			got, err := db.WebhookEndpoint(ctx, ada.ID, ep.ID)
			if err != nil || got.ConsecutiveFailures != st.wantCF || got.Failing != st.wantFailing {
				t.Errorf("endpoint failures %d failing %v (%v), want %d %v", got.ConsecutiveFailures, got.Failing, err, st.wantCF, st.wantFailing)
			}
			if !st.claimAt.IsZero() {
				before := claimAll(t, db, st.claimAt.Add(-time.Microsecond))
				if len(before) != 0 {
					t.Errorf("claimable before NextAt: %v", before)
				}
				// Claimed with a long lease; the next step records on it.
				if got := claimAll(t, db, st.claimAt); len(got) != 1 {
					t.Errorf("claimable at NextAt: %v, want 1", got)
				}
			}
		})
	}
	wantKind(t, "RecordAttempt(unknown)", db.RecordAttempt(ctx, d2+1000, AttemptResult{At: t0}, 3), apperr.NotFound)
	if got := claimAll(t, db, at(100000)); len(got) != 0 {
		t.Errorf("finished deliveries still claimable: %v", got)
	}

	atts, err := db.ListDeliveryAttempts(ctx, ada.ID, ep.ID, 100)
	if err != nil || len(atts) != len(steps) {
		t.Fatalf("ListDeliveryAttempts() = %d attempts, %v; want %d", len(atts), err, len(steps))
	}
	for i, a := range atts {
		st := steps[len(steps)-1-i] // newest first
		wantEvent := "msg_1"
		if st.delivery == d2 {
			wantEvent = "msg_2"
		}
		if a.DeliveryID != st.delivery || a.EndpointID != ep.ID || a.EventID != wantEvent || a.Status != st.r.Status ||
			a.LatencyMS != st.r.LatencyMS || a.Err != st.r.Err || !sameTime(st.r.At, a.At) || a.ID == 0 {
			t.Errorf("attempt %d = %+v, want step %q", i, a, st.name)
		}
	}
	if a := atts[len(atts)-1]; a.Attempt != 1 || a.Type != "review.completed" {
		t.Errorf("oldest attempt = %+v, want attempt 1 of review.completed", a)
	}
	if a := atts[len(atts)-4]; a.Attempt != 3 || a.DeliveryID != d1 {
		t.Errorf("d1's last attempt = %+v, want attempt 3", a)
	}
	if short, _ := db.ListDeliveryAttempts(ctx, ada.ID, ep.ID, 2); len(short) != 2 || short[0].ID != atts[0].ID {
		t.Errorf("ListDeliveryAttempts(limit 2) = %+v", short)
	}

	// A long reason is cut short, never stored whole.
	if err := db.AppendEvents(ctx, t0, ev("msg_3", ada.ID, "key.revoked")); err != nil {
		t.Fatal(err)
	}
	d3, _ := db.ClaimDeliveries(ctx, at(100000), time.Minute, 1)
	if len(d3) != 1 {
		t.Fatalf("claim msg_3 = %v", d3)
	}
	long := strings.Repeat("é", 500)
	for i := range 2 {
		if err := db.RecordAttempt(ctx, d3[0].ID, AttemptResult{At: at(100001 + i), Err: long, NextAt: next(200000)}, failingAfter); err != nil {
			t.Fatal(err)
		}
	}
	atts, _ = db.ListDeliveryAttempts(ctx, ada.ID, ep.ID, 1)
	if n := len(atts[0].Err); n == 0 || n > maxAttemptErr || !strings.HasPrefix(long, atts[0].Err) {
		t.Errorf("stored reason of %d bytes, want a prefix of at most %d", n, maxAttemptErr)
	}
	// Three failures in a row again: failing; a resume clears it.
	if got, _ := db.WebhookEndpoint(ctx, ada.ID, ep.ID); !got.Failing || got.ConsecutiveFailures != 3 {
		t.Fatalf("endpoint = %+v, want failing after 3 failures", got)
	}
	if err := db.SetWebhookPaused(ctx, ada.ID, ep.ID, true, at(1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.WebhookEndpoint(ctx, ada.ID, ep.ID); !got.Failing {
		t.Errorf("pausing cleared Failing: %+v", got)
	}
	if err := db.SetWebhookPaused(ctx, ada.ID, ep.ID, false, at(2)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.WebhookEndpoint(ctx, ada.ID, ep.ID); got.Failing || got.ConsecutiveFailures != 0 || got.Paused {
		t.Errorf("after resuming: %+v, want not failing, streak 0", got)
	}
}

// W1: the event is written in the same transaction as the change: a
// change that fails writes no event, and an event that cannot be written
// undoes the change.
func testEventsAtomic(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	bob := mkUser(t, db, "bob@example.com")
	mkEndpoint(t, db, ada.ID, "https://a/1", false, "*")
	for _, id := range []string{"k1", "k2"} {
		if err := db.CreateAPIKey(ctx, APIKey{ID: id, UserID: ada.ID, Hash: hashOf(id), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AppendEvents(ctx, t0, ev("msg_taken", ada.ID, "key.revoked")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Credit(ctx, ada.ID, 100, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Reserve(ctx, ada.ID, 40); err != nil {
		t.Fatal(err)
	}
	revoked := func(id string) bool {
		k, err := db.APIKeyByID(ctx, id)
		return err == nil && k.RevokedAt != nil
	}
	balance := func() int64 { b, _ := db.Balance(ctx, ada.ID); return b }
	tests := []struct {
		name      string
		op        func(e Event) error
		eventID   string
		wantKind  apperr.Kind // -1: success
		wantEvent bool
		check     func() bool // the change is in place exactly when wantEvent
	}{
		{"revoke", func(e Event) error { return db.RevokeAPIKey(ctx, ada.ID, "k1", t0, e) }, "msg_r1", -1, true,
			func() bool { return revoked("k1") }},
		{"revoke again", func(e Event) error { return db.RevokeAPIKey(ctx, ada.ID, "k1", t0, e) }, "msg_r2", apperr.Conflict, false,
			func() bool { return false }},
		{"revoke other's", func(e Event) error { return db.RevokeAPIKey(ctx, bob.ID, "k2", t0, e) }, "msg_r3", apperr.NotFound, false,
			func() bool { return revoked("k2") }},
		{"revoke with taken event id", func(e Event) error { return db.RevokeAPIKey(ctx, ada.ID, "k2", t0, e) }, "msg_taken", apperr.Conflict, false,
			func() bool { return revoked("k2") }},
		{"settle too much", func(e Event) error { _, err := db.Settle(ctx, ada.ID, 40, 41, "req", t0, e); return err }, "msg_s1", apperr.Invalid, false,
			func() bool { return balance() != 60 }},
		{"settle with taken event id", func(e Event) error { _, err := db.Settle(ctx, ada.ID, 40, 10, "req", t0, e); return err }, "msg_taken", apperr.Conflict, false,
			func() bool { return balance() != 60 }},
		{"settle", func(e Event) error { _, err := db.Settle(ctx, ada.ID, 40, 10, "req", t0, e); return err }, "msg_s2", -1, true,
			func() bool { return balance() == 90 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op(ev(tt.eventID, ada.ID, "key.revoked"))
			if tt.wantKind < 0 && err != nil {
				t.Fatalf("%s = %v, want success", tt.name, err)
			}
			if tt.wantKind >= 0 {
				wantKind(t, tt.name, err, tt.wantKind)
			}
			if tt.eventID != "msg_taken" && eventExists(t, db, tt.eventID) != tt.wantEvent {
				t.Errorf("%s: event written = %v, want %v", tt.name, !tt.wantEvent, tt.wantEvent)
			}
			if tt.check() != tt.wantEvent {
				t.Errorf("%s: change applied = %v, want %v", tt.name, !tt.wantEvent, tt.wantEvent)
			}
		})
	}
	// The two events that committed are queued for delivery with the one
	// appended directly.
	if got := claimAll(t, db, t0); len(got) != 3 {
		t.Errorf("deliveries = %v, want msg_r1, msg_s2 and msg_taken", got)
	}
	// The ledger still sums to the balance.
	entries, _ := db.Ledger(ctx, ada.ID, 100)
	var sum int64
	for _, e := range entries {
		sum += e.Amount
	}
	if sum != balance() {
		t.Errorf("ledger sums to %d, balance %d", sum, balance())
	}
}

// L2, W1: the low-balance event fires only on the settlement that takes
// the balance from at or above the threshold to below it.
func testSettleLow(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	mkEndpoint(t, db, ada.ID, "https://a/all", false, "*")
	if _, err := db.Credit(ctx, ada.ID, 100, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	var lows []int64
	low := func(b int64) Event {
		lows = append(lows, b)
		return ev(fmt.Sprintf("msg_low_%d", len(lows)), ada.ID, "credits.low")
	}
	tests := []struct {
		name             string
		reserve, charge  int64
		threshold        int64
		wantBal          int64
		wantLow          bool
		wantLowAtBalance int64
	}{
		{"stays above", 30, 20, 50, 80, false, 0},
		{"lands on the threshold", 30, 30, 50, 50, false, 0},
		{"crosses", 40, 5, 50, 45, true, 45},
		{"already below", 10, 5, 50, 40, false, 0},
		{"disabled", 40, 40, 0, 0, false, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := fmt.Sprintf("req-%d", i)
			if _, err := db.Reserve(ctx, ada.ID, tt.reserve); err != nil {
				t.Fatal(err)
			}
			before := len(lows)
			bal, err := db.SettleLow(ctx, ada.ID, tt.reserve, tt.charge, ref, t0, tt.threshold, low, ev("msg_settled_"+ref, ada.ID, "review.completed"))
			if err != nil || bal != tt.wantBal {
				t.Fatalf("SettleLow() = %d, %v; want %d", bal, err, tt.wantBal)
			}
			fired := len(lows) > before
			if fired != tt.wantLow || (fired && lows[len(lows)-1] != tt.wantLowAtBalance) {
				t.Errorf("SettleLow(reserve %d, charge %d, threshold %d): low fired %v (%v), want %v at %d",
					tt.reserve, tt.charge, tt.threshold, fired, lows, tt.wantLow, tt.wantLowAtBalance)
			}
			if fired && !eventExists(t, db, fmt.Sprintf("msg_low_%d", len(lows))) {
				t.Errorf("low event not written")
			}
			if !eventExists(t, db, "msg_settled_"+ref) {
				t.Errorf("settle event not written")
			}
		})
	}
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE type = 'credits.low'`); n != 1 {
		t.Errorf("%d credits.low events, want 1", n)
	}
}

// L2, W1: with two reservations out at once, the fall below the threshold
// still raises credits.low exactly once; after credits lift the balance
// back above it, the next fall raises it again.
func testSettleLowConcurrentReservations(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	if _, err := db.Credit(ctx, ada.ID, 105, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	n := 0
	low := func(int64) Event {
		n++
		return ev(fmt.Sprintf("msg_lowc_%d", n), ada.ID, "credits.low")
	}
	for range 2 {
		if _, err := db.Reserve(ctx, ada.ID, 50); err != nil {
			t.Fatal(err)
		}
	}
	// b settles 10 (105 -> 95 once both are done), then a settles 1 (-> 94).
	if _, err := db.SettleLow(ctx, ada.ID, 50, 10, "b", t0, 100, low); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SettleLow(ctx, ada.ID, 50, 1, "a", t0, 100, low); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("credits.low raised %d times for one fall below the threshold, want 1", n)
	}
	if _, err := db.Credit(ctx, ada.ID, 100, LedgerGrant, "top-up", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Reserve(ctx, ada.ID, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SettleLow(ctx, ada.ID, 100, 100, "c", t0, 100, low); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("after a top-up and a new fall credits.low was raised %d times in all, want 2", n)
	}
}
