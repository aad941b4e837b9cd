package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/store/storetest"
)

// opener returns a freshly migrated, empty store and the DSN that opens
// another, independent handle on the same database (a "fresh connection",
// or another replica).
type opener func(t *testing.T) (*DB, string)

// TestConformanceSQLite runs the store contract on embedded SQLite (S1).
func TestConformanceSQLite(t *testing.T) {
	runConformance(t, func(t *testing.T) (*DB, string) {
		dsn := filepath.Join(t.TempDir(), "data", "diffgate.db")
		return openMigrated(t, dsn), dsn
	})
}

// TestConformancePostgres runs the same contract on PostgreSQL, each test in
// a schema of its own that is dropped afterwards.
func TestConformancePostgres(t *testing.T) {
	// Each case skips, saying how to enable it, without PostgreSQL.
	runConformance(t, func(t *testing.T) (*DB, string) {
		dsn := storetest.PostgresDSN(t)
		return openMigrated(t, dsn), dsn
	})
}

func openMigrated(t *testing.T, dsn string) *DB {
	t.Helper()
	db := openDSN(t, dsn)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	return db
}

func openDSN(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open(%q) = %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return db
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func wantKind(t *testing.T, what string, err error, want apperr.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s = nil error, want kind %v", what, want)
		return
	}
	if got := apperr.KindOf(err); got != want {
		t.Errorf("%s = %v (kind %v), want kind %v", what, err, got, want)
	}
}

// t0 has nanoseconds and a non-UTC zone on purpose: stored times must come
// back in UTC, truncated to microseconds, and Equal to what went in.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func sameTime(a, b time.Time) bool { return micro(a).Equal(b) && b.Location() == time.UTC }

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameTime(*a, *b)
}

// conformance holds the store under test and how to open another handle on
// the same database.
type conformance struct {
	db  *DB
	dsn string
}

func runConformance(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, c conformance)
	}{
		{"Migrate", testMigrate},
		{"Users", testUsers},
		{"SetPasswordRevokesSessions", testSetPassword},
		{"Sessions", testSessions},
		{"RotateRefresh", testRotateRefresh},
		{"RotateRefreshReuseRevokesCommitted", testRotateReuseCommitted},
		{"RotateRefreshConcurrentNoGrace", testRotateConcurrentNoGrace},
		{"RotateRefreshConcurrentGrace", testRotateConcurrentGrace},
		{"APIKeys", testAPIKeys},
		{"RequestLogs", testRequestLogs},
		{"Settings", testSettings},
		{"TakeSettingConcurrent", testTakeSettingConcurrent},
		{"SchemaHoldsNoCode", testLiveSchema},
		{"Credits", testCredits},
		{"CreditsConcurrentSpend", testCreditsConcurrent},
		{"PurchaseOnce", testPurchaseOnce},
		{"RotateGraceSuccessorUsed", testRotateGraceSuccessorUsed},
		{"ClaimSetup", testClaimSetup},
		{"Idempotency", testIdempotency},
		{"SettleLowConcurrentReservations", testSettleLowConcurrentReservations},
		{"EventsFanOut", testEventsFanOut},
		{"WebhookEndpoints", testWebhookEndpoints},
		{"ClaimLease", testClaimLease},
		{"ClaimConcurrent", testClaimConcurrent},
		{"RecordAttempt", testRecordAttempt},
		{"EventsAtomic", testEventsAtomic},
		{"SettleLow", testSettleLow},
		{"Reviews", testReviews},
		{"ReviewsConcurrent", testReviewsConcurrent},
		{"FailExpiredReviews", testFailExpired},
		{"FailExpiredReviewsSkipsBadRow", testFailExpiredSkipsBadRow},
		{"Purge", testPurge},
		{"RefundReview", testRefundReview},
		{"LargeAmounts", testLargeAmounts},
		{"FailExpiredReviewsConcurrent", testFailExpiredConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, dsn := open(t)
			tt.run(t, conformance{db: db, dsn: dsn})
		})
	}
}

func mkUser(t *testing.T, db *DB, email string) User {
	t.Helper()
	u, err := db.CreateUser(context.Background(), User{
		Email: email, PasswordHash: "$2a$12$hash-of-" + email, Role: RoleUser, CreatedAt: t0, PasswordChangedAt: t0,
	})
	if err != nil {
		t.Fatalf("CreateUser(%q) = %v", email, err)
	}
	return u
}

func mkSession(t *testing.T, db *DB, userID int64, id, refresh string) Session {
	t.Helper()
	s := Session{ID: id, UserID: userID, CreatedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour)}
	if err := db.CreateSession(context.Background(), s, hashOf(refresh)); err != nil {
		t.Fatalf("CreateSession(%q) = %v", id, err)
	}
	return s
}

func active(t *testing.T, db *DB, id string, now time.Time) bool {
	t.Helper()
	ok, err := db.SessionActive(context.Background(), id, now)
	if err != nil {
		t.Fatalf("SessionActive(%q) = %v", id, err)
	}
	return ok
}

func testMigrate(t *testing.T, c conformance) {
	ctx := context.Background()
	// A second run, and a run from an independent handle, change nothing.
	if err := c.db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate() = %v", err)
	}
	other := openDSN(t, c.dsn)
	if err := other.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() from a second handle = %v", err)
	}
	ms, err := loadMigrations(c.db.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	var n, maxV int
	if err := c.db.r.QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &maxV); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if n != len(ms) || maxV != ms[len(ms)-1].version {
		t.Errorf("schema_migrations has %d rows up to version %d, want %d up to %d", n, maxV, len(ms), ms[len(ms)-1].version)
	}
	if err := c.db.Ping(ctx); err != nil {
		t.Errorf("Ping() = %v", err)
	}
	if d := c.db.Dialect(); d != DialectSQLite && d != DialectPostgres {
		t.Errorf("Dialect() = %q", d)
	}
}

func testUsers(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	if n, err := db.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers() on empty store = %d, %v, want 0", n, err)
	}
	in := User{Email: "ada@example.com", PasswordHash: "$2a$12$abc", Role: RoleOwner, CreatedAt: t0, PasswordChangedAt: t0.Add(time.Second)}
	u, err := db.CreateUser(ctx, in)
	if err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	if u.ID == 0 {
		t.Errorf("CreateUser() returned ID 0")
	}
	u2 := mkUser(t, db, "bob@example.com")
	if u2.ID == u.ID {
		t.Errorf("two users share ID %d", u.ID)
	}

	_, err = db.CreateUser(ctx, User{Email: "ada@example.com", PasswordHash: "x", Role: RoleUser, CreatedAt: t0, PasswordChangedAt: t0})
	wantKind(t, "CreateUser(duplicate email)", err, apperr.Conflict)
	_, err = db.CreateUser(ctx, User{Email: "eve@example.com", PasswordHash: "x", Role: "root", CreatedAt: t0, PasswordChangedAt: t0})
	wantKind(t, "CreateUser(role root)", err, apperr.Invalid)

	for _, get := range []struct {
		name string
		fn   func() (User, error)
	}{
		{"UserByEmail", func() (User, error) { return db.UserByEmail(ctx, "ada@example.com") }},
		{"UserByID", func() (User, error) { return db.UserByID(ctx, u.ID) }},
	} {
		got, err := get.fn()
		if err != nil {
			t.Fatalf("%s() = %v", get.name, err)
		}
		if got.ID != u.ID || got.Email != in.Email || got.PasswordHash != in.PasswordHash || got.Role != in.Role ||
			!sameTime(in.CreatedAt, got.CreatedAt) || !sameTime(in.PasswordChangedAt, got.PasswordChangedAt) {
			t.Errorf("%s() = %+v, want %+v", get.name, got, in)
		}
		if got != u {
			t.Errorf("%s() = %+v, CreateUser returned %+v", get.name, got, u)
		}
	}
	_, err = db.UserByEmail(ctx, "ADA@example.com")
	wantKind(t, "UserByEmail(other case)", err, apperr.NotFound)
	_, err = db.UserByID(ctx, u.ID+1000)
	wantKind(t, "UserByID(unknown)", err, apperr.NotFound)
	if n, err := db.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers() = %d, %v, want 2", n, err)
	}
}

// A2: a password change revokes every session of the user, and only theirs.
func testSetPassword(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	other := mkUser(t, db, "bob@example.com")
	mkSession(t, db, u.ID, "s1", "r1")
	mkSession(t, db, u.ID, "s2", "r2")
	mkSession(t, db, other.ID, "s3", "r3")
	now := t0.Add(time.Hour)
	if err := db.SetPassword(ctx, u.ID, "$2a$12$new", now); err != nil {
		t.Fatalf("SetPassword() = %v", err)
	}
	got, err := db.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "$2a$12$new" || !sameTime(now, got.PasswordChangedAt) {
		t.Errorf("after SetPassword user = %+v, want hash $2a$12$new changed at %v", got, now)
	}
	for _, tt := range []struct {
		id   string
		want bool
	}{{"s1", false}, {"s2", false}, {"s3", true}} {
		if a := active(t, db, tt.id, now); a != tt.want {
			t.Errorf("SessionActive(%q) after SetPassword = %v, want %v", tt.id, a, tt.want)
		}
	}
	_, err = db.RotateRefresh(ctx, hashOf("r1"), hashOf("r1b"), now, 10*time.Second)
	wantKind(t, "RotateRefresh after SetPassword", err, apperr.Unauthorized)
	wantKind(t, "SetPassword(unknown user)", db.SetPassword(ctx, u.ID+1000, "x", now), apperr.NotFound)
}

func testSessions(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	other := mkUser(t, db, "bob@example.com")
	s := mkSession(t, db, u.ID, "sess-a", "ra")
	mkSession(t, db, u.ID, "sess-b", "rb")
	mkSession(t, db, other.ID, "sess-c", "rc")

	wantKind(t, "CreateSession(duplicate id)", db.CreateSession(ctx, s, hashOf("fresh")), apperr.Conflict)
	dupTok := Session{ID: "sess-dup", UserID: u.ID, CreatedAt: t0, ExpiresAt: s.ExpiresAt}
	wantKind(t, "CreateSession(duplicate token)", db.CreateSession(ctx, dupTok, hashOf("ra")), apperr.Conflict)
	if active(t, db, "sess-dup", t0) {
		t.Errorf("a failed CreateSession left its session behind")
	}
	orphan := Session{ID: "sess-x", UserID: u.ID + 1000, CreatedAt: t0, ExpiresAt: s.ExpiresAt}
	wantKind(t, "CreateSession(unknown user)", db.CreateSession(ctx, orphan, hashOf("rx")), apperr.NotFound)

	for _, tt := range []struct {
		name string
		id   string
		now  time.Time
		want bool
	}{
		{"active", "sess-a", t0.Add(time.Hour), true},
		{"last microsecond", "sess-a", s.ExpiresAt.Add(-time.Microsecond), true},
		{"at expiry", "sess-a", s.ExpiresAt, false},
		{"unknown", "nope", t0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := active(t, db, tt.id, tt.now); got != tt.want {
				t.Errorf("SessionActive(%q, %v) = %v, want %v", tt.id, tt.now, got, tt.want)
			}
		})
	}

	now := t0.Add(time.Hour)
	if err := db.RevokeSession(ctx, "sess-a", now); err != nil {
		t.Fatalf("RevokeSession() = %v", err)
	}
	if err := db.RevokeSession(ctx, "sess-a", now.Add(time.Minute)); err != nil {
		t.Errorf("RevokeSession() twice = %v, want nil", err)
	}
	wantKind(t, "RevokeSession(unknown)", db.RevokeSession(ctx, "nope", now), apperr.NotFound)
	if active(t, db, "sess-a", now) {
		t.Errorf("revoked session still active")
	}

	// Logout by refresh token, also by a token already rotated away.
	if _, err := db.RotateRefresh(ctx, hashOf("rb"), hashOf("rb2"), now, 0); err != nil {
		t.Fatalf("RotateRefresh() = %v", err)
	}
	uid, err := db.RevokeSessionByRefresh(ctx, hashOf("rb"), now)
	if err != nil || uid != u.ID {
		t.Errorf("RevokeSessionByRefresh() = %d, %v, want %d, nil", uid, err, u.ID)
	}
	if active(t, db, "sess-b", now) {
		t.Errorf("session still active after logout")
	}
	_, err = db.RotateRefresh(ctx, hashOf("rb2"), hashOf("rb3"), now, 0)
	wantKind(t, "RotateRefresh after logout", err, apperr.Unauthorized)
	if uid, err := db.RevokeSessionByRefresh(ctx, hashOf("rb2"), now); err != nil || uid != u.ID {
		t.Errorf("RevokeSessionByRefresh() twice = %d, %v, want %d, nil", uid, err, u.ID)
	}
	_, err = db.RevokeSessionByRefresh(ctx, hashOf("unknown"), now)
	wantKind(t, "RevokeSessionByRefresh(unknown)", err, apperr.Unauthorized)

	// RevokeUserSessions touches only that user.
	mkSession(t, db, u.ID, "sess-d", "rd")
	if err := db.RevokeUserSessions(ctx, u.ID, now); err != nil {
		t.Fatalf("RevokeUserSessions() = %v", err)
	}
	if active(t, db, "sess-d", now) {
		t.Errorf("RevokeUserSessions left sess-d active")
	}
	if !active(t, db, "sess-c", now) {
		t.Errorf("RevokeUserSessions revoked another user's session")
	}
}

// A2: rotation, grace window, reuse detection and absolute expiry, one call
// at a time.
func testRotateRefresh(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	const grace = 10 * time.Second
	tests := []struct {
		name string
		// steps run in order on a fresh session whose first token is "t0".
		steps []rotateStep
		// wantActive is the session state after the last step.
		wantActive bool
	}{
		{"first use", []rotateStep{{"t0", "t1", 0, grace, apperr.Internal, true}}, true},
		{"chain", []rotateStep{
			{"t0", "t1", 0, grace, apperr.Internal, true},
			{"t1", "t2", time.Minute, grace, apperr.Internal, true},
			{"t2", "t3", 2 * time.Minute, grace, apperr.Internal, true},
		}, true},
		{"reuse inside grace", []rotateStep{
			{"t0", "t1", 0, grace, apperr.Internal, true},
			{"t0", "t1b", grace, grace, apperr.Internal, true},
			{"t1b", "t2", grace + time.Second, grace, apperr.Internal, true},
		}, true},
		{"reuse outside grace revokes", []rotateStep{
			{"t0", "t1", 0, grace, apperr.Internal, true},
			{"t0", "t1b", grace + time.Microsecond, grace, apperr.Unauthorized, false},
			{"t1", "t2", grace + time.Second, grace, apperr.Unauthorized, false},
		}, false},
		{"no grace: immediate reuse revokes", []rotateStep{
			{"t0", "t1", 0, 0, apperr.Internal, true},
			{"t0", "t1b", 0, 0, apperr.Unauthorized, false},
		}, false},
		{"unknown token", []rotateStep{{"nope", "t1", 0, grace, apperr.Unauthorized, false}}, true},
		// Expiry refuses the refresh without revoking: the session is still
		// active before ExpiresAt, when wantActive is checked.
		{"expired session", []rotateStep{{"t0", "t1", 30 * 24 * time.Hour, grace, apperr.Unauthorized, false}}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid := fmt.Sprintf("rot-%d", i)
			// Tokens are namespaced per case so hashes never collide.
			tok := func(s string) []byte { return hashOf(sid + "/" + s) }
			s := Session{ID: sid, UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour)}
			if err := db.CreateSession(ctx, s, tok("t0")); err != nil {
				t.Fatal(err)
			}
			for _, st := range tt.steps {
				now := t0.Add(st.after)
				got, err := db.RotateRefresh(ctx, tok(st.old), tok(st.new), now, st.grace)
				if st.ok {
					if err != nil {
						t.Fatalf("RotateRefresh(%s->%s, +%v) = %v, want success", st.old, st.new, st.after, err)
					}
					if got.ID != sid || got.UserID != u.ID || !sameTime(s.CreatedAt, got.CreatedAt) ||
						!sameTime(s.ExpiresAt, got.ExpiresAt) || got.RevokedAt != nil {
						t.Errorf("RotateRefresh(%s->%s) session = %+v, want %+v", st.old, st.new, got, s)
					}
					continue
				}
				wantKind(t, fmt.Sprintf("RotateRefresh(%s->%s, +%v)", st.old, st.new, st.after), err, st.kind)
			}
			if got := active(t, db, sid, t0.Add(time.Hour)); got != tt.wantActive {
				t.Errorf("SessionActive after steps = %v, want %v", got, tt.wantActive)
			}
		})
	}

	// A revoked session refuses even a never-used token.
	s := mkSession(t, db, u.ID, "rot-revoked", "rv0")
	if err := db.RevokeSession(ctx, s.ID, t0); err != nil {
		t.Fatal(err)
	}
	_, err := db.RotateRefresh(ctx, hashOf("rv0"), hashOf("rv1"), t0, grace)
	wantKind(t, "RotateRefresh(revoked session)", err, apperr.Unauthorized)
}

type rotateStep struct {
	old, new string
	after    time.Duration
	grace    time.Duration
	kind     apperr.Kind // wanted error kind when !ok
	ok       bool
}

// A2: reuse outside the grace window returns an error, yet the revocation
// is committed: an independent handle sees the session revoked.
func testRotateReuseCommitted(t *testing.T, c conformance) {
	ctx := context.Background()
	u := mkUser(t, c.db, "ada@example.com")
	mkSession(t, c.db, u.ID, "stolen", "a")
	if _, err := c.db.RotateRefresh(ctx, hashOf("a"), hashOf("b"), t0, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Minute)
	_, err := c.db.RotateRefresh(ctx, hashOf("a"), hashOf("c"), later, 10*time.Second)
	wantKind(t, "RotateRefresh(reused token)", err, apperr.Unauthorized)

	fresh := openDSN(t, c.dsn)
	if active(t, fresh, "stolen", later) {
		t.Errorf("SessionActive on a fresh connection = true after refresh-token reuse, want false")
	}
	_, err = fresh.RotateRefresh(ctx, hashOf("b"), hashOf("d"), later, 10*time.Second)
	wantKind(t, "RotateRefresh(rightful token after theft)", err, apperr.Unauthorized)
}

// rotateConcurrently presents the same refresh token from n goroutines at
// the same instant and returns how many succeeded and how many failed with
// Unauthorized, plus the new tokens that were handed out.
func rotateConcurrently(t *testing.T, db *DB, old string, n int, now time.Time, grace time.Duration) (ok, unauthorized int, issued []string) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
		other []error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			next := fmt.Sprintf("%s-next-%d", old, i)
			_, err := db.RotateRefresh(context.Background(), hashOf(old), hashOf(next), now, grace)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
				issued = append(issued, next)
			case apperr.KindOf(err) == apperr.Unauthorized:
				unauthorized++
			default:
				other = append(other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range other {
		t.Errorf("concurrent RotateRefresh = %v, want success or Unauthorized", err)
	}
	return ok, unauthorized, issued
}

// warmPool opens connections ahead of a race, so the racing calls are not
// spread out by connection setup and really overlap.
func warmPool(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	if err := db.PutSetting(ctx, "warm-up", "x"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := db.TakeSetting(ctx, "warm-up", "wrong"); err != nil {
				t.Errorf("warm-up TakeSetting() = %v", err)
			}
		})
	}
	wg.Wait()
}

// A2, adversarial: with no grace window, 20 simultaneous presentations of
// one token are one legitimate rotation plus 19 reuses. Expected outcome:
// exactly one call succeeds, the other 19 are Unauthorized, and because a
// reuse outside the (empty) window means theft the whole family ends
// revoked — including the token the winner just received.
func testRotateConcurrentNoGrace(t *testing.T, c conformance) {
	const n = 20
	u := mkUser(t, c.db, "ada@example.com")
	warmPool(t, c.db, n)
	mkSession(t, c.db, u.ID, "race", "tok")
	ok, unauth, issued := rotateConcurrently(t, c.db, "tok", n, t0, 0)
	if ok != 1 || unauth != n-1 {
		t.Fatalf("concurrent RotateRefresh with grace 0: %d succeeded, %d unauthorized; want 1 and %d", ok, unauth, n-1)
	}
	fresh := openDSN(t, c.dsn)
	if active(t, fresh, "race", t0) {
		t.Errorf("session active after concurrent reuse, want revoked")
	}
	_, err := fresh.RotateRefresh(context.Background(), hashOf(issued[0]), hashOf("after"), t0.Add(time.Second), 0)
	wantKind(t, "RotateRefresh(winner's token after family revoked)", err, apperr.Unauthorized)
}

// A2: inside the grace window the same 20 simultaneous refreshes are a
// client racing itself. Expected outcome: all 20 succeed, each gets its own
// usable token, and the session stays active.
func testRotateConcurrentGrace(t *testing.T, c conformance) {
	const n = 20
	u := mkUser(t, c.db, "ada@example.com")
	warmPool(t, c.db, n)
	mkSession(t, c.db, u.ID, "race", "tok")
	ok, unauth, issued := rotateConcurrently(t, c.db, "tok", n, t0, 10*time.Second)
	if ok != n || unauth != 0 {
		t.Fatalf("concurrent RotateRefresh with grace 10s: %d succeeded, %d unauthorized; want %d and 0", ok, unauth, n)
	}
	if !active(t, c.db, "race", t0) {
		t.Errorf("session revoked after in-grace concurrent refresh")
	}
	slices.Sort(issued)
	if len(slices.Compact(issued)) != n {
		t.Errorf("issued tokens are not distinct: %v", issued)
	}
	for _, tok := range issued {
		if _, err := c.db.RotateRefresh(context.Background(), hashOf(tok), hashOf(tok+"+"), t0.Add(time.Second), 10*time.Second); err != nil {
			t.Errorf("RotateRefresh(%s) = %v, want success", tok, err)
		}
	}
}

// K1, K2, K4, K5.
func testAPIKeys(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	bob := mkUser(t, db, "bob@example.com")
	exp := t0.Add(90 * 24 * time.Hour)
	keys := []APIKey{
		{ID: "k1", UserID: ada.ID, Name: "ci", Hash: hashOf("secret1"), Scopes: []string{"reviews:write", "reviews:read"}, CreatedAt: t0, ExpiresAt: &exp},
		{ID: "k2", UserID: ada.ID, Name: "sandbox", Sandbox: true, Hash: hashOf("secret2"), Scopes: []string{"reviews:write"}, CreatedAt: t0.Add(time.Second)},
		{ID: "k3", UserID: bob.ID, Name: "bob", Hash: hashOf("secret3"), CreatedAt: t0},
	}
	for _, k := range keys {
		if err := db.CreateAPIKey(ctx, k); err != nil {
			t.Fatalf("CreateAPIKey(%s) = %v", k.ID, err)
		}
	}
	wantKind(t, "CreateAPIKey(duplicate id)", db.CreateAPIKey(ctx, keys[0]), apperr.Conflict)
	wantKind(t, "CreateAPIKey(unknown user)", db.CreateAPIKey(ctx, APIKey{ID: "k9", UserID: bob.ID + 1000, Hash: []byte{1}, CreatedAt: t0}), apperr.NotFound)

	for _, want := range keys {
		got, err := db.APIKeyByID(ctx, want.ID)
		if err != nil {
			t.Fatalf("APIKeyByID(%s) = %v", want.ID, err)
		}
		if !sameKey(want, got) {
			t.Errorf("APIKeyByID(%s) = %+v, want %+v", want.ID, got, want)
		}
	}
	_, err := db.APIKeyByID(ctx, "nope")
	wantKind(t, "APIKeyByID(unknown)", err, apperr.NotFound)

	list, err := db.ListAPIKeys(ctx, ada.ID)
	if err != nil {
		t.Fatalf("ListAPIKeys() = %v", err)
	}
	if len(list) != 2 || !sameKey(keys[0], list[0]) || !sameKey(keys[1], list[1]) {
		t.Errorf("ListAPIKeys(ada) = %+v, want k1, k2", list)
	}

	// K4: revocation is visible at once, also through an independent handle
	// standing in for another replica.
	replica := openDSN(t, c.dsn)
	if _, err := replica.APIKeyByID(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	wantKind(t, "RevokeAPIKey(other user's key)", db.RevokeAPIKey(ctx, bob.ID, "k1", now), apperr.NotFound)
	wantKind(t, "RevokeAPIKey(unknown)", db.RevokeAPIKey(ctx, ada.ID, "nope", now), apperr.NotFound)
	if err := db.RevokeAPIKey(ctx, ada.ID, "k1", now); err != nil {
		t.Fatalf("RevokeAPIKey() = %v", err)
	}
	wantKind(t, "RevokeAPIKey(again)", db.RevokeAPIKey(ctx, ada.ID, "k1", now), apperr.Conflict)
	for name, h := range map[string]*DB{"same handle": db, "replica": replica} {
		got, err := h.APIKeyByID(ctx, "k1")
		if err != nil || !sameTimePtr(&now, got.RevokedAt) {
			t.Errorf("APIKeyByID(k1) on %s after revoke: RevokedAt = %v, err %v, want %v", name, got.RevokedAt, err, now)
		}
	}
	if got, _ := db.APIKeyByID(ctx, "k3"); got.RevokedAt != nil {
		t.Errorf("bob's key revoked by ada's revoke")
	}

	// K5: last use only moves forward.
	for _, tt := range []struct {
		at   time.Time
		want time.Time
	}{
		{t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)},
		{t0.Add(time.Hour), t0.Add(2 * time.Hour)},
		{t0.Add(3 * time.Hour), t0.Add(3 * time.Hour)},
	} {
		if err := db.TouchAPIKey(ctx, "k2", tt.at); err != nil {
			t.Fatalf("TouchAPIKey() = %v", err)
		}
		got, err := db.APIKeyByID(ctx, "k2")
		if err != nil || !sameTimePtr(&tt.want, got.LastUsedAt) {
			t.Errorf("after TouchAPIKey(%v) LastUsedAt = %v (err %v), want %v", tt.at, got.LastUsedAt, err, tt.want)
		}
	}
	if err := db.TouchAPIKey(ctx, "nope", now); err != nil {
		t.Errorf("TouchAPIKey(unknown) = %v, want nil", err)
	}
}

func sameKey(a, b APIKey) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.Name == b.Name && a.Sandbox == b.Sandbox &&
		bytes.Equal(a.Hash, b.Hash) && slices.Equal(a.Scopes, b.Scopes) && sameTime(a.CreatedAt, b.CreatedAt) &&
		sameTimePtr(a.LastUsedAt, b.LastUsedAt) && sameTimePtr(a.ExpiresAt, b.ExpiresAt) && sameTimePtr(a.RevokedAt, b.RevokedAt)
}

// D2: metadata only, per user, newest first.
func testRequestLogs(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	ada := mkUser(t, db, "ada@example.com")
	bob := mkUser(t, db, "bob@example.com")
	var want []RequestLog
	for i := range 5 {
		l := RequestLog{
			At: t0.Add(time.Duration(i) * time.Second), RequestID: fmt.Sprintf("req-%d", i), UserID: &ada.ID,
			KeyID: "k1", Method: "POST", Route: "/v1/reviews", Reviewers: []string{"builtin", "anthropic"},
			Models: []string{"claude-x"}, Status: 200, LatencyMS: int64(10 + i), DiffBytes: int64(1000 * i),
			Findings: i, Cached: i%2 == 1,
		}
		want = append(want, l)
	}
	// The batch path writes ada's rows in one transaction.
	if err := db.InsertRequestLogs(ctx, want); err != nil {
		t.Fatalf("InsertRequestLogs() = %v", err)
	}
	for _, l := range []RequestLog{
		{At: t0, RequestID: "bob", UserID: &bob.ID, Method: "GET", Route: "/v1/keys", Status: 200},
		{At: t0, RequestID: "anon", Method: "POST", Route: "/v1/login", Status: 401},
	} {
		if err := db.InsertRequestLog(ctx, l); err != nil {
			t.Fatalf("InsertRequestLog(%s) = %v", l.RequestID, err)
		}
	}
	slices.Reverse(want)
	for _, tt := range []struct {
		limit, want int
	}{{0, 5}, {3, 3}, {100, 5}} {
		got, err := db.ListRequestLogs(ctx, ada.ID, tt.limit)
		if err != nil {
			t.Fatalf("ListRequestLogs(limit %d) = %v", tt.limit, err)
		}
		if len(got) != tt.want {
			t.Fatalf("ListRequestLogs(limit %d) returned %d rows, want %d", tt.limit, len(got), tt.want)
		}
		for i, g := range got {
			w := want[i]
			if g.ID == 0 || g.UserID == nil || *g.UserID != ada.ID || !sameTime(w.At, g.At) || g.RequestID != w.RequestID ||
				g.KeyID != w.KeyID || g.Method != w.Method || g.Route != w.Route || !slices.Equal(g.Reviewers, w.Reviewers) ||
				!slices.Equal(g.Models, w.Models) || g.Status != w.Status || g.LatencyMS != w.LatencyMS ||
				g.DiffBytes != w.DiffBytes || g.Findings != w.Findings || g.Cached != w.Cached {
				t.Errorf("ListRequestLogs()[%d] = %+v, want %+v", i, g, w)
			}
		}
	}
	got, err := db.ListRequestLogs(ctx, bob.ID, 10)
	if err != nil || len(got) != 1 || got[0].RequestID != "bob" || got[0].Reviewers != nil {
		t.Errorf("ListRequestLogs(bob) = %+v, %v, want only bob's row with no reviewers", got, err)
	}
}

func testSettings(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	_, err := db.GetSetting(ctx, "setup_token")
	wantKind(t, "GetSetting(unset)", err, apperr.NotFound)
	for _, v := range []string{"first", "second"} {
		if err := db.PutSetting(ctx, "setup_token", v); err != nil {
			t.Fatalf("PutSetting(%q) = %v", v, err)
		}
		if got, err := db.GetSetting(ctx, "setup_token"); err != nil || got != v {
			t.Errorf("GetSetting() = %q, %v, want %q", got, err, v)
		}
	}
	for _, tt := range []struct {
		key, want string
		taken     bool
	}{
		{"setup_token", "first", false},
		{"setup_token", "secon", false},
		{"missing", "second", false},
		{"setup_token", "second", true},
		{"setup_token", "second", false},
	} {
		got, err := db.TakeSetting(ctx, tt.key, tt.want)
		if err != nil || got != tt.taken {
			t.Errorf("TakeSetting(%q, %q) = %v, %v, want %v", tt.key, tt.want, got, err, tt.taken)
		}
	}
	_, err = db.GetSetting(ctx, "setup_token")
	wantKind(t, "GetSetting(taken)", err, apperr.NotFound)
}

// A one-time setup token is taken by exactly one of many racing callers.
func testTakeSettingConcurrent(t *testing.T, c conformance) {
	const n = 20
	warmPool(t, c.db, n)
	if err := c.db.PutSetting(context.Background(), "setup_token", "tok"); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		taken int
		start = make(chan struct{})
		errs  []error
	)
	for range n {
		wg.Go(func() {
			<-start
			ok, err := c.db.TakeSetting(context.Background(), "setup_token", "tok")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				taken++
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("TakeSetting() = %v", err)
	}
	if taken != 1 {
		t.Errorf("%d concurrent TakeSetting calls succeeded, want exactly 1", taken)
	}
}

// D2: the live schema, as the database reports it, has no column that
// could hold code.
func testLiveSchema(t *testing.T, c conformance) {
	ctx := context.Background()
	var q string
	if c.db.Dialect() == DialectSQLite {
		q = `SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p
		     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
	} else {
		q = `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()`
	}
	rows, err := c.db.r.QueryContext(ctx, q)
	if err != nil {
		t.Fatalf("list columns: %v", err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var col column
		if err := rows.Scan(&col.table, &col.name, &col.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cols) < 10 {
		t.Fatalf("found only %d columns; the schema query is broken", len(cols))
	}
	checkColumns(t, cols)
}

// column is one column of the schema: table, name and declared type.
type column struct{ table, name, typ string }

// codeWords may not appear as a word of any column name: they name things
// that hold source, diffs or model output. Numeric measurements of such
// things (diff_bytes) are allowed.
var codeWords = []string{
	"diff", "patch", "code", "content", "contents", "source", "snippet", "hunk", "hunks", "body", "text",
	"payload", "prompt", "completion", "response", "excerpt", "suggestion", "message", "line", "lines", "file", "files",
}

// textColumns is every column allowed to hold text or bytes. A new one must
// be added here on purpose, after checking it cannot receive code (D2).
var textColumns = []string{
	"users.email", "users.password_hash", "users.role",
	"sessions.id",
	"refresh_tokens.token_hash", "refresh_tokens.session_id", "refresh_tokens.parent_hash",
	"api_keys.id", "api_keys.name", "api_keys.key_hash", "api_keys.scopes",
	"request_logs.request_id", "request_logs.key_id", "request_logs.method", "request_logs.route",
	"request_logs.reviewers", "request_logs.models",
	"settings.key", "settings.value",
	// Credits: the kind is an enum; reference names what an entry is for
	// (a request id, a Stripe event id), never content.
	"ledger_entries.kind", "ledger_entries.reference", "stripe_events.event_id",
	// Idempotency: the client's key, a keyed hash of the request, a state.
	"idempotency_keys.idem_key", "idempotency_keys.request_hash", "idempotency_keys.state",
	// Outbox (W1): the caller's event id, an event type, and metadata — a
	// small JSON object of ids, counts and states built by diffgate, never
	// a diff, finding text or code.
	"events.id", "events.type", "events.metadata",
	// Webhook endpoints: the receiver's URL, a JSON list of event types and
	// the signing secret sealed under the keyring.
	"webhook_endpoints.url", "webhook_endpoints.events", "webhook_endpoints.secret_sealed",
	// Deliveries and attempts: an event id, a state enum, and a short reason
	// diffgate writes (capped; never the receiver's body).
	"webhook_deliveries.event_id", "webhook_deliveries.state", "webhook_attempts.error",
	// Asynchronous reviews: ids, a status enum, reviewer names, and a short
	// public failure reason; the owner is a replica's random instance id.
	"reviews.id", "reviews.key_id", "reviews.status", "reviews.reviewers", "reviews.error", "reviews.owner",
	"schema_migrations.name", "schema_migrations.applied_at",
}

func checkColumns(t *testing.T, cols []column) {
	t.Helper()
	for _, p := range columnProblems(cols) {
		t.Error(p)
	}
}

// columnProblems lists every column that is named for code or can hold text
// without being on the reviewed list.
func columnProblems(cols []column) []string {
	var out []string
	for _, col := range cols {
		typ := strings.ToLower(col.typ)
		numeric := strings.Contains(typ, "int") || typ == "boolean" || strings.Contains(typ, "timestamp")
		for w := range strings.SplitSeq(strings.ToLower(col.name), "_") {
			if slices.Contains(codeWords, w) && !numeric {
				out = append(out, fmt.Sprintf("column %s.%s (%s) is named for code content (%q)", col.table, col.name, col.typ, w))
			}
		}
		if !numeric && !slices.Contains(textColumns, col.table+"."+col.name) {
			out = append(out, fmt.Sprintf("column %s.%s (%s) can hold text but is not on the reviewed list", col.table, col.name, col.typ))
		}
	}
	return out
}

// Two processes starting at once against an empty database both migrate
// successfully and apply each migration once.
func TestMigrateConcurrentFromEmpty(t *testing.T) {
	backends := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "diffgate.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresDSN(t) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			const n = 4
			dbs := make([]*DB, n)
			for i := range dbs {
				dbs[i] = openDSN(t, dsn)
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() { errs[i] = db.Migrate(context.Background()) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("concurrent Migrate() #%d = %v", i, err)
				}
			}
			ms, err := loadMigrations(dbs[0].Dialect())
			if err != nil {
				t.Fatal(err)
			}
			var count int
			if err := dbs[0].r.QueryRowContext(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&count); err != nil {
				t.Fatal(err)
			}
			if count != len(ms) {
				t.Errorf("schema_migrations has %d rows after concurrent Migrate, want %d", count, len(ms))
			}
		})
	}
}

// L2: credits and debits keep the balance equal to the ledger's sum, and a
// debit the balance does not cover is refused.
func testCredits(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	if b, err := db.Balance(ctx, u.ID); err != nil || b != 0 {
		t.Fatalf("Balance(new user) = %d, %v; want 0", b, err)
	}
	if _, err := db.Reserve(ctx, u.ID, 1); apperr.KindOf(err) != apperr.PaymentRequired {
		t.Errorf("Reserve with no balance = %v, want PaymentRequired", err)
	}
	steps := []struct {
		op      func() (int64, error)
		want    int64
		errKind apperr.Kind
	}{
		{func() (int64, error) { return db.Credit(ctx, u.ID, 100, LedgerGrant, "admin", t0) }, 100, -1},
		{func() (int64, error) { return db.Reserve(ctx, u.ID, 30) }, 70, -1},
		{func() (int64, error) { return db.Settle(ctx, u.ID, 30, 12, "req-1", t0) }, 88, -1},
		{func() (int64, error) { return db.Reserve(ctx, u.ID, 89) }, 0, apperr.PaymentRequired},
		{func() (int64, error) { return db.Reserve(ctx, u.ID, 88) }, 0, -1},
		{func() (int64, error) { return db.Settle(ctx, u.ID, 88, 88, "req-3", t0) }, 0, -1},
		{func() (int64, error) { return db.Credit(ctx, u.ID, 5, LedgerCharge, "x", t0) }, 0, apperr.Invalid},
		{func() (int64, error) { return db.Debit(ctx, u.ID, 5, LedgerGrant, "x", t0) }, 0, apperr.Invalid},
		{func() (int64, error) { return db.Settle(ctx, u.ID, 5, 6, "x", t0) }, 0, apperr.Invalid},
		{func() (int64, error) { return db.Credit(ctx, u.ID, -5, LedgerGrant, "x", t0) }, 0, apperr.Invalid},
	}
	for i, st := range steps {
		got, err := st.op()
		if st.errKind >= 0 {
			if apperr.KindOf(err) != st.errKind {
				t.Errorf("step %d: error %v, want kind %v", i, err, st.errKind)
			}
			continue
		}
		if err != nil || got != st.want {
			t.Errorf("step %d = %d, %v; want %d", i, got, err, st.want)
		}
	}
	if _, err := db.Credit(ctx, 999999, 5, LedgerGrant, "x", t0); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("Credit(unknown user) = %v, want NotFound", err)
	}
	entries, err := db.Ledger(ctx, u.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, e := range entries {
		sum += e.Amount
	}
	bal, _ := db.Balance(ctx, u.ID)
	// A grant and two charges: holds write no entries.
	if sum != bal || bal != 0 || len(entries) != 3 {
		t.Errorf("ledger of %d entries sums to %d, balance %d; want 3 entries summing to the balance 0", len(entries), sum, bal)
	}
	if entries[0].Kind != LedgerCharge || entries[0].BalanceAfter != 0 || !sameTime(t0, entries[0].CreatedAt) {
		t.Errorf("newest entry = %+v", entries[0])
	}
}

// L2: many concurrent reservations against a balance that covers exactly
// N of them: exactly N succeed, the rest are PaymentRequired, and the
// ledger sums to a zero balance.
func testCreditsConcurrent(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	const n, tries, price = 7, 40, 3
	if _, err := db.Credit(ctx, u.ID, n*price, LedgerGrant, "grant", t0); err != nil {
		t.Fatal(err)
	}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.Reserve(ctx, u.ID, price)
			switch {
			case err == nil:
				ok.Add(1)
			case apperr.KindOf(err) == apperr.PaymentRequired:
				refused.Add(1)
			default:
				t.Errorf("Debit = %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != n || refused.Load() != tries-n {
		t.Errorf("%d debits succeeded and %d were refused, want %d and %d", ok.Load(), refused.Load(), n, tries-n)
	}
	entries, err := db.Ledger(ctx, u.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, e := range entries {
		sum += e.Amount
		if e.BalanceAfter < 0 {
			t.Errorf("entry %+v has a negative balance", e)
		}
	}
	// Every credit is held: none left to spend, the ledger unchanged.
	if bal, _ := db.Balance(ctx, u.ID); sum != n*price || bal != 0 {
		t.Errorf("ledger sums to %d and balance is %d, want %d and 0", sum, bal, n*price)
	}
}

// L3: a Stripe event is applied once, however often it is delivered.
func testPurchaseOnce(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	var applied atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := db.ApplyPurchase(ctx, "evt_123", u.ID, 500, t0)
			if err != nil {
				t.Errorf("ApplyPurchase = %v", err)
			}
			if ok {
				applied.Add(1)
			}
		}()
	}
	wg.Wait()
	if bal, _ := db.Balance(ctx, u.ID); applied.Load() != 1 || bal != 500 {
		t.Errorf("event applied %d times, balance %d; want once and 500", applied.Load(), bal)
	}
}

// A2: inside the grace window a used token works again only while no token
// rotated from it has been used; a replay after that revokes the session.
func testRotateGraceSuccessorUsed(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	s := mkSession(t, db, u.ID, "sess-g", "t1")
	const grace = time.Minute
	if _, err := db.RotateRefresh(ctx, hashOf("t1"), hashOf("t2"), t0, grace); err != nil {
		t.Fatalf("rotate t1 = %v", err)
	}
	// A concurrent refresh of t1 within the window is fine while t2 is unused.
	if _, err := db.RotateRefresh(ctx, hashOf("t1"), hashOf("t2b"), t0.Add(time.Second), grace); err != nil {
		t.Fatalf("second use of t1 inside the window = %v", err)
	}
	if _, err := db.RotateRefresh(ctx, hashOf("t2"), hashOf("t3"), t0.Add(2*time.Second), grace); err != nil {
		t.Fatalf("rotate t2 = %v", err)
	}
	// t2 has been used: t1 again, even inside the window, is a replay.
	_, err := db.RotateRefresh(ctx, hashOf("t1"), hashOf("t4"), t0.Add(3*time.Second), grace)
	wantKind(t, "replay of t1 after its successor was used", err, apperr.Unauthorized)
	if ok, _ := db.SessionActive(ctx, s.ID, t0.Add(4*time.Second)); ok {
		t.Error("session still active after a replay")
	}
	// Unknown tokens are refused without touching anything.
	_, err = db.RotateRefresh(ctx, hashOf("never-issued"), hashOf("x"), t0, grace)
	wantKind(t, "unknown token", err, apperr.Unauthorized)
}

// The setup token is consumed only together with creating the owner.
func testClaimSetup(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	if err := db.PutSetting(ctx, "setup", "good"); err != nil {
		t.Fatal(err)
	}
	owner := User{Email: "owner@example.com", PasswordHash: "h", Role: RoleOwner, CreatedAt: t0, PasswordChangedAt: t0}
	mkUser(t, db, "owner@example.com") // squatted by a signup
	if _, err := db.ClaimSetup(ctx, "setup", "good", owner); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("ClaimSetup with a taken email = %v, want Conflict", err)
	}
	if _, err := db.ClaimSetup(ctx, "setup", "bad", User{Email: "o2@example.com", Role: RoleOwner, CreatedAt: t0, PasswordChangedAt: t0}); apperr.KindOf(err) != apperr.Unauthorized {
		t.Errorf("ClaimSetup with a wrong token = %v, want Unauthorized", err)
	}
	if ok, _ := db.OwnerExists(ctx); ok {
		t.Fatal("an owner exists before setup succeeded")
	}
	owner.Email = "boss@example.com"
	got, err := db.ClaimSetup(ctx, "setup", "good", owner)
	if err != nil || got.ID == 0 {
		t.Fatalf("ClaimSetup after a failed attempt = %+v, %v; the token must have survived", got, err)
	}
	if _, err := db.ClaimSetup(ctx, "setup", "good", User{Email: "o3@example.com", Role: RoleOwner, CreatedAt: t0, PasswordChangedAt: t0}); apperr.KindOf(err) != apperr.Unauthorized {
		t.Errorf("second ClaimSetup = %v, want Unauthorized", err)
	}
	if ok, _ := db.OwnerExists(ctx); !ok {
		t.Error("OwnerExists = false after setup")
	}
}

// L2: an Idempotency-Key is claimed once; a retry sees it pending or done;
// another request under the same key is a conflict.
func testIdempotency(t *testing.T, c conformance) {
	ctx := context.Background()
	db := c.db
	u := mkUser(t, db, "ada@example.com")
	var news atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := db.BeginIdempotent(ctx, u.ID, "k1", hashOf("req"), t0, t0.Add(-time.Hour))
			if err != nil {
				t.Errorf("BeginIdempotent = %v", err)
			}
			if st == IdemNew {
				news.Add(1)
			} else if st != IdemPending {
				t.Errorf("concurrent state %q, want new or pending", st)
			}
		}()
	}
	wg.Wait()
	if news.Load() != 1 {
		t.Errorf("%d concurrent claims were new, want 1", news.Load())
	}
	if _, err := db.BeginIdempotent(ctx, u.ID, "k1", hashOf("other"), t0, t0.Add(-time.Hour)); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("same key, other request = %v, want Conflict", err)
	}
	if err := db.FinishIdempotent(ctx, u.ID, "k1"); err != nil {
		t.Fatal(err)
	}
	if st, err := db.BeginIdempotent(ctx, u.ID, "k1", hashOf("req"), t0, t0.Add(-time.Hour)); err != nil || st != IdemDone {
		t.Errorf("after finishing = %q, %v; want done", st, err)
	}
	// Abandoned keys can be claimed again; done ones cannot be abandoned.
	if _, err := db.BeginIdempotent(ctx, u.ID, "k2", hashOf("req"), t0, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.AbandonIdempotent(ctx, u.ID, "k2"); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.BeginIdempotent(ctx, u.ID, "k2", hashOf("req"), t0, t0.Add(-time.Hour)); st != IdemNew {
		t.Errorf("abandoned key = %q, want new", st)
	}
	if err := db.AbandonIdempotent(ctx, u.ID, "k1"); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.BeginIdempotent(ctx, u.ID, "k1", hashOf("req"), t0, t0.Add(-time.Hour)); st != IdemDone {
		t.Errorf("a done key was abandoned: %q", st)
	}
	// A pending claim left by a dead process is taken over once stale.
	if _, err := db.BeginIdempotent(ctx, u.ID, "k3", hashOf("req"), t0, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.BeginIdempotent(ctx, u.ID, "k3", hashOf("req"), t0.Add(time.Minute), t0.Add(-time.Hour)); st != IdemPending {
		t.Errorf("fresh pending claim = %q, want pending", st)
	}
	if st, _ := db.BeginIdempotent(ctx, u.ID, "k3", hashOf("req"), t0.Add(2*time.Hour), t0.Add(time.Hour)); st != IdemNew {
		t.Errorf("stale pending claim = %q, want new (taken over)", st)
	}
	// Keys are per user.
	v := mkUser(t, db, "bob@example.com")
	if st, _ := db.BeginIdempotent(ctx, v.ID, "k1", hashOf("bob"), t0, t0.Add(-time.Hour)); st != IdemNew {
		t.Errorf("another user's key = %q, want new", st)
	}
}
