package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/diffgate/diffgate/internal/ids"
	"github.com/diffgate/diffgate/internal/keyring"
	"github.com/diffgate/diffgate/internal/ratelimit"
	"github.com/diffgate/diffgate/internal/store"
	"github.com/diffgate/diffgate/internal/webhook"
)

// Event types a webhook endpoint can subscribe to (W1).
const (
	EventReviewCompleted = "review.completed"
	EventReviewFailed    = "review.failed"
	EventCreditsLow      = "credits.low"
	EventKeyRevoked      = "key.revoked"
	eventTest            = "webhook.test"
)

// EventTypes lists the subscribable event types.
func EventTypes() []string {
	return []string{EventCreditsLow, EventKeyRevoked, EventReviewCompleted, EventReviewFailed}
}

// newEvent makes an outbox event with a fresh message id (the webhook-id
// receivers de-duplicate by) and a metadata-only payload (D2).
func newEvent(userID int64, typ string, data any, now time.Time) store.Event {
	payload, _ := json.Marshal(data) // the callers pass plain maps
	return store.Event{ID: ids.New("msg_", now), UserID: userID, Type: typ, Payload: payload, CreatedAt: now}
}

// lowBalanceEvent is what crossing the low-balance threshold raises.
func (s *Server) lowBalanceEvent(userID int64, now time.Time) func(balance int64) store.Event {
	return func(balance int64) store.Event {
		return newEvent(userID, EventCreditsLow, map[string]int64{"balance": balance, "threshold": s.Config.LowBalance}, now)
	}
}

type webhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

type webhookResponse struct {
	ID                  int64     `json:"id"`
	URL                 string    `json:"url"`
	Events              []string  `json:"events"`
	Paused              bool      `json:"paused"`
	Failing             bool      `json:"failing"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	CreatedAt           time.Time `json:"created_at"`
	// Secret is the whsec_ signing secret, only in the answers that create
	// or rotate it.
	Secret string `json:"secret,omitempty"`
}

func webhookJSON(e store.WebhookEndpoint) webhookResponse {
	return webhookResponse{ID: e.ID, URL: e.URL, Events: e.Events, Paused: e.Paused, Failing: e.Failing,
		ConsecutiveFailures: e.ConsecutiveFailures, CreatedAt: e.CreatedAt}
}

// secretAAD binds a sealed secret to its owner and URL, so a ciphertext
// moved to another row does not open (D5).
func secretAAD(userID int64, url string) []byte {
	return []byte(fmt.Sprintf("webhook-secret:%d:%s", userID, url))
}

// sealKeys is the current seal keyring, re-read from its file when the
// file changed since the last look (a rotation by another process).
func (s *Server) sealKeys() (*keyring.Keyring, error) {
	s.ringMu.Lock()
	defer s.ringMu.Unlock()
	if s.KeyringPath != "" {
		if fi, err := os.Stat(s.KeyringPath); err == nil && !fi.ModTime().Equal(s.ringMod) {
			kr, err := keyring.ReadFile(s.KeyringPath)
			if err != nil {
				return nil, fmt.Errorf("reload seal keys: %w", err)
			}
			s.Keyring, s.ringMod = kr, fi.ModTime()
		}
	}
	if s.Keyring == nil {
		return nil, apperr.New(apperr.Unavailable, "webhooks are not configured on this server")
	}
	return s.Keyring, nil
}

func (s *Server) sealSecret(userID int64, url, secret string) (string, error) {
	kr, err := s.sealKeys()
	if err != nil {
		return "", err
	}
	return kr.Seal([]byte(secret), secretAAD(userID, url))
}

func (s *Server) openSecret(userID int64, url, sealed string) (string, error) {
	kr, err := s.sealKeys()
	if err != nil {
		return "", err
	}
	b, err := kr.Open(sealed, secretAAD(userID, url))
	if err != nil {
		return "", fmt.Errorf("open webhook secret: %w", err)
	}
	return string(b), nil
}

// handleCreateWebhook registers an HTTPS endpoint (W1, W2): its URL is
// checked against SSRF here and every address is checked again at dial
// time; its secret is shown once and kept sealed.
func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	var req webhookRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.URL) > 2048 {
		s.writeError(w, r, apperr.New(apperr.Invalid, "url is longer than 2048 bytes"))
		return
	}
	if err := s.CheckWebhookURL(req.URL); err != nil {
		s.writeError(w, r, err)
		return
	}
	events, err := checkEventTypes(req.Events)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	eps, err := s.Store.ListWebhookEndpoints(r.Context(), p.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(eps) >= 20 {
		s.writeError(w, r, apperr.New(apperr.Invalid, "at most 20 webhook endpoints per account"))
		return
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sealed, err := s.sealSecret(p.UserID, req.URL, secret)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.Now().UTC()
	ep, err := s.Store.CreateWebhookEndpoint(r.Context(), store.WebhookEndpoint{UserID: p.UserID, URL: req.URL, Events: events,
		SecretSealed: sealed, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := webhookJSON(ep)
	resp.Secret = secret
	writeJSON(w, http.StatusCreated, resp)
}

func checkEventTypes(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, apperr.Newf(apperr.Invalid, "events must name at least one of %v, or \"*\"", EventTypes())
	}
	out := make([]string, 0, len(in))
	for _, e := range in {
		if e != "*" && !slices.Contains(EventTypes(), e) {
			if len(e) > 40 {
				e = e[:40]
			}
			return nil, apperr.Newf(apperr.Invalid, "unknown event %q (known: %v)", e, EventTypes())
		}
		out = append(out, e)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	eps, err := s.Store.ListWebhookEndpoints(r.Context(), principalOf(r.Context()).UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]webhookResponse, 0, len(eps))
	for _, e := range eps {
		out = append(out, webhookJSON(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

// endpointOf reads the path's endpoint, answering 404 for another user's
// (no IDOR, no enumeration).
func (s *Server) endpointOf(r *http.Request) (store.WebhookEndpoint, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.WebhookEndpoint{}, apperr.New(apperr.NotFound, "webhook not found")
	}
	return s.Store.WebhookEndpoint(r.Context(), principalOf(r.Context()).UserID, id)
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	ep, err := s.endpointOf(r)
	if err == nil {
		err = s.Store.DeleteWebhookEndpoint(r.Context(), ep.UserID, ep.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handlePauseWebhook(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ep, err := s.endpointOf(r)
		if err == nil {
			err = s.Store.SetWebhookPaused(r.Context(), ep.UserID, ep.ID, paused, s.Now().UTC())
		}
		if err == nil {
			ep, err = s.endpointOf(r)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, webhookJSON(ep))
	}
}

// handleRotateWebhook replaces the endpoint's secret; the new one is shown
// once. Deliveries from then on are signed with it.
func (s *Server) handleRotateWebhook(w http.ResponseWriter, r *http.Request) {
	ep, err := s.endpointOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sealed, err := s.sealSecret(ep.UserID, ep.URL, secret)
	if err == nil {
		err = s.Store.SetWebhookSecret(r.Context(), ep.UserID, ep.ID, sealed, s.Now().UTC())
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := webhookJSON(ep)
	resp.Secret = secret
	writeJSON(w, http.StatusOK, resp)
}

// handleTestWebhook sends one signed webhook.test delivery now and tells
// how it went; nothing is queued.
func (s *Server) handleTestWebhook(w http.ResponseWriter, r *http.Request) {
	ep, err := s.endpointOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Tests are limited like reviews, so they cannot probe hosts at speed.
	if d, err := s.Limiter.Allow(r.Context(), "webhook-test:"+itoa(ep.UserID)); err != nil || !d.Allowed {
		if err == nil {
			ratelimit.WriteHeaders(w.Header(), d)
			err = apperr.New(apperr.RateLimited, "too many webhook tests; see Retry-After")
		}
		s.writeError(w, r, err)
		return
	}
	secret, err := s.openSecret(ep.UserID, ep.URL, ep.SecretSealed)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.Now().UTC()
	ev := newEvent(ep.UserID, eventTest, map[string]any{"endpoint_id": ep.ID}, now)
	body, err := webhook.NewPayload(ev.Type, now, json.RawMessage(ev.Payload))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a := webhook.Deliver(r.Context(), s.WebhookClient, ep.URL, secret, webhook.Event{ID: ev.ID, Type: ev.Type, Timestamp: now, Payload: body})
	writeJSON(w, http.StatusOK, map[string]any{"delivered": a.OK(), "status": a.Status, "latency_ms": a.Latency.Milliseconds(), "error": a.Err})
}

func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	ep, err := s.endpointOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	atts, err := s.Store.ListDeliveryAttempts(r.Context(), ep.UserID, ep.ID, 100)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type row struct {
		EventID   string    `json:"event_id"`
		Type      string    `json:"type"`
		Attempt   int       `json:"attempt"`
		At        time.Time `json:"at"`
		Status    int       `json:"status"`
		LatencyMS int64     `json:"latency_ms"`
		Error     string    `json:"error,omitempty"`
	}
	out := make([]row, 0, len(atts))
	for _, a := range atts {
		out = append(out, row{EventID: a.EventID, Type: a.Type, Attempt: a.Attempt, At: a.At, Status: a.Status, LatencyMS: a.LatencyMS, Error: a.Err})
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempts": out})
}

// ResealSecrets re-encrypts every webhook secret not yet sealed under kr's
// active key (D5 rotation) and reports how many it rewrote. Each rewrite
// is a compare-and-swap, so a secret rotated meanwhile is left alone.
func ResealSecrets(ctx context.Context, db *store.DB, kr *keyring.Keyring) (int, error) {
	eps, err := db.WebhookSecrets(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range eps {
		if !kr.NeedsRotation(e.SecretSealed) {
			continue
		}
		sealed, err := kr.Reseal(e.SecretSealed, secretAAD(e.UserID, e.URL))
		if err != nil {
			return n, fmt.Errorf("reseal webhook %d: %w", e.ID, err)
		}
		if err := db.ResealWebhookSecret(ctx, e.ID, e.SecretSealed, sealed); err != nil && apperr.KindOf(err) != apperr.Conflict && apperr.KindOf(err) != apperr.NotFound {
			return n, err
		}
		n++
	}
	return n, nil
}
