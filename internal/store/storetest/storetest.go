// Package storetest gives tests a fresh PostgreSQL schema of their own.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// EnvPostgres names the variable that enables the PostgreSQL tests.
const EnvPostgres = "DIFFGATE_TEST_POSTGRES_URL"

// PostgresDSN returns a DSN whose search_path is a new, empty schema that
// is dropped when the test ends. Without DIFFGATE_TEST_POSTGRES_URL the
// test is skipped with a message saying how to run it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set " + EnvPostgres + "=postgres://user@127.0.0.1:5432/db?sslmode=disable to run them")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "dg_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema (is PostgreSQL running at %s?): %v", EnvPostgres, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
