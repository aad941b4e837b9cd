package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/ids"
)

// benchStore is a migrated SQLite store in a temporary directory.
func benchStore(b *testing.B) *DB {
	b.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "diffgate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return db
}

// The per-request store work of an API-key request on SQLite: look the key
// up, record its use and log the request.
func BenchmarkSQLiteRequestPath(b *testing.B) {
	ctx := context.Background()
	db := benchStore(b)
	u, err := db.CreateUser(ctx, User{Email: "a@example.com", PasswordHash: "x", Role: RoleUser, CreatedAt: t0, PasswordChangedAt: t0})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, APIKey{ID: "k1", UserID: u.ID, Name: "n", Hash: hashOf("s"), Scopes: []string{"reviews:write"}, CreatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	b.Run("APIKeyByID", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.APIKeyByID(ctx, "k1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("TouchAPIKey", func(b *testing.B) {
		now := t0
		for b.Loop() {
			now = now.Add(time.Millisecond)
			if err := db.TouchAPIKey(ctx, "k1", now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("InsertRequestLog", func(b *testing.B) {
		l := RequestLog{At: t0, RequestID: "r", UserID: &u.ID, KeyID: "k1", Method: "POST", Route: "/v1/reviews",
			Reviewers: []string{"builtin"}, Status: 200, LatencyMS: 3, DiffBytes: 1200, Findings: 2}
		for b.Loop() {
			if err := db.InsertRequestLog(ctx, l); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// One synchronous review's writes on SQLite, many at once as under load:
// the review recorded with its reservation, then finished with its charge
// and its event (L2, W1). The single writer bounds review throughput.
func BenchmarkSQLiteReviewWrites(b *testing.B) {
	ctx := context.Background()
	db := benchStore(b)
	const users = 100
	uids := make([]int64, users)
	for i := range uids {
		u, err := db.CreateUser(ctx, User{Email: fmt.Sprintf("u%d@example.com", i), PasswordHash: "x", Role: RoleUser, CreatedAt: t0, PasswordChangedAt: t0})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Credit(ctx, u.ID, 1<<40, LedgerGrant, "grant", t0); err != nil {
			b.Fatal(err)
		}
		uids[i] = u.ID
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			id := ids.New("rev_", time.Now())
			uid := uids[i%users]
			r := Review{ID: id, UserID: uid, KeyID: "k", Reviewers: []string{"builtin"}, Reserved: 10, Owner: "inst", LeaseUntil: t0.Add(time.Minute)}
			if err := db.CreateReview(ctx, r, t0); err != nil {
				b.Fatal(err)
			}
			evt := Event{ID: ids.New("msg_", time.Now()), UserID: uid, Type: "review.completed", Payload: []byte(`{"review_id":"` + id + `"}`)}
			if _, err := db.FinishReview(ctx, id, ReviewDone, "", 2, 4, t0, 5, nil, evt); err != nil {
				b.Fatal(err)
			}
		}
	})
}
