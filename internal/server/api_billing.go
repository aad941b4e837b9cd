package server

import (
	"net/http"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/billing"
)

// maxStripeBody bounds a Stripe webhook delivery; real events are a few KiB.
const maxStripeBody = 256 << 10

type checkoutRequest struct {
	Pack string `json:"pack"`
}

// handlePacks lists the credit packs on sale.
func (s *Server) handlePacks(w http.ResponseWriter, r *http.Request) {
	packs, err := s.Billing.Packs()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"packs": packs})
}

// handleCheckout starts a Stripe Checkout for a credit pack (L3). The card
// is entered on Stripe's page; diffgate never sees it. An Idempotency-Key
// header makes a retried request return the same session.
func (s *Server) handleCheckout(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	var req checkoutRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if p.Sandbox {
		s.writeError(w, r, apperr.New(apperr.Forbidden, "sandbox keys cannot buy credits"))
		return
	}
	u, err := s.Store.UserByID(r.Context(), p.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	url, id, err := s.Billing.CreateCheckout(r.Context(), u.ID, u.Email, req.Pack, r.Header.Get("Idempotency-Key"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"url": url, "session_id": id})
}

// handleStripeWebhook applies a verified checkout.session.completed exactly
// once: the purchase is keyed by the Checkout Session, so a replayed event,
// or Stripe's second event for a delayed payment, credits nothing more.
// Events it does not handle are acknowledged and ignored.
func (s *Server) handleStripeWebhook(w http.ResponseWriter, r *http.Request) {
	if s.Billing == nil {
		s.writeError(w, r, billing.ErrNotConfigured)
		return
	}
	body, err := readBody(w, r, maxStripeBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev, err := s.Billing.ParseWebhook(body, r.Header.Get("Stripe-Signature"), s.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ev.Completed == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
		return
	}
	c := ev.Completed
	applied, _, err := s.Store.ApplyPurchase(r.Context(), "checkout:"+c.SessionID, c.UserID, c.Credits, s.Now().UTC())
	if err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			// The account is gone; acknowledge so Stripe stops retrying.
			s.log.WarnContext(r.Context(), "purchase for a deleted account", "event", ev.ID)
			writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
			return
		}
		s.writeError(w, r, err)
		return
	}
	status := "duplicate"
	if applied {
		status = "applied"
		s.log.InfoContext(r.Context(), "credits purchased", "user_id", c.UserID, "credits", c.Credits, "event", ev.ID)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
}
