package webhook

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// W1: the test vector published with the Standard Webhooks reference
// libraries (libraries/go/webhook_test.go and libraries/javascript/src/
// webhook.test.ts, TestWebhookSign / "sign function works"). Matching it
// proves receivers using the official libraries verify our signatures.
func TestSignSpecVector_W1(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		msgID  = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	ts := time.Unix(1614265330, 0)
	got, err := Sign(secret, msgID, ts, []byte(body))
	if err != nil {
		t.Fatalf("Sign() error = %v", err)
	}
	if got != want {
		t.Errorf("Sign(%q, %q, %d, %q) = %q, want %q", secret, msgID, ts.Unix(), body, got, want)
	}
	h, err := Headers(secret, msgID, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"webhook-id": msgID, "webhook-timestamp": "1614265330", "webhook-signature": want} {
		if got := h.Get(name); got != want {
			t.Errorf("Headers().Get(%q) = %q, want %q", name, got, want)
		}
	}
	if err := Verify(secret, h, []byte(body), ts.Add(4*time.Minute), 0); err != nil {
		t.Errorf("Verify(spec vector) = %v, want nil", err)
	}
}

func TestNewSecret_W1(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, SecretPrefix) {
			t.Fatalf("NewSecret() = %q, want prefix %q", s, SecretPrefix)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
		if err != nil || len(key) != SecretBytes {
			t.Fatalf("NewSecret() = %q decodes to %d bytes, %v; want %d bytes", s, len(key), err, SecretBytes)
		}
		if seen[s] {
			t.Fatalf("NewSecret() repeated %q", s)
		}
		seen[s] = true
	}
}

func TestSignRejects(t *testing.T) {
	good, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, secret, id string
		want             error
	}{
		{"short secret", SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 16)), "msg_1", ErrSecret},
		{"long secret", SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 65)), "msg_1", ErrSecret},
		{"not base64", SecretPrefix + "!!!!" + good[10:], "msg_1", ErrSecret},
		{"empty secret", "", "msg_1", ErrSecret},
		{"dot in id", good, "msg.1", ErrMessageID},
		{"space in id", good, "msg 1", ErrMessageID},
		{"empty id", good, "", ErrMessageID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Sign(tt.secret, tt.id, time.Unix(1, 0), nil); !errors.Is(err, tt.want) {
				t.Errorf("Sign(%q, %q) error = %v, want %v", tt.secret, tt.id, err, tt.want)
			}
		})
	}
}

// W1: what a receiver checks, modelled on the reference libraries' tests.
func TestVerify_W1(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"review.completed","data":{"id":"rv_1"}}`)
	fresh := func() http.Header {
		h, err := Headers(secret, "evt_1", sent, body)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	bogus := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	tests := []struct {
		name   string
		secret string
		edit   func(h http.Header)
		body   []byte
		now    time.Time
		tol    time.Duration
		want   error
	}{
		{name: "valid", now: sent},
		{name: "bare base64 secret", secret: strings.TrimPrefix(secret, SecretPrefix), now: sent},
		{name: "at the old edge of the tolerance", now: sent.Add(DefaultTolerance)},
		{name: "at the new edge of the tolerance", now: sent.Add(-DefaultTolerance)},
		{name: "too old", now: sent.Add(DefaultTolerance + time.Second), want: ErrTimestamp},
		{name: "too new", now: sent.Add(-DefaultTolerance - time.Second), want: ErrTimestamp},
		{name: "custom tolerance", now: sent.Add(time.Minute + time.Second), tol: time.Minute, want: ErrTimestamp},
		{name: "timestamp not a number", edit: func(h http.Header) { h.Set(HeaderTimestamp, "hello") }, now: sent, want: ErrTimestamp},
		{name: "timestamp replaced", edit: func(h http.Header) { h.Set(HeaderTimestamp, strconv.FormatInt(sent.Unix()+1, 10)) }, now: sent, want: ErrSignature},
		{name: "missing id", edit: func(h http.Header) { h.Del(HeaderID) }, now: sent, want: ErrMissingHeaders},
		{name: "missing timestamp", edit: func(h http.Header) { h.Del(HeaderTimestamp) }, now: sent, want: ErrMissingHeaders},
		{name: "missing signature", edit: func(h http.Header) { h.Del(HeaderSignature) }, now: sent, want: ErrMissingHeaders},
		{name: "id replaced", edit: func(h http.Header) { h.Set(HeaderID, "evt_2") }, now: sent, want: ErrSignature},
		{name: "invalid signature", edit: func(h http.Header) { h.Set(HeaderSignature, bogus) }, now: sent, want: ErrSignature},
		{name: "partial signature", edit: func(h http.Header) { h.Set(HeaderSignature, h.Get(HeaderSignature)[:8]) }, now: sent, want: ErrSignature},
		{name: "empty v1", edit: func(h http.Header) { h.Set(HeaderSignature, "v1,") }, now: sent, want: ErrSignature},
		{name: "multiple signatures, one valid", edit: func(h http.Header) {
			h.Set(HeaderSignature, strings.Join([]string{bogus, "v2," + bogus[3:], h.Get(HeaderSignature), bogus}, " "))
		}, now: sent},
		{name: "valid signature under another version", edit: func(h http.Header) {
			h.Set(HeaderSignature, "v1a,"+strings.TrimPrefix(h.Get(HeaderSignature), "v1,"))
		}, now: sent, want: ErrSignature},
		{name: "body changed", body: []byte(`{"type":"review.completed","data":{"id":"rv_2"}}`), now: sent, want: ErrSignature},
		{name: "other secret", secret: other, now: sent, want: ErrSignature},
		{name: "invalid secret", secret: "whsec_x", now: sent, want: ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fresh()
			if tt.edit != nil {
				tt.edit(h)
			}
			s, b := secret, body
			if tt.secret != "" {
				s = tt.secret
			}
			if tt.body != nil {
				b = tt.body
			}
			err := Verify(s, h, b, tt.now, tt.tol)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify(%v) = %v, want %v", h, err, tt.want)
			}
		})
	}
}
