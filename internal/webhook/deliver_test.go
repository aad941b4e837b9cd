package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// W1: a delivery over TLS carries the Standard Webhooks headers and the
// exact body, and the receiver verifies it with Verify.
func TestDeliverSignedOverTLS_W1(t *testing.T) {
	secret := testSecret(t)
	ev := testEvent()
	type got struct {
		header http.Header
		body   []byte
	}
	seen := make(chan got, 1)
	r := newReceiver(t, true, func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		seen <- got{req.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	})
	c := NewClient(Options{AllowAddr: allowLoopback, RootCAs: r.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})
	a := Deliver(t.Context(), c, r.URL+"/hook", secret, ev)
	if !a.OK() || a.Status != http.StatusNoContent || a.Err != "" {
		t.Fatalf("Deliver() = %+v, want success with 204", a)
	}
	g := <-seen
	if string(g.body) != string(ev.Payload) {
		t.Errorf("receiver body = %q, want %q", g.body, ev.Payload)
	}
	for name, want := range map[string]string{
		"webhook-id":        ev.ID,
		"webhook-timestamp": "1772366400",
		"Content-Type":      "application/json",
		"User-Agent":        UserAgent,
	} {
		if got := g.header.Get(name); got != want {
			t.Errorf("receiver header %s = %q, want %q", name, got, want)
		}
	}
	if err := Verify(secret, g.header, g.body, ev.Timestamp.Add(time.Minute), 0); err != nil {
		t.Errorf("Verify(delivered webhook) = %v, want nil", err)
	}
}

func TestDeliverStatuses_W1(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		wantOK     bool
		wantErr    string
		wantRetry  time.Duration
		wantGone   bool
	}{
		{status: 200, wantOK: true},
		{status: 202, wantOK: true},
		{status: 299, wantOK: true},
		{status: 304, wantErr: "redirect not followed (status 304)"},
		{status: 400, wantErr: "unexpected status 400"},
		{status: 410, wantErr: "unexpected status 410", wantGone: true},
		{status: 429, retryAfter: "120", wantErr: "unexpected status 429", wantRetry: 2 * time.Minute},
		{status: 503, retryAfter: "999999999", wantErr: "unexpected status 503", wantRetry: MaxDelay},
		{status: 503, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", wantErr: "unexpected status 503"},
		{status: 500, retryAfter: "60", wantErr: "unexpected status 500"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			r := newReceiver(t, false, func(w http.ResponseWriter, _ *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"private":"receiver detail"}`)
			})
			c := NewClient(Options{AllowHTTP: true, AllowAddr: allowLoopback})
			a := Deliver(t.Context(), c, r.URL, testSecret(t), testEvent())
			if a.OK() != tt.wantOK || a.Status != tt.status || a.Err != tt.wantErr || a.RetryAfter != tt.wantRetry || a.Gone() != tt.wantGone {
				t.Errorf("Deliver(status %d) = %+v (OK %v, Gone %v), want status %d, err %q, retry %v, ok %v",
					tt.status, a, a.OK(), a.Gone(), tt.status, tt.wantErr, tt.wantRetry, tt.wantOK)
			}
		})
	}
}

func TestDeliverFailures(t *testing.T) {
	c := NewClient(Options{AllowHTTP: true, AllowAddr: allowLoopback})
	closed := newReceiver(t, false, ok)
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name, url, secret string
		ev                Event
		want              string
	}{
		{"bad secret", "http://example.test/", "whsec_short", testEvent(), "cannot sign: invalid signing secret"},
		{"bad id", "http://example.test/", testSecret(t), Event{ID: "a.b"}, "cannot sign: invalid message id"},
		{"bad url", "http://[::1", testSecret(t), testEvent(), "invalid endpoint URL"},
		{"connection refused", closedURL, testSecret(t), testEvent(), "connection refused"},
		{"unresolvable", "http://nothing.diffgate.invalid/", testSecret(t), testEvent(), "could not resolve host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Deliver(t.Context(), c, tt.url, tt.secret, tt.ev)
			if a.OK() || a.Err != tt.want {
				t.Errorf("Deliver(%s) = %+v, want Err %q", tt.url, a, tt.want)
			}
		})
	}
}

func TestNewPayload_W1(t *testing.T) {
	b, err := NewPayload("review.completed", time.Date(2026, 3, 1, 12, 0, 0, 5, time.FixedZone("x", 3600)), map[string]string{"id": "rv_1"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["type"] != "review.completed" || got["timestamp"] != "2026-03-01T11:00:00.000000005Z" || got["data"].(map[string]any)["id"] != "rv_1" {
		t.Errorf("NewPayload() = %s, want the Standard Webhooks envelope", b)
	}
}
