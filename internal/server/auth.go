package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/internal/apikey"
	"github.com/diffgate/diffgate/internal/apperr"
)

// Principal is who is calling: a user through a session token, or through
// one of their API keys with its scopes.
type Principal struct {
	UserID    int64
	SessionID string // set for session tokens
	KeyID     string // set for API keys
	Sandbox   bool
	Scopes    []string
	// KeyExpiresAt is the calling key's expiry, if it has one: keys it
	// creates may not outlive it.
	KeyExpiresAt *time.Time
}

// Can reports whether the principal holds scope. A session token acts
// for the user with every scope; an API key only with its own (K2).
func (p *Principal) Can(scope string) bool {
	if p.KeyID == "" {
		return true
	}
	return apikey.Has(p.Scopes, scope)
}

func principalOf(ctx context.Context) *Principal {
	p, _ := ctx.Value(keyPrincipal).(*Principal)
	return p
}

// errUnauthenticated is the one answer to every failed authentication
// (A3): which check failed is never told.
var errUnauthenticated = apperr.New(apperr.Unauthorized, "missing or invalid credentials")

// authenticate resolves the bearer credential: a session JWT first, then
// an API key. Every lookup reads the database, so a revoked session or key
// fails on the very next request (K4).
func (s *Server) authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" || len(cred) > 4096 {
		return nil, errUnauthenticated
	}
	ctx := r.Context()
	now := s.Now()
	if claims, err := s.Tokens.Verify(cred); err == nil {
		active, err := s.Store.SessionActive(ctx, claims.SessionID, now)
		if err != nil {
			return nil, err
		}
		if !active {
			return nil, errUnauthenticated
		}
		// A session (like a key) is deleted with its user, so an active
		// one vouches for the account: no second query on the hot path.
		return &Principal{UserID: claims.UserID, SessionID: claims.SessionID}, nil
	}
	parsed, err := apikey.Parse(cred)
	if err != nil {
		return nil, errUnauthenticated
	}
	k, err := s.Store.APIKeyByID(ctx, parsed.ID)
	if err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			return nil, errUnauthenticated
		}
		return nil, err
	}
	if !s.KeyHasher.Verify(cred, k.Hash) || k.Sandbox != parsed.Sandbox || k.RevokedAt != nil ||
		(k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
		return nil, errUnauthenticated
	}
	if s.touch.due(k.ID, now) {
		if err := s.Store.TouchAPIKey(ctx, k.ID, now); err != nil {
			s.log.WarnContext(ctx, "record key use", "key_id", k.ID, "error", err)
		}
	}
	return &Principal{UserID: k.UserID, KeyID: k.ID, Sandbox: k.Sandbox, Scopes: slices.Clone(k.Scopes), KeyExpiresAt: k.ExpiresAt}, nil
}

// authed wraps a handler that needs a caller holding scope ("" for any
// authenticated caller). Session-only handlers set sessionOnly.
func (s *Server) authed(scope string, sessionOnly bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		entryOf(r.Context()).set(func(e *logEntry) { e.userID, e.keyID = p.UserID, p.KeyID })
		if sessionOnly && p.KeyID != "" {
			s.writeError(w, r, apperr.New(apperr.Forbidden, "this endpoint needs a session token, not an API key"))
			return
		}
		// Sandbox keys only review (K3): a leaked test key must not reach
		// live keys or usage.
		if p.Sandbox && scope != apikey.ScopeReviewsWrite && scope != apikey.ScopeReviewsRead {
			s.writeError(w, r, apperr.New(apperr.Forbidden, "sandbox keys can only run reviews"))
			return
		}
		if scope != "" && !p.Can(scope) {
			s.writeError(w, r, apperr.Newf(apperr.Forbidden, "the API key lacks the %s scope", scope))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), keyPrincipal, p)))
	})
}

func isNotFound(err error) bool { return apperr.KindOf(err) == apperr.NotFound }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
