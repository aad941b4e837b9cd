package billing

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Event types ParseWebhook reads; every other type is returned with
// Completed nil for the caller to acknowledge and ignore.
const (
	EventCheckoutCompleted     = "checkout.session.completed"
	EventAsyncPaymentSucceeded = "checkout.session.async_payment_succeeded"
)

// Event is a verified Stripe event.
type Event struct {
	// ID is Stripe's event id (evt_…), the key that makes applying an
	// event idempotent.
	ID   string
	Type string
	// Completed is set only when the event pays for a diffgate pack.
	Completed *CheckoutCompleted
}

// CheckoutCompleted is a paid checkout session of a credit pack.
type CheckoutCompleted struct {
	SessionID     string
	UserID        int64
	PackID        string
	Credits       int64
	PaymentStatus string
}

// ParseWebhook verifies a Stripe webhook delivery and reads it (L3).
//
// The Stripe-Signature header must hold exactly one timestamp within the
// tolerance of now, in either direction, and a v1 HMAC-SHA256 signature
// of "timestamp.payload" under the webhook secret (one of several v1
// signatures suffices: Stripe sends two while a secret is rolled).
// Failures are Unauthorized; a verified payload that is not a readable
// event is Invalid. Neither error carries the payload.
//
// Completed is set for checkout.session.completed when the session is
// paid, and for checkout.session.async_payment_succeeded (a delayed
// payment method that has now paid), for sessions diffgate created.
// Everything else, an unpaid session included, has Completed nil.
//
// A valid event can be delivered more than once (Stripe retries, and a
// signed delivery can be replayed within the tolerance): the caller must
// apply it at most once, keyed by Event.ID, in the same transaction as
// the credit. Only one of the two event types above is ever paid for a
// session, so keying by event id grants a session once.
func (b *Billing) ParseWebhook(payload []byte, sigHeader string, now time.Time) (Event, error) {
	if b == nil {
		return Event{}, ErrNotConfigured
	}
	ts, err := signedTimestamp(sigHeader)
	if err != nil {
		return Event{}, apperr.Wrap(apperr.Unauthorized, "invalid Stripe-Signature header", err)
	}
	// stripe-go checks only the age of a timestamp, against the wall
	// clock; a timestamp from the future would pass. Both directions are
	// checked here, against the injected clock, and stripe-go's own check
	// is turned off below.
	if skew := now.Sub(ts); skew > b.tolerance || -skew > b.tolerance {
		return Event{}, apperr.Wrap(apperr.Unauthorized, "the Stripe-Signature timestamp is outside the tolerance", errors.New("webhook: timestamp outside tolerance"))
	}
	e, err := webhook.ConstructEventWithOptions(payload, sigHeader, b.webhookSecret, webhook.ConstructEventOptions{
		IgnoreTolerance: true,
		// The endpoint's API version is chosen in Stripe's dashboard and
		// can differ from stripe-go's. That check guards stripe-go's typed
		// decoding; diffgate decodes the few session fields it uses
		// (below) itself, and they are the same in every API version
		// since checkout sessions exist.
		IgnoreAPIVersionMismatch: true,
	})
	if err != nil {
		switch {
		case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader),
			errors.Is(err, webhook.ErrNoValidSignature), errors.Is(err, webhook.ErrTooOld):
			return Event{}, apperr.Wrap(apperr.Unauthorized, "invalid Stripe signature", err)
		}
		// stripe-go's JSON error quotes the payload; keep only that it failed.
		return Event{}, apperr.Wrap(apperr.Invalid, "the event is not valid JSON", errors.New("webhook: malformed event"))
	}
	if e.ID == "" || e.Type == "" {
		return Event{}, apperr.Wrap(apperr.Invalid, "the event has no id or type", errors.New("webhook: event without id or type"))
	}
	ev := Event{ID: e.ID, Type: string(e.Type)}
	if ev.Type != EventCheckoutCompleted && ev.Type != EventAsyncPaymentSucceeded {
		return ev, nil
	}
	if e.Data == nil || len(e.Data.Raw) == 0 {
		return Event{}, apperr.Wrap(apperr.Invalid, "the event has no session", errors.New("webhook: checkout event without data.object"))
	}
	c, err := readSession(e.Data.Raw)
	if err != nil {
		return Event{}, apperr.Wrap(apperr.Invalid, "the checkout session in the event is not one diffgate can credit", err)
	}
	ev.Completed = c
	return ev, nil
}

// signedTimestamp is the one t= of a Stripe-Signature header. Two would
// be ambiguous: stripe-go verifies the signature against the last, and a
// forged fresh first one must not vouch for an old signed one.
func signedTimestamp(header string) (time.Time, error) {
	if header == "" {
		return time.Time{}, errors.New("webhook: no Stripe-Signature header")
	}
	var ts string
	seen := 0
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return time.Time{}, errors.New("webhook: malformed Stripe-Signature header")
		}
		if k == "t" {
			ts = v
			seen++
		}
	}
	if seen != 1 {
		return time.Time{}, errors.New("webhook: Stripe-Signature header needs exactly one timestamp")
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("webhook: Stripe-Signature timestamp is not a number")
	}
	return time.Unix(n, 0), nil
}

// session is the part of a checkout session diffgate reads.
type session struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Mode              string            `json:"mode"`
	PaymentStatus     string            `json:"payment_status"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
}

// readSession returns nil for sessions that are not paid pack purchases
// of diffgate (other integrations on the same Stripe account are
// ignored), and an error for a diffgate session whose metadata is
// unusable, so the fault is seen instead of a purchase vanishing.
func readSession(raw json.RawMessage) (*CheckoutCompleted, error) {
	var s session
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("webhook: checkout session does not decode")
	}
	if s.Object != "checkout.session" || s.ID == "" {
		return nil, errors.New("webhook: data.object is not a checkout session")
	}
	_, hasUser := s.Metadata[MetaUserID]
	_, hasPack := s.Metadata[MetaPackID]
	_, hasCredits := s.Metadata[MetaCredits]
	if !hasUser && !hasPack && !hasCredits {
		return nil, nil // not a diffgate session
	}
	if s.Mode != string(stripe.CheckoutSessionModePayment) || s.PaymentStatus != string(stripe.CheckoutSessionPaymentStatusPaid) {
		return nil, nil
	}
	uid, err := strconv.ParseInt(s.Metadata[MetaUserID], 10, 64)
	if err != nil || uid <= 0 {
		return nil, errors.New("webhook: session metadata has no valid user_id")
	}
	if s.ClientReferenceID != s.Metadata[MetaUserID] {
		return nil, errors.New("webhook: session client_reference_id and metadata user_id differ")
	}
	credits, err := strconv.ParseInt(s.Metadata[MetaCredits], 10, 64)
	if err != nil || credits <= 0 {
		return nil, errors.New("webhook: session metadata has no valid credits")
	}
	if s.Metadata[MetaPackID] == "" {
		return nil, errors.New("webhook: session metadata has no pack_id")
	}
	// The credits come from the session, not from today's pack list: the
	// user pays for what was offered when the session was created.
	return &CheckoutCompleted{
		SessionID:     s.ID,
		UserID:        uid,
		PackID:        s.Metadata[MetaPackID],
		Credits:       credits,
		PaymentStatus: s.PaymentStatus,
	}, nil
}
