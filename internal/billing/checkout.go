package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/stripe/stripe-go/v82"
)

// Metadata keys diffgate puts on its checkout sessions and reads back from
// the webhook. Stripe's metadata is set with the secret key only, so a
// paying user cannot change it.
const (
	MetaUserID  = "user_id"
	MetaPackID  = "pack_id"
	MetaCredits = "credits"
)

// CreateCheckout starts a Stripe Checkout session in payment mode for one
// pack and returns the URL to send the user to and the session's id.
//
// The session carries the user id as client_reference_id and user, pack
// and credits as metadata (also on the PaymentIntent, so a refund or
// dispute can be traced to the purchase); the credits are granted from the
// webhook, never from the redirect back.
//
// idempotencyKey is the caller's Idempotency-Key. Stripe scopes keys to the
// whole account, so the key sent is derived from it, the user and the
// pack: two users who pick the same key never receive each other's
// session. An empty key lets stripe-go make one for its own retries.
func (b *Billing) CreateCheckout(ctx context.Context, userID int64, email, packID, idempotencyKey string) (url, sessionID string, err error) {
	if b == nil {
		return "", "", ErrNotConfigured
	}
	if userID <= 0 {
		return "", "", apperr.New(apperr.Invalid, "checkout needs a user")
	}
	p, ok := b.pack(packID)
	if !ok {
		ids := make([]string, len(b.packs))
		for i, p := range b.packs {
			ids[i] = p.ID
		}
		return "", "", apperr.Newf(apperr.Invalid, "unknown credit pack (offered: %s)", strings.Join(ids, ", "))
	}
	uid := strconv.FormatInt(userID, 10)
	credits := strconv.FormatInt(p.Credits, 10)
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		LineItems:         []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String(p.PriceID), Quantity: stripe.Int64(1)}},
		SuccessURL:        stripe.String(b.successURL),
		ClientReferenceID: stripe.String(uid),
		Metadata:          map[string]string{MetaUserID: uid, MetaPackID: p.ID, MetaCredits: credits},
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{
			Metadata: map[string]string{MetaUserID: uid, MetaPackID: p.ID, MetaCredits: credits},
		},
	}
	if b.cancelURL != "" {
		params.CancelURL = stripe.String(b.cancelURL)
	}
	if email = strings.TrimSpace(email); email != "" {
		params.CustomerEmail = stripe.String(email)
	}
	if idempotencyKey != "" {
		params.SetIdempotencyKey(stripeIdempotencyKey(userID, p.ID, idempotencyKey))
	}
	s, err := b.client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return "", "", stripeError("create checkout session", err)
	}
	if s.ID == "" || s.URL == "" {
		return "", "", apperr.Wrap(apperr.Unavailable, "the payment provider gave no checkout page", errors.New("create checkout session: no id or url in the answer"))
	}
	return s.URL, s.ID, nil
}

// stripeIdempotencyKey namespaces a caller's key by user and pack; hashed,
// so it stays within Stripe's 255 characters whatever the caller sent.
func stripeIdempotencyKey(userID int64, packID, key string) string {
	h := sha256.New()
	h.Write([]byte("diffgate checkout\x00"))
	h.Write([]byte(strconv.FormatInt(userID, 10)))
	h.Write([]byte{0})
	h.Write([]byte(packID))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return "dg-checkout-" + hex.EncodeToString(h.Sum(nil))
}

// stripeError sorts a failed Stripe call into what the user can do about
// it: wait (Stripe unreachable, overloaded or rate limiting) or nothing
// (Stripe refused the request, a configuration fault the operator sees in
// the logged cause).
func stripeError(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		if se.HTTPStatusCode >= 500 || se.HTTPStatusCode == http.StatusTooManyRequests {
			return apperr.Wrap(apperr.Unavailable, "the payment provider is unavailable; try again later", wrap(op, err))
		}
		return apperr.Wrap(apperr.Internal, "the payment provider refused the checkout", wrap(op, err))
	}
	return apperr.Wrap(apperr.Unavailable, "the payment provider is unavailable; try again later", wrap(op, err))
}

func wrap(op string, err error) error { return fmt.Errorf("%s: %w", op, err) }
