package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// The per-request store work of an API-key request on SQLite: look the key
// up, record its use and log the request.
func BenchmarkSQLiteRequestPath(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "diffgate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
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
