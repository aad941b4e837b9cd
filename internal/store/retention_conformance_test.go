package store

import (
	"context"
	"testing"
	"time"
)

// O2, W1: Purge deletes what the retention policy no longer keeps — old
// request logs, finished webhook events with their deliveries and
// attempts, finished reviews, ended sessions with their refresh tokens and
// old Idempotency-Keys — and keeps everything younger, every event with a
// delivery still pending and every unfinished review, in batches larger
// than one delete.
func testPurge(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	ep := mkEndpoint(t, db, ada.ID, "https://a/all", false, "*")
	day := 24 * time.Hour
	old, recent := t0, t0.Add(40*day) // now is t0 + 45 days
	now := t0.Add(45 * day)

	// Request logs: more old ones than one batch deletes.
	var logs []RequestLog
	for i := range purgeBatch + 5 {
		at := old
		if i%100 == 0 {
			at = recent
		}
		logs = append(logs, RequestLog{At: at, RequestID: "r", UserID: &ada.ID, Method: "POST", Route: "/v1/reviews", Status: 200})
	}
	if err := db.InsertRequestLogs(ctx, logs); err != nil {
		t.Fatal(err)
	}
	keptLogs := 0
	for i := range logs {
		if i%100 == 0 {
			keptLogs++
		}
	}

	// Events: an old delivered one (with an attempt), an old one whose
	// delivery is still pending, and a recent delivered one.
	for _, e := range []struct {
		id        string
		at        time.Time
		delivered bool
	}{{"msg_old_done", old, true}, {"msg_old_pending", old, false}, {"msg_new_done", recent, true}} {
		evt := ev(e.id, ada.ID, "review.completed")
		evt.CreatedAt = e.at
		if err := db.AppendEvents(ctx, e.at, evt); err != nil {
			t.Fatal(err)
		}
		if !e.delivered {
			continue
		}
		ds, err := db.ClaimDeliveries(ctx, e.at, time.Minute, 10)
		if err != nil || len(ds) == 0 {
			t.Fatalf("ClaimDeliveries = %v, %v", ds, err)
		}
		for _, d := range ds {
			if d.EventID == e.id {
				if err := db.RecordAttempt(ctx, d.ID, AttemptResult{At: e.at, Status: 204, Delivered: true}, 5); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	// Reviews: an old finished one, an old one still running (its lease
	// renewed), a recent finished one.
	if _, err := db.Credit(ctx, ada.ID, 100, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		id     string
		at     time.Time
		finish bool
	}{{"rev_old", old, true}, {"rev_running", old, false}, {"rev_new", recent, true}} {
		rv := review(r.id, ada.ID, 5, false)
		rv.CreatedAt, rv.LeaseUntil = r.at, now.Add(time.Minute)
		if err := db.CreateReview(ctx, rv, r.at); err != nil {
			t.Fatal(err)
		}
		if r.finish {
			if _, err := db.FinishReview(ctx, r.id, ReviewDone, "", 1, 2, r.at, 0, nil); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Sessions: expired long ago, revoked long ago, active.
	expired := Session{ID: "s_expired", UserID: ada.ID, CreatedAt: old, ExpiresAt: old.Add(day)}
	if err := db.CreateSession(ctx, expired, hashOf("rt-expired")); err != nil {
		t.Fatal(err)
	}
	mkSession(t, db, ada.ID, "s_revoked", "rt-revoked")
	if err := db.RevokeSession(ctx, "s_revoked", old.Add(day)); err != nil {
		t.Fatal(err)
	}
	live := Session{ID: "s_live", UserID: ada.ID, CreatedAt: recent, ExpiresAt: now.Add(30 * day)}
	if err := db.CreateSession(ctx, live, hashOf("rt-live")); err != nil {
		t.Fatal(err)
	}

	// Idempotency-Keys: an old finished one, an old claim a dead request
	// left pending, a fresh one.
	for _, k := range []struct {
		key  string
		at   time.Time
		done bool
	}{{"k-old", old, true}, {"k-stuck", old, false}, {"k-new", now.Add(-time.Hour), true}} {
		if _, err := db.BeginIdempotent(ctx, ada.ID, k.key, hashOf(k.key), k.at, k.at.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if k.done {
			if err := db.FinishIdempotent(ctx, ada.ID, k.key); err != nil {
				t.Fatal(err)
			}
		}
	}

	p, err := db.Purge(ctx, now, DefaultRetention)
	if err != nil {
		t.Fatalf("Purge() = %+v, %v", p, err)
	}
	want := Purged{RequestLogs: int64(len(logs) - keptLogs), Events: 1, Reviews: 1, Sessions: 2, IdempotencyKeys: 2}
	if p != want {
		t.Errorf("Purge() = %+v, want %+v", p, want)
	}
	counts := []struct {
		query string
		want  int
	}{
		{`SELECT count(*) FROM request_logs`, keptLogs},
		{`SELECT count(*) FROM events WHERE id IN ('msg_old_pending', 'msg_new_done')`, 2},
		{`SELECT count(*) FROM events`, 2},
		{`SELECT count(*) FROM webhook_deliveries`, 2},
		{`SELECT count(*) FROM webhook_attempts`, 1},
		{`SELECT count(*) FROM reviews WHERE id IN ('rev_running', 'rev_new')`, 2},
		{`SELECT count(*) FROM reviews`, 2},
		{`SELECT count(*) FROM sessions`, 1},
		{`SELECT count(*) FROM refresh_tokens`, 1},
		{`SELECT count(*) FROM idempotency_keys WHERE idem_key = 'k-new'`, 1},
		{`SELECT count(*) FROM idempotency_keys`, 1},
	}
	for _, cnt := range counts {
		if got := countRows(t, db, cnt.query); got != cnt.want {
			t.Errorf("%s = %d, want %d", cnt.query, got, cnt.want)
		}
	}
	if eps, err := db.ListWebhookEndpoints(ctx, ada.ID); err != nil || len(eps) != 1 || eps[0].ID != ep.ID {
		t.Errorf("endpoints after the purge = %v, %v; want the endpoint kept", eps, err)
	}
	// The ledger is never purged: it still sums.
	if sum, settled := ledgerSum(t, db, ada.ID); sum != settled || sum != 96 {
		t.Errorf("ledger sums to %d, balance + held %d; want 96", sum, settled)
	}
	// A second purge finds nothing; a zero policy keeps everything.
	if p, err := db.Purge(ctx, now, DefaultRetention); err != nil || p != (Purged{}) {
		t.Errorf("second Purge() = %+v, %v; want nothing", p, err)
	}
	if p, err := db.Purge(ctx, now.Add(1000*day), Retention{}); err != nil || p != (Purged{}) {
		t.Errorf("Purge(no retention) = %+v, %v; want nothing", p, err)
	}
}
