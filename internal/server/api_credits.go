package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/diffgate/diffgate/internal/account"
	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/credits"
	"github.com/diffgate/diffgate/internal/store"
)

// CreditsInfo is what a review cost, shown in its answer (L2).
type CreditsInfo struct {
	Quoted  int64 `json:"quoted"`
	Charged int64 `json:"charged"`
	Balance int64 `json:"balance"`
}

type quoteResponse struct {
	Credits   int64    `json:"credits"`
	Balance   int64    `json:"balance"`
	Reviewers []string `json:"reviewers"`
	Sandbox   bool     `json:"sandbox"`
}

// handleQuote tells what a review would reserve, without running it.
func (s *Server) handleQuote(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	text, names, _, err := s.readReview(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.pickReviewers(p, names); err != nil {
		s.writeError(w, r, err)
		return
	}
	bal, err := s.Store.Balance(r.Context(), p.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := credits.ForKey(p.Sandbox, credits.Quote(*s.Config.Prices, names, len(text)))
	writeJSON(w, http.StatusOK, quoteResponse{Credits: int64(q), Balance: bal, Reviewers: names, Sandbox: p.Sandbox})
}

type ledgerRow struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	Amount       int64     `json:"amount"`
	BalanceAfter int64     `json:"balance_after"`
	Reference    string    `json:"reference"`
	At           time.Time `json:"at"`
}

// handleCredits shows the caller's balance and latest ledger entries.
func (s *Server) handleCredits(w http.ResponseWriter, r *http.Request) {
	s.writeCredits(w, r, principalOf(r.Context()).UserID)
}

// handleUserCredits shows any account's balance and ledger to the owner or
// an admin.
func (s *Server) handleUserCredits(w http.ResponseWriter, r *http.Request) {
	if err := s.requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	email, err := account.NormalizeEmail(r.URL.Query().Get("email"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Store.UserByEmail(r.Context(), email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeCredits(w, r, u.ID)
}

func (s *Server) requireAdmin(r *http.Request) error {
	caller, err := s.Store.UserByID(r.Context(), principalOf(r.Context()).UserID)
	if err != nil {
		return err
	}
	if caller.Role != store.RoleOwner && caller.Role != store.RoleAdmin {
		return apperr.New(apperr.Forbidden, "only the owner or an admin can do this")
	}
	return nil
}

func (s *Server) writeCredits(w http.ResponseWriter, r *http.Request, userID int64) {
	bal, held, err := s.Store.BalanceAndHeld(r.Context(), userID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entries, err := s.Store.Ledger(r.Context(), userID, 100)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]ledgerRow, 0, len(entries))
	for _, e := range entries {
		out = append(out, ledgerRow{ID: e.ID, Kind: e.Kind, Amount: e.Amount, BalanceAfter: e.BalanceAfter, Reference: e.Reference, At: e.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"balance": bal, "held": held, "entries": out})
}

// RefundAnswer is what a refund gave back, and to whom.
type RefundAnswer struct {
	ReviewID string `json:"review_id"`
	UserID   int64  `json:"user_id"`
	Refunded int64  `json:"refunded"`
	Balance  int64  `json:"balance"`
}

// handleRefund lets the owner or an admin give back what a finished
// review was charged, once (L2).
func (s *Server) handleRefund(w http.ResponseWriter, r *http.Request) {
	if err := s.requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	rev, bal, err := s.Store.RefundReview(r.Context(), r.PathValue("id"), s.Now().UTC())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "review refunded", "review_id", rev.ID, "user_id", rev.UserID, "credits", rev.Refunded,
		"by_user_id", principalOf(r.Context()).UserID)
	writeJSON(w, http.StatusOK, RefundAnswer{ReviewID: rev.ID, UserID: rev.UserID, Refunded: rev.Refunded, Balance: bal})
}

type grantRequest struct {
	Email  string `json:"email"`
	Amount int64  `json:"amount"`
	Reason string `json:"reason"`
}

// handleGrant lets the owner or an admin grant credits to an account.
func (s *Server) handleGrant(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	if err := s.requireAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req grantRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Amount <= 0 || req.Amount > 1_000_000_000 {
		s.writeError(w, r, apperr.New(apperr.Invalid, "amount must be from 1 to 1000000000"))
		return
	}
	email, err := account.NormalizeEmail(req.Email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Store.UserByEmail(r.Context(), email)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reason := strings.TrimSpace(req.Reason)
	if len(reason) > 200 || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		s.writeError(w, r, apperr.New(apperr.Invalid, "reason must be at most 200 printable characters"))
		return
	}
	bal, err := s.Store.Credit(r.Context(), u.ID, req.Amount, store.LedgerGrant, "grant by user "+itoa(p.UserID)+": "+reason, s.Now().UTC())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"user_id": u.ID, "balance": bal})
}

// grantFree gives a new account its free credits, if the server grants any.
func (s *Server) grantFree(ctx context.Context, userID int64) {
	if s.Config.FreeCredits <= 0 {
		return
	}
	if _, err := s.Store.Credit(ctx, userID, s.Config.FreeCredits, store.LedgerGrant, "welcome", s.Now().UTC()); err != nil {
		s.log.ErrorContext(ctx, "grant free credits", "user_id", userID, "error", err)
	}
}
