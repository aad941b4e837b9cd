package billing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/internal/apperr"
	"github.com/stripe/stripe-go/v82/webhook"
)

const testWebhookSecret = "whsec_test_0123456789abcdef"

func testBilling(t *testing.T, edit func(*Config)) *Billing {
	t.Helper()
	cfg := Config{
		SecretKey:     "sk_test_123",
		WebhookSecret: testWebhookSecret,
		Packs:         []Pack{{ID: "small", PriceID: "price_small", Credits: 1000}, {ID: "large", PriceID: "price_large", Credits: 12000}},
		SuccessURL:    "https://diffgate.example/billing/done?session={CHECKOUT_SESSION_ID}",
		CancelURL:     "https://diffgate.example/billing",
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

// sign builds a Stripe-Signature header the way Stripe does:
// t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>.
func sign(secret string, ts time.Time, payload []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts.Unix())
	mac.Write(payload)
	return fmt.Sprintf("t=%d,v1=%s", ts.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

// eventJSON is a Stripe event around a checkout session. The API version
// is older than stripe-go's on purpose: ParseWebhook must not depend on it.
func eventJSON(t *testing.T, id, typ string, session map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": "2023-10-16", "created": 1700000000,
		"livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": session},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func paidSession(edit func(map[string]any)) map[string]any {
	s := map[string]any{
		"id": "cs_test_a1", "object": "checkout.session", "mode": "payment", "status": "complete",
		"payment_status": "paid", "client_reference_id": "42", "amount_total": 1000, "currency": "usd",
		"metadata": map[string]any{"user_id": "42", "pack_id": "small", "credits": "1000"},
	}
	if edit != nil {
		edit(s)
	}
	return s
}

func setMeta(k string, v any) func(map[string]any) {
	return func(s map[string]any) {
		m := s["metadata"].(map[string]any)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}

// Our signer and stripe-go's test signer agree, so the tests below sign
// exactly the way Stripe does.
func TestSignMatchesStripeGo(t *testing.T) {
	payload := []byte(`{"id":"evt_1"}`)
	ts := time.Unix(1700000000, 0)
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: testWebhookSecret, Timestamp: ts})
	if got := sign(testWebhookSecret, ts, payload); got != sp.Header {
		t.Errorf("sign() = %q, want stripe-go's %q", got, sp.Header)
	}
}

// L3: Stripe webhooks are signature-verified, and only paid checkout
// sessions of diffgate packs are credited.
func TestParseWebhook(t *testing.T) {
	b := testBilling(t, nil)
	now := time.Unix(1_750_000_000, 0)
	paid := eventJSON(t, "evt_paid", "checkout.session.completed", paidSession(nil))
	wantPaid := &CheckoutCompleted{SessionID: "cs_test_a1", UserID: 42, PackID: "small", Credits: 1000, PaymentStatus: "paid"}
	validSig := func(p []byte) string { return sign(testWebhookSecret, now, p) }

	tests := []struct {
		name     string
		payload  []byte
		header   string
		wantKind apperr.Kind // checked when wantErr
		wantErr  bool
		wantType string
		want     *CheckoutCompleted
	}{
		{name: "valid paid session", payload: paid, header: validSig(paid), wantType: "checkout.session.completed", want: wantPaid},
		{name: "signed 4 minutes ago", payload: paid, header: sign(testWebhookSecret, now.Add(-4*time.Minute), paid), wantType: "checkout.session.completed", want: wantPaid},
		{name: "signed 4 minutes ahead", payload: paid, header: sign(testWebhookSecret, now.Add(4*time.Minute), paid), wantType: "checkout.session.completed", want: wantPaid},
		{name: "stale timestamp", payload: paid, header: sign(testWebhookSecret, now.Add(-5*time.Minute-time.Second), paid), wantErr: true, wantKind: apperr.Unauthorized},
		{name: "future timestamp", payload: paid, header: sign(testWebhookSecret, now.Add(5*time.Minute+time.Second), paid), wantErr: true, wantKind: apperr.Unauthorized},
		{name: "wrong secret", payload: paid, header: sign("whsec_other", now, paid), wantErr: true, wantKind: apperr.Unauthorized},
		{
			name: "bad signature", payload: paid, wantErr: true, wantKind: apperr.Unauthorized,
			header: fmt.Sprintf("t=%d,v1=%s", now.Unix(), strings.Repeat("ab", 32)),
		},
		{
			name: "payload changed after signing", payload: []byte(strings.Replace(string(paid), `"1000"`, `"9000"`, 1)), header: validSig(paid),
			wantErr: true, wantKind: apperr.Unauthorized,
		},
		{
			name: "signature over another timestamp", payload: paid, wantErr: true, wantKind: apperr.Unauthorized,
			header: strings.Replace(sign(testWebhookSecret, now.Add(-time.Hour), paid), fmt.Sprintf("t=%d", now.Add(-time.Hour).Unix()), fmt.Sprintf("t=%d", now.Unix()), 1),
		},
		// A fresh timestamp must not vouch for an old signature, and two
		// timestamps are refused even when the last one is signed.
		{
			name: "fresh timestamp before an old signed one", payload: paid, wantErr: true, wantKind: apperr.Unauthorized,
			header: fmt.Sprintf("t=%d,", now.Unix()) + sign(testWebhookSecret, now.Add(-time.Hour), paid),
		},
		{
			name: "two timestamps", payload: paid, wantErr: true, wantKind: apperr.Unauthorized,
			header: fmt.Sprintf("t=%d,", now.Add(-time.Hour).Unix()) + validSig(paid),
		},
		{
			name: "several v1, one valid", payload: paid, wantType: "checkout.session.completed", want: wantPaid,
			header: validSig(paid) + ",v1=" + strings.Repeat("00", 32) + ",v1=nothex,v0=" + strings.Repeat("11", 32),
		},
		{
			name: "valid one first among several", payload: paid, wantType: "checkout.session.completed", want: wantPaid,
			header: strings.Replace(validSig(paid), ",v1=", ",v1="+strings.Repeat("cd", 32)+",v1=", 1),
		},
		{name: "v0 only", payload: paid, header: strings.Replace(validSig(paid), "v1=", "v0=", 1), wantErr: true, wantKind: apperr.Unauthorized},
		{name: "no header", payload: paid, header: "", wantErr: true, wantKind: apperr.Unauthorized},
		{name: "no timestamp", payload: paid, header: strings.SplitN(validSig(paid), ",", 2)[1], wantErr: true, wantKind: apperr.Unauthorized},
		{name: "timestamp not a number", payload: paid, header: "t=soon," + strings.SplitN(validSig(paid), ",", 2)[1], wantErr: true, wantKind: apperr.Unauthorized},
		{name: "garbage header", payload: paid, header: "Bearer abc", wantErr: true, wantKind: apperr.Unauthorized},
		{name: "malformed JSON", payload: []byte(`{"id":"evt_1","type":`), header: validSig([]byte(`{"id":"evt_1","type":`)), wantErr: true, wantKind: apperr.Invalid},
		{name: "not an object", payload: []byte(`[1,2]`), header: validSig([]byte(`[1,2]`)), wantErr: true, wantKind: apperr.Invalid},
		{name: "no event id", payload: []byte(`{"type":"checkout.session.completed"}`), header: validSig([]byte(`{"type":"checkout.session.completed"}`)), wantErr: true, wantKind: apperr.Invalid},
	}
	unpaid := eventJSON(t, "evt_unpaid", "checkout.session.completed", paidSession(func(s map[string]any) { s["payment_status"] = "unpaid" }))
	asyncPaid := eventJSON(t, "evt_async", "checkout.session.async_payment_succeeded", paidSession(nil))
	other := eventJSON(t, "evt_other", "customer.created", map[string]any{"id": "cus_1", "object": "customer"})
	expired := eventJSON(t, "evt_exp", "checkout.session.expired", paidSession(func(s map[string]any) { s["payment_status"] = "unpaid"; s["status"] = "expired" }))
	foreign := eventJSON(t, "evt_foreign", "checkout.session.completed", paidSession(func(s map[string]any) { s["metadata"] = map[string]any{"order": "7"} }))
	subscription := eventJSON(t, "evt_sub", "checkout.session.completed", paidSession(func(s map[string]any) { s["mode"] = "subscription" }))
	noSession := []byte(`{"id":"evt_nodata","type":"checkout.session.completed","data":{}}`)
	notSession := eventJSON(t, "evt_notsession", "checkout.session.completed", map[string]any{"id": "pi_1", "object": "payment_intent"})
	badMeta := func(name string, edit func(map[string]any)) []byte {
		return eventJSON(t, "evt_"+name, "checkout.session.completed", paidSession(edit))
	}
	for _, c := range []struct {
		name     string
		payload  []byte
		wantType string
		want     *CheckoutCompleted
		wantErr  bool
	}{
		{"unpaid session", unpaid, "checkout.session.completed", nil, false},
		{"async payment succeeded", asyncPaid, "checkout.session.async_payment_succeeded", wantPaid, false},
		{"other event type", other, "customer.created", nil, false},
		{"expired session", expired, "checkout.session.expired", nil, false},
		{"session of another integration", foreign, "checkout.session.completed", nil, false},
		{"subscription session", subscription, "checkout.session.completed", nil, false},
		{"completed without session", noSession, "", nil, true},
		{"completed with another object", notSession, "", nil, true},
		{"user id missing", badMeta("nouser", setMeta("user_id", nil)), "", nil, true},
		{"user id not a number", badMeta("baduser", setMeta("user_id", "abc")), "", nil, true},
		{"user id differs from client reference", badMeta("otheruser", setMeta("user_id", "43")), "", nil, true},
		{"credits zero", badMeta("zero", setMeta("credits", "0")), "", nil, true},
		{"credits negative", badMeta("neg", setMeta("credits", "-5")), "", nil, true},
		{"pack id missing", badMeta("nopack", setMeta("pack_id", nil)), "", nil, true},
	} {
		tests = append(tests, struct {
			name     string
			payload  []byte
			header   string
			wantKind apperr.Kind
			wantErr  bool
			wantType string
			want     *CheckoutCompleted
		}{name: c.name, payload: c.payload, header: validSig(c.payload), wantKind: apperr.Invalid, wantErr: c.wantErr, wantType: c.wantType, want: c.want})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := b.ParseWebhook(tt.payload, tt.header, now)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseWebhook(%s) = %+v, want a %v error", tt.name, ev, tt.wantKind)
				}
				if k := apperr.KindOf(err); k != tt.wantKind {
					t.Errorf("ParseWebhook(%s) error kind = %v (%v), want %v", tt.name, k, err, tt.wantKind)
				}
				// The payload never travels in an error, public or not.
				for _, s := range []string{err.Error(), apperr.PublicMessage(err)} {
					if strings.Contains(s, "cs_test_a1") || strings.Contains(s, "evt_") || strings.Contains(s, `"type"`) {
						t.Errorf("ParseWebhook(%s) error %q echoes the payload", tt.name, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWebhook(%s) error: %v", tt.name, err)
			}
			if ev.Type != tt.wantType || ev.ID == "" {
				t.Errorf("ParseWebhook(%s) = {ID: %q, Type: %q}, want type %q and an id", tt.name, ev.ID, ev.Type, tt.wantType)
			}
			switch {
			case tt.want == nil && ev.Completed != nil:
				t.Errorf("ParseWebhook(%s).Completed = %+v, want nil", tt.name, *ev.Completed)
			case tt.want != nil && (ev.Completed == nil || *ev.Completed != *tt.want):
				t.Errorf("ParseWebhook(%s).Completed = %+v, want %+v", tt.name, ev.Completed, *tt.want)
			}
		})
	}
}

// L3: the event id is what the store keys replays on; a replayed delivery
// parses to the same id, so applying it twice can be refused.
func TestParseWebhookReplayKeepsID(t *testing.T) {
	b := testBilling(t, nil)
	now := time.Unix(1_750_000_000, 0)
	payload := eventJSON(t, "evt_replayed", "checkout.session.completed", paidSession(nil))
	header := sign(testWebhookSecret, now, payload)
	first, err := b.ParseWebhook(payload, header, now)
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	again, err := b.ParseWebhook(payload, header, now.Add(time.Minute))
	if err != nil {
		t.Fatalf("ParseWebhook (replay within tolerance): %v", err)
	}
	if first.ID != "evt_replayed" || again.ID != first.ID {
		t.Errorf("ParseWebhook ids = %q then %q, want evt_replayed twice", first.ID, again.ID)
	}
	// Past the tolerance a replay is refused outright.
	if _, err := b.ParseWebhook(payload, header, now.Add(10*time.Minute)); apperr.KindOf(err) != apperr.Unauthorized {
		t.Errorf("ParseWebhook 10 minutes later = %v, want Unauthorized", err)
	}
}

// A configured tolerance replaces the five-minute default.
func TestParseWebhookTolerance(t *testing.T) {
	b := testBilling(t, func(c *Config) { c.Tolerance = 30 * time.Second })
	now := time.Unix(1_750_000_000, 0)
	payload := eventJSON(t, "evt_tol", "customer.created", map[string]any{"id": "cus_1", "object": "customer"})
	for _, tt := range []struct {
		age    time.Duration
		wantOK bool
	}{{0, true}, {30 * time.Second, true}, {-30 * time.Second, true}, {31 * time.Second, false}, {-31 * time.Second, false}, {4 * time.Minute, false}} {
		_, err := b.ParseWebhook(payload, sign(testWebhookSecret, now.Add(-tt.age), payload), now)
		if (err == nil) != tt.wantOK {
			t.Errorf("ParseWebhook(signed %v ago, tolerance 30s) error = %v, want ok %v", tt.age, err, tt.wantOK)
		}
	}
}

// Without Stripe, every billing call says so (L3).
func TestNotConfigured(t *testing.T) {
	b, err := New(Config{WebhookSecret: "whsec_x"})
	if err != ErrNotConfigured || b != nil {
		t.Fatalf("New(no secret key) = %v, %v, want nil, ErrNotConfigured", b, err)
	}
	if k := apperr.KindOf(err); k != apperr.Unavailable {
		t.Errorf("KindOf(ErrNotConfigured) = %v, want %v", k, apperr.Unavailable)
	}
	if msg := apperr.PublicMessage(err); !strings.Contains(msg, "billing is not configured") {
		t.Errorf("PublicMessage(ErrNotConfigured) = %q, want it to say billing is not configured", msg)
	}
	var nb *Billing
	if _, _, err := nb.CreateCheckout(t.Context(), 1, "", "small", ""); err != ErrNotConfigured {
		t.Errorf("nil Billing CreateCheckout error = %v, want ErrNotConfigured", err)
	}
	if _, err := nb.ParseWebhook([]byte(`{}`), "t=1,v1=00", time.Unix(1, 0)); err != ErrNotConfigured {
		t.Errorf("nil Billing ParseWebhook error = %v, want ErrNotConfigured", err)
	}
	if _, err := nb.Packs(); err != ErrNotConfigured {
		t.Errorf("nil Billing Packs error = %v, want ErrNotConfigured", err)
	}
}

func TestStripeIdempotencyKey(t *testing.T) {
	base := stripeIdempotencyKey(42, "small", "k1")
	if again := stripeIdempotencyKey(42, "small", "k1"); again != base {
		t.Errorf("stripeIdempotencyKey is not stable: %q then %q", base, again)
	}
	for _, other := range []string{
		stripeIdempotencyKey(43, "small", "k1"),
		stripeIdempotencyKey(42, "large", "k1"),
		stripeIdempotencyKey(42, "small", "k2"),
		stripeIdempotencyKey(4, "2small", "k1"),
	} {
		if other == base {
			t.Errorf("stripeIdempotencyKey collides: %q", other)
		}
	}
	if long := stripeIdempotencyKey(1, "small", strings.Repeat("k", 10000)); len(long) > 255 {
		t.Errorf("len(stripeIdempotencyKey(long key)) = %d, want <= 255", len(long))
	}
	if sum, err := hex.DecodeString(strings.TrimPrefix(base, "dg-checkout-")); err != nil || len(sum) != sha256.Size || !strings.HasPrefix(base, "dg-checkout-") {
		t.Errorf("stripeIdempotencyKey = %q, want dg-checkout- and 64 hex digits", base)
	}
}
