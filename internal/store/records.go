package store

import "time"

// Roles a User may have.
const (
	RoleOwner = "owner"
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// User is an account. PasswordHash is the bcrypt hash; the password itself
// never reaches the store.
type User struct {
	ID                int64
	Email             string
	PasswordHash      string
	Role              string
	CreatedAt         time.Time
	PasswordChangedAt time.Time
}

// Session is a login and the family of refresh tokens rotated from it.
// Revoking it invalidates every refresh token in the family.
type Session struct {
	ID        string
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time // absolute end of the refresh-token family
	RevokedAt *time.Time
}

// APIKey is a stored key: only its public id and the hash of its secret.
type APIKey struct {
	ID         string // public key id, the lookup handle
	UserID     int64
	Name       string
	Sandbox    bool
	Hash       []byte
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
}

// RequestLog is the metadata of one API request (D2). It deliberately has
// no field that could carry a diff, finding text or code.
type RequestLog struct {
	ID        int64
	At        time.Time
	RequestID string
	UserID    *int64
	KeyID     string // empty when the request used a session token
	Method    string
	Route     string // route pattern, not the raw URL
	Reviewers []string
	Models    []string
	Status    int
	LatencyMS int64
	DiffBytes int64
	Findings  int // count only
	Cached    bool
}
