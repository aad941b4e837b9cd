package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/diffgate/diffgate/internal/apikey"
	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/store"
)

type createKeyRequest struct {
	Name    string   `json:"name"`
	Scopes  []string `json:"scopes"`
	Sandbox bool     `json:"sandbox"`
	// ExpiresIn is a Go duration ("720h"); empty means the key never expires.
	ExpiresIn string `json:"expires_in"`
}

type keyResponse struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Sandbox    bool       `json:"sandbox"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Key is the full key, present only in the answer that creates it (K1).
	Key string `json:"key,omitempty"`
}

func keyJSON(k store.APIKey) keyResponse {
	return keyResponse{ID: k.ID, Name: k.Name, Sandbox: k.Sandbox, Scopes: k.Scopes, CreatedAt: k.CreatedAt,
		LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt}
}

const maxKeyName = 100

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	var req createKeyRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > maxKeyName || strings.ContainsFunc(req.Name, unicode.IsControl) {
		s.writeError(w, r, apperr.Newf(apperr.Invalid, "name must be 1 to %d printable characters", maxKeyName))
		return
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = apikey.DefaultScopes()
	}
	scopes, err := apikey.ParseScopes(scopes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// A key can hold no scope its creator lacks, and only a session (a
	// person) can create a key that manages keys: a key cannot make copies
	// of itself that outlive its revocation.
	for _, sc := range scopes {
		if !p.Can(sc) {
			s.writeError(w, r, apperr.Newf(apperr.Forbidden, "cannot grant the %s scope the calling key lacks", sc))
			return
		}
		if sc == apikey.ScopeKeysManage && p.KeyID != "" {
			s.writeError(w, r, apperr.New(apperr.Forbidden, "only a session can create a key with the keys:manage scope"))
			return
		}
	}
	if (req.Sandbox || p.Sandbox) && slices.ContainsFunc(scopes, func(sc string) bool {
		return sc != apikey.ScopeReviewsWrite && sc != apikey.ScopeReviewsRead
	}) {
		s.writeError(w, r, apperr.New(apperr.Invalid, "sandbox keys can only hold the reviews:write and reviews:read scopes"))
		return
	}
	now := s.Now().UTC()
	var expires *time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || d > 5*365*24*time.Hour {
			s.writeError(w, r, apperr.New(apperr.Invalid, `expires_in must be a positive duration such as "720h", at most five years`))
			return
		}
		t := now.Add(d)
		expires = &t
	}
	// A key made by a key expires no later than its maker.
	if p.KeyExpiresAt != nil && (expires == nil || expires.After(*p.KeyExpiresAt)) {
		t := *p.KeyExpiresAt
		expires = &t
	}
	k, err := apikey.Generate(req.Sandbox || p.Sandbox)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rec := store.APIKey{ID: k.ID, UserID: p.UserID, Name: req.Name, Sandbox: k.Sandbox, Hash: s.KeyHasher.Hash(k.Plaintext),
		Scopes: scopes, CreatedAt: now, ExpiresAt: expires}
	if err := s.Store.CreateAPIKey(r.Context(), rec); err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := keyJSON(rec)
	resp.Key = k.Plaintext
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.Store.ListAPIKeys(r.Context(), principalOf(r.Context()).UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]keyResponse, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyJSON(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

// handleRevokeKey revokes one of the caller's keys; another user's key is
// answered exactly like an unknown one (no IDOR, no enumeration).
func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := principalOf(r.Context())
	now := s.Now().UTC()
	// key.revoked is written in the revocation's own transaction (W1).
	ev := newEvent(p.UserID, EventKeyRevoked, map[string]any{"key_id": id}, now)
	if err := s.Store.RevokeAPIKey(r.Context(), p.UserID, id, now, ev); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// NewSetupToken makes the one-time token that creates the owner account.
func NewSetupToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "dgsetup_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashSetupToken is what the store keeps of a setup token.
func HashSetupToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
