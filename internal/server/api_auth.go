package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/diffgate/diffgate/internal/account"
	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/store"
)

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type setupRequest struct {
	Token    string `json:"token"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int64     `json:"expires_in"`
	ExpiresAt    time.Time `json:"expires_at"`
	RefreshToken string    `json:"refresh_token"`
}

type userResponse struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func userJSON(u store.User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, Role: u.Role, CreatedAt: u.CreatedAt}
}

// SetupTokenSetting is the settings key of the one-time setup token's
// hash; it exists only while the server has no owner.
const SetupTokenSetting = "setup_token_sha256"

var errBadLogin = apperr.New(apperr.Unauthorized, "invalid email or password")

// throttle applies the brute-force rules of login and signup (A4): 5
// attempts a minute per client IP, then the account's progressive delay.
// Unknown emails are counted like known ones.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, email string) error {
	ip := account.ClientIP(r, s.Config.TrustedProxies)
	if ok, retry := s.Guard.AllowIP(ip); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(retry)))
		return apperr.New(apperr.RateLimited, "too many attempts; try again later")
	}
	if email != "" {
		// AdmitAccount counts the attempt as it admits it, so concurrent
		// guesses cannot share one free slot; the caller settles it with
		// RecordFailure or RecordSuccess.
		if d := s.Guard.AdmitAccount(email); d > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(d)))
			return apperr.New(apperr.RateLimited, "too many attempts; try again later")
		}
	}
	return nil
}

func ceilSeconds(d time.Duration) int {
	n := int((d + time.Second - 1) / time.Second)
	return max(n, 1)
}

// handleSetup creates the owner account with the one-time token printed at
// first start. The token is checked first (so nothing else is revealed to
// a caller without it) and consumed only together with creating the
// account, so a failed attempt leaves it usable.
func (s *Server) handleSetup(w http.ResponseWriter, r *http.Request) {
	var req setupRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.throttle(w, r, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	stored, err := s.Store.GetSetting(ctx, SetupTokenSetting)
	if err != nil && !isNotFound(err) {
		s.writeError(w, r, err)
		return
	}
	want := HashSetupToken(req.Token)
	if err != nil || subtle.ConstantTimeCompare([]byte(stored), []byte(want)) != 1 {
		s.writeError(w, r, apperr.New(apperr.Unauthorized, "invalid or used setup token"))
		return
	}
	email, err := account.NormalizeEmail(req.Email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Config.AdminEmail != "" && email != s.Config.AdminEmail {
		s.writeError(w, r, apperr.New(apperr.Forbidden, "the setup token is for another email address"))
		return
	}
	if err := account.CheckPasswordPolicy(req.Password); err != nil {
		s.writeError(w, r, err)
		return
	}
	hash, err := s.Passwords.Hash(ctx, req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.Now().UTC()
	u, err := s.Store.ClaimSetup(ctx, SetupTokenSetting, want, store.User{Email: email, PasswordHash: hash, Role: store.RoleOwner, CreatedAt: now, PasswordChangedAt: now})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.grantFree(ctx, u.ID)
	s.log.InfoContext(ctx, "owner account created", "user_id", u.ID)
	writeJSON(w, http.StatusCreated, userJSON(u))
}

// handleSignup creates an account. Its answer is the same whether or not
// the email is already registered, and both paths hash a password, so
// signup cannot be used to learn who has an account (A4).
func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request) {
	if !s.Config.AllowSignup {
		s.writeError(w, r, apperr.New(apperr.Forbidden, "signup is disabled on this server"))
		return
	}
	// Until the owner exists nobody else may sign up, so no one can take
	// the owner's address (or the server) before setup.
	if ok, err := s.Store.OwnerExists(r.Context()); err != nil || !ok {
		if err == nil {
			err = apperr.New(apperr.Forbidden, "this server is not set up yet; create the owner account with the setup token first")
		}
		s.writeError(w, r, err)
		return
	}
	var req credentials
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.throttle(w, r, ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	email, err := account.NormalizeEmail(req.Email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := account.CheckPasswordPolicy(req.Password); err != nil {
		s.writeError(w, r, err)
		return
	}
	hash, err := s.Passwords.Hash(r.Context(), req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.Now().UTC()
	u, err := s.Store.CreateUser(r.Context(), store.User{Email: email, PasswordHash: hash, Role: store.RoleUser, CreatedAt: now, PasswordChangedAt: now})
	if err != nil && apperr.KindOf(err) != apperr.Conflict {
		s.writeError(w, r, err)
		return
	}
	if err == nil {
		s.grantFree(r.Context(), u.ID)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "next": "log in with POST /v1/auth/login"})
}

// handleLogin checks a password and opens a session (A2, A4). An unknown
// email costs a comparison against a dummy hash, so it answers exactly
// like a wrong password, in the same time.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req credentials
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	email, err := account.NormalizeEmail(req.Email)
	if err != nil {
		email = "" // still throttled per IP, and answered like any failure
	}
	if err := s.throttle(w, r, email); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	// The admitted attempt is settled on every way out: an attempt that
	// ends early (a client gone while waiting for bcrypt) counts as failed.
	succeeded := false
	if email != "" {
		defer func() {
			if succeeded {
				s.Guard.RecordSuccess(email)
			} else {
				s.Guard.RecordFailure(email)
			}
		}()
	}
	u, uerr := store.User{}, error(nil)
	if email != "" {
		u, uerr = s.Store.UserByEmail(ctx, email)
	}
	if email == "" || uerr != nil {
		if uerr != nil && !isNotFound(uerr) {
			s.writeError(w, r, uerr)
			return
		}
		if err := s.Passwords.CompareDummy(ctx, req.Password); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeError(w, r, errBadLogin)
		return
	}
	ok, err := s.Passwords.Compare(ctx, u.PasswordHash, req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok {
		s.writeError(w, r, errBadLogin)
		return
	}
	succeeded = true
	// A hash made at an older cost is renewed, so known accounts keep
	// answering in the dummy hash's time (A4).
	if s.Passwords.NeedsRehash(u.PasswordHash) {
		if h, err := s.Passwords.Hash(ctx, req.Password); err == nil {
			if err := s.Store.UpdatePasswordHash(ctx, u.ID, h); err != nil {
				s.log.WarnContext(ctx, "rehash password", "user_id", u.ID, "error", err)
			}
		}
	}
	entryOf(ctx).set(func(e *logEntry) { e.userID = u.ID })
	resp, err := s.openSession(ctx, u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) openSession(ctx context.Context, userID int64) (tokenResponse, error) {
	now := s.Now().UTC()
	var sid [16]byte
	if _, err := rand.Read(sid[:]); err != nil {
		return tokenResponse{}, err
	}
	refresh, hash, err := account.NewRefreshToken()
	if err != nil {
		return tokenResponse{}, err
	}
	sess := store.Session{ID: hex.EncodeToString(sid[:]), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.Config.RefreshLifetime)}
	if err := s.Store.CreateSession(ctx, sess, hash); err != nil {
		return tokenResponse{}, err
	}
	return s.tokens(sess, refresh)
}

func (s *Server) tokens(sess store.Session, refresh string) (tokenResponse, error) {
	access, exp, err := s.Tokens.Issue(sess.UserID, sess.ID)
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(s.Now()).Seconds()),
		ExpiresAt: exp.UTC(), RefreshToken: refresh,
	}, nil
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// handleRefresh rotates a refresh token (A2). A token used before, outside
// the grace window, revokes its whole session: the store commits that
// before this answers 401.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !account.WellFormedRefreshToken(req.RefreshToken) {
		s.writeError(w, r, errUnauthenticated)
		return
	}
	next, nextHash, err := account.NewRefreshToken()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, err := s.Store.RotateRefresh(r.Context(), account.HashRefreshToken(req.RefreshToken), nextHash, s.Now().UTC(), s.Config.RefreshGrace)
	if err != nil {
		if apperr.KindOf(err) == apperr.Unauthorized {
			err = errUnauthenticated
		}
		s.writeError(w, r, err)
		return
	}
	entryOf(r.Context()).set(func(e *logEntry) { e.userID = sess.UserID })
	resp, err := s.tokens(sess, next)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleLogout revokes the session of a refresh token. It answers 204
// whether or not the token was valid: logging out cannot fail.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if account.WellFormedRefreshToken(req.RefreshToken) {
		if _, err := s.Store.RevokeSessionByRefresh(r.Context(), account.HashRefreshToken(req.RefreshToken), s.Now().UTC()); err != nil && apperr.KindOf(err) != apperr.NotFound && apperr.KindOf(err) != apperr.Unauthorized {
			s.writeError(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handlePassword changes the caller's password and revokes every session
// of the account, in the same transaction (A2).
func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	var req passwordRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Store.UserByID(r.Context(), p.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.throttle(w, r, u.Email); err != nil {
		s.writeError(w, r, err)
		return
	}
	ok, err := s.Passwords.Compare(r.Context(), u.PasswordHash, req.CurrentPassword)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok {
		s.Guard.RecordFailure(u.Email)
		s.writeError(w, r, apperr.New(apperr.Forbidden, "the current password is wrong"))
		return
	}
	s.Guard.RecordSuccess(u.Email)
	if err := account.CheckPasswordPolicy(req.NewPassword); err != nil {
		s.writeError(w, r, err)
		return
	}
	hash, err := s.Passwords.Hash(r.Context(), req.NewPassword)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Store.SetPassword(r.Context(), u.ID, hash, s.Now().UTC()); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	u, err := s.Store.UserByID(r.Context(), principalOf(r.Context()).UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userJSON(u))
}
