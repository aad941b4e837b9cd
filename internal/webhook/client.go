package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Defaults for NewClient; short, because a receiver that cannot answer in
// seconds is retried later rather than holding a dispatcher worker.
const (
	DefaultTimeout               = 15 * time.Second
	DefaultDialTimeout           = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 5 * time.Second
	DefaultResponseHeaderTimeout = 10 * time.Second
	// DefaultMaxResponseBytes caps how much of a receiver's answer is read;
	// nothing in it matters beyond the status.
	DefaultMaxResponseBytes = 64 << 10
	maxResponseHeaderBytes  = 16 << 10
)

// ErrRedirect is reported for a 3xx answer: redirects are never followed,
// so one cannot lead a delivery to an address CheckURL would refuse.
var ErrRedirect = errors.New("webhook: redirect not followed")

// ErrScheme means a request used a scheme the client does not allow.
var ErrScheme = errors.New("webhook: scheme not allowed")

// Options configure NewClient. The zero value is the production setting.
type Options struct {
	// AllowHTTP permits plain http URLs; a development flag only.
	AllowHTTP bool
	// Timeout bounds a whole request, body included (DefaultTimeout when 0).
	Timeout time.Duration
	// DialTimeout, TLSHandshakeTimeout and ResponseHeaderTimeout default to
	// the Default* constants when 0.
	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	// MaxResponseBytes caps how much of a response body can be read
	// (DefaultMaxResponseBytes when 0).
	MaxResponseBytes int64
	// RootCAs replaces the system roots; for tests against httptest TLS servers.
	RootCAs *x509.CertPool
	// AllowAddr, when set, lets through addresses it returns true for even
	// though CheckAddr refuses them. Tests use it to reach 127.0.0.1;
	// production code must leave it nil.
	AllowAddr func(netip.Addr) bool
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, DefaultTimeout)
	def(&o.DialTimeout, DefaultDialTimeout)
	def(&o.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	def(&o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return o
}

// NewClient returns an HTTP client for webhook deliveries that cannot be
// turned against the network it runs in (W2):
//   - every address a connection is about to be made to, after DNS
//     resolution, passes CheckAddr in the dialer's Control hook, so DNS
//     rebinding and names pointing at private addresses gain nothing;
//   - no proxy, whatever HTTP(S)_PROXY says, since a proxy would dial
//     on our behalf without the check;
//   - redirects are returned, not followed;
//   - short timeouts and a cap on how much of a response body is read.
func NewClient(opts Options) *http.Client {
	o := opts.withDefaults()
	dialer := &net.Dialer{
		Timeout:   o.DialTimeout,
		KeepAlive: 30 * time.Second,
		Control:   controlFunc(o.AllowAddr),
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs},
		TLSHandshakeTimeout:    o.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  o.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: &guard{next: tr, allowHTTP: o.AllowHTTP, maxBody: o.MaxResponseBytes},
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// controlFunc runs after the socket exists and before connect(2), on the
// resolved address of each attempt (both families under Happy Eyeballs).
func controlFunc(allow func(netip.Addr) bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if network != "tcp4" && network != "tcp6" {
			return fmt.Errorf("%w: network %s", ErrBlockedAddress, network)
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBlockedAddress, err)
		}
		if allow != nil && allow(ap.Addr()) {
			return nil
		}
		return CheckAddr(ap.Addr())
	}
}

// guard refuses schemes and user info before anything is dialled and caps
// every response body, so callers other than Deliver are covered too.
type guard struct {
	next      http.RoundTripper
	allowHTTP bool
	maxBody   int64
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case req.URL.Scheme == "https":
	case req.URL.Scheme == "http" && g.allowHTTP:
	default:
		closeBody(req)
		return nil, fmt.Errorf("%w: %q", ErrScheme, req.URL.Scheme)
	}
	if req.URL.User != nil {
		closeBody(req)
		return nil, fmt.Errorf("%w: user info in URL", ErrScheme)
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{r: io.LimitReader(resp.Body, g.maxBody), c: resp.Body}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport, for a dispatcher shutting down.
func (g *guard) CloseIdleConnections() {
	if c, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// cappedBody ends a response body at the cap. Closing it without reading
// to the end makes the transport drop the connection rather than drain an
// endless body.
type cappedBody struct {
	r io.Reader
	c io.Closer
}

func (b *cappedBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *cappedBody) Close() error               { return b.c.Close() }
