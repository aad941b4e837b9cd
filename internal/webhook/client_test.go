package webhook

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a test server that counts connections and requests, so tests
// can prove a refused delivery never reached the socket.
type receiver struct {
	*httptest.Server
	conns, reqs atomic.Int64
}

func newReceiver(t *testing.T, tls bool, h http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.reqs.Add(1)
		h(w, req)
	}))
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	if tls {
		r.StartTLS()
	} else {
		r.Start()
	}
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) untouched(t *testing.T) {
	t.Helper()
	if n, m := r.conns.Load(), r.reqs.Load(); n != 0 || m != 0 {
		t.Errorf("receiver saw %d connections and %d requests, want none", n, m)
	}
}

func allowLoopback(a netip.Addr) bool { return a.Unmap().IsLoopback() }

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

func testEvent() Event {
	return Event{
		ID:        "evt_2Kx",
		Type:      "review.completed",
		Timestamp: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Payload:   []byte(`{"type":"review.completed","data":{"id":"rv_1"}}`),
	}
}

func testSecret(t *testing.T) string {
	t.Helper()
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// W2: the production client refuses 127.0.0.1 in the dialer's Control
// hook: the error is ErrBlockedAddress and the server never sees even a
// TCP connection. The same server is reachable once the test hook lets
// loopback through, so the refusal is the hook's doing.
func TestClientRefusesLoopbackAtDial_W2(t *testing.T) {
	r := newReceiver(t, false, ok)
	_, err := NewClient(Options{AllowHTTP: true}).Get(r.URL)
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("Get(%s) error = %v, want %v", r.URL, err, ErrBlockedAddress)
	}
	a := Deliver(t.Context(), NewClient(Options{AllowHTTP: true}), r.URL, testSecret(t), testEvent())
	if a.OK() || a.Status != 0 || a.Err != "destination address not allowed" {
		t.Errorf("Deliver(%s) = %+v, want refusal", r.URL, a)
	}
	r.untouched(t)

	a = Deliver(t.Context(), NewClient(Options{AllowHTTP: true, AllowAddr: allowLoopback}), r.URL, testSecret(t), testEvent())
	if !a.OK() || r.reqs.Load() != 1 {
		t.Errorf("Deliver(%s) with loopback allowed = %+v after %d requests, want success after 1", r.URL, a, r.reqs.Load())
	}
}

// W2: a host name is resolved first and its addresses checked at dial
// time: "localhost" resolves to loopback and is refused, after the hook
// was consulted with the resolved address.
func TestClientRefusesNameResolvingToLoopback_W2(t *testing.T) {
	r := newReceiver(t, false, ok)
	_, port, _ := net.SplitHostPort(r.Listener.Addr().String())
	u := "http://localhost:" + port + "/hook"
	var mu sync.Mutex
	var asked []netip.Addr
	record := func(a netip.Addr) bool {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, a)
		return false
	}
	_, err := NewClient(Options{AllowHTTP: true, AllowAddr: record}).Get(u)
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("Get(%s) error = %v, want %v", u, err, ErrBlockedAddress)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 {
		t.Fatalf("Get(%s): Control hook never saw a resolved address", u)
	}
	for _, a := range asked {
		if !a.Unmap().IsLoopback() {
			t.Errorf("Get(%s): hook saw %s, want loopback", u, a)
		}
	}
	r.untouched(t)
}

// W2: an IPv6 loopback listener is refused the same way.
func TestClientRefusesIPv6Loopback_W2(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	r := &receiver{}
	r.Server = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.reqs.Add(1)
	}), ConnState: func(net.Conn, http.ConnState) { r.conns.Add(1) }}}
	r.Start()
	t.Cleanup(r.Close)
	if _, err := NewClient(Options{AllowHTTP: true}).Get(r.URL); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("Get(%s) error = %v, want %v", r.URL, err, ErrBlockedAddress)
	}
	r.untouched(t)
}

// W2: only https unless the development flag is set, and no user info,
// refused before anything is dialled.
func TestClientRefusesSchemeAndUserinfo_W2(t *testing.T) {
	r := newReceiver(t, false, ok)
	c := NewClient(Options{AllowAddr: allowLoopback})
	if _, err := c.Get(r.URL); !errors.Is(err, ErrScheme) {
		t.Errorf("Get(%s) without AllowHTTP error = %v, want %v", r.URL, err, ErrScheme)
	}
	withUser := strings.Replace(r.URL, "http://", "http://u:p@", 1)
	if _, err := NewClient(Options{AllowHTTP: true, AllowAddr: allowLoopback}).Get(withUser); !errors.Is(err, ErrScheme) {
		t.Errorf("Get(%s) error = %v, want %v", withUser, err, ErrScheme)
	}
	r.untouched(t)
}

// W2: a 3xx is returned as is and counts as a failed delivery; its target
// is never contacted.
func TestClientDoesNotFollowRedirects_W2(t *testing.T) {
	target := newReceiver(t, false, ok)
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			redirector := newReceiver(t, false, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/next", code)
			})
			c := NewClient(Options{AllowHTTP: true, AllowAddr: allowLoopback})
			a := Deliver(t.Context(), c, redirector.URL, testSecret(t), testEvent())
			if a.OK() || a.Status != code || !strings.Contains(a.Err, "redirect") {
				t.Errorf("Deliver(redirect %d) = %+v, want failed attempt with status %d", code, a, code)
			}
			if redirector.reqs.Load() != 1 {
				t.Errorf("redirector saw %d requests, want 1", redirector.reqs.Load())
			}
		})
	}
	target.untouched(t)
}

// W2: HTTP_PROXY / HTTPS_PROXY are ignored. A control transport that reads
// the environment does reach the recording proxy, so the environment is in
// effect; the webhook client never does. The control reads the variables
// itself because http.ProxyFromEnvironment caches them once per process,
// which would break the test under -count; the Proxy == nil check covers
// ProxyFromEnvironment directly.
func TestClientIgnoresEnvironmentProxy_W2(t *testing.T) {
	proxy := newReceiver(t, false, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	// .invalid never resolves (RFC 6761), so only a proxy could carry these.
	urls := []string{"http://hooks.diffgate.invalid/x", "https://hooks.diffgate.invalid/x"}

	control := &http.Transport{Proxy: func(req *http.Request) (*url.URL, error) {
		return url.Parse(os.Getenv(strings.ToUpper(req.URL.Scheme) + "_PROXY"))
	}}
	for _, u := range urls {
		req, _ := http.NewRequest(http.MethodPost, u, nil)
		if resp, err := control.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	control.CloseIdleConnections()
	seen := proxy.reqs.Load() + proxy.conns.Load()
	if seen == 0 {
		t.Fatal("control transport did not reach the environment proxy; the test would prove nothing")
	}

	c := NewClient(Options{AllowHTTP: true, AllowAddr: allowLoopback})
	if tr := transportOf(c); tr == nil || tr.Proxy != nil {
		t.Errorf("NewClient() transport Proxy is set, want nil")
	}
	for _, u := range urls {
		a := Deliver(t.Context(), c, u, testSecret(t), testEvent())
		if a.OK() || a.Status != 0 {
			t.Errorf("Deliver(%s) = %+v, want a failure without any response", u, a)
		}
	}
	if got := proxy.reqs.Load() + proxy.conns.Load(); got != seen {
		t.Errorf("environment proxy saw %d more connections or requests from the webhook client, want 0", got-seen)
	}
}

func transportOf(c *http.Client) *http.Transport {
	if g, ok := c.Transport.(*guard); ok {
		if tr, ok := g.next.(*http.Transport); ok {
			return tr
		}
	}
	return nil
}

// W2: an endless response body is cut at the cap, and Deliver does not
// drain it forever: the handler ends because the client hangs up.
func TestClientCapsResponseBody_W2(t *testing.T) {
	handlerDone := make(chan struct{}, 2)
	r := newReceiver(t, false, func(w http.ResponseWriter, _ *http.Request) {
		defer func() { handlerDone <- struct{}{} }()
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	const limit = 1000
	c := NewClient(Options{AllowHTTP: true, AllowAddr: allowLoopback, MaxResponseBytes: limit})
	resp, err := c.Get(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(body) != limit {
		t.Errorf("ReadAll(endless body) = %d bytes, %v; want %d bytes", len(body), err, limit)
	}

	a := Deliver(t.Context(), NewClient(Options{AllowHTTP: true, AllowAddr: allowLoopback}), r.URL, testSecret(t), testEvent())
	if !a.OK() {
		t.Errorf("Deliver(endless 200 body) = %+v, want success", a)
	}
	for range 2 {
		select {
		case <-handlerDone:
		case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
			t.Fatal("handler still writing: the client did not hang up")
		}
	}
}

// W2: a receiver that does not answer hits the overall timeout, and one
// that never sends headers hits the response-header timeout.
func TestClientTimeouts_W2(t *testing.T) {
	release := make(chan struct{})
	r := newReceiver(t, false, func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name string
		opts Options
	}{
		{"overall", Options{Timeout: 200 * time.Millisecond}},
		{"response header", Options{Timeout: time.Minute, ResponseHeaderTimeout: 200 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.AllowHTTP, tt.opts.AllowAddr = true, allowLoopback
			a := Deliver(t.Context(), NewClient(tt.opts), r.URL, testSecret(t), testEvent())
			if a.OK() || a.Status != 0 || a.Err != "timeout" {
				t.Errorf("Deliver(slow receiver) = %+v, want timeout", a)
			}
		})
	}
}

func TestClientDefaults(t *testing.T) {
	c := NewClient(Options{})
	tr := transportOf(c)
	if c.Timeout != DefaultTimeout || tr.TLSHandshakeTimeout != DefaultTLSHandshakeTimeout ||
		tr.ResponseHeaderTimeout != DefaultResponseHeaderTimeout || tr.Proxy != nil {
		t.Errorf("NewClient(Options{}) = timeout %v, tls %v, header %v, proxy set %v; want defaults and no proxy",
			c.Timeout, tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout, tr.Proxy != nil)
	}
	if g := c.Transport.(*guard); g.allowHTTP || g.maxBody != DefaultMaxResponseBytes {
		t.Errorf("NewClient(Options{}) guard = %+v, want https only and a %d byte cap", g, DefaultMaxResponseBytes)
	}
	control := controlFunc(nil)
	for _, tt := range []struct{ network, addr string }{
		{"udp4", "8.8.8.8:53"},
		{"tcp4", "not-an-address"},
		{"tcp4", "127.0.0.1:443"},
		{"tcp6", "[::ffff:10.0.0.1]:443"},
	} {
		if err := control(tt.network, tt.addr, nil); !errors.Is(err, ErrBlockedAddress) {
			t.Errorf("Control(%s, %s) = %v, want %v", tt.network, tt.addr, err, ErrBlockedAddress)
		}
	}
	if err := control("tcp4", "8.8.8.8:443", nil); err != nil {
		t.Errorf("Control(tcp4, 8.8.8.8:443) = %v, want nil", err)
	}
}
