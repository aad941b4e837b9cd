package account

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/apperr"
)

// A6: forwarding headers count only when the peer is a trusted proxy.
func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.1 2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"no proxy", "203.0.113.5:4711", nil, "203.0.113.5"},
		{"spoofed XFF from untrusted peer", "203.0.113.5:4711", []string{"1.2.3.4"}, "203.0.113.5"},
		{"spoofed XFF naming a trusted proxy", "203.0.113.5:4711", []string{"10.0.0.1"}, "203.0.113.5"},
		{"trusted peer, one hop", "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"trusted peer, no header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"trusted peer, empty header", "10.1.2.3:80", []string{""}, "10.1.2.3"},
		{"client-supplied left entries ignored", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.9"}, "198.51.100.9"},
		{"chain of trusted proxies skipped", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.9, 192.168.1.1, 10.9.9.9"}, "198.51.100.9"},
		{"several header lines", "10.1.2.3:80", []string{"6.6.6.6", "198.51.100.9, 10.0.0.7"}, "198.51.100.9"},
		{"all hops trusted", "10.1.2.3:80", []string{"10.0.0.9, 192.168.1.1"}, "10.0.0.9"},
		{"malformed hop before client", "10.1.2.3:80", []string{"198.51.100.9, garbage"}, "10.1.2.3"},
		{"malformed entry left of client ignored", "10.1.2.3:80", []string{"<script>, 198.51.100.9"}, "198.51.100.9"},
		{"entry with port", "10.1.2.3:80", []string{"198.51.100.9:5555"}, "198.51.100.9"},
		{"IPv6 entry with port", "10.1.2.3:80", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv6 peer", "[2001:db8::5]:443", []string{"1.2.3.4"}, "2001:db8::5"},
		{"trusted IPv6 peer", "[2001:db8:ffff::1]:443", []string{"2001:db8::77"}, "2001:db8::77"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.5]:80", nil, "203.0.113.5"},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:80", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{"zone dropped", "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"peer without port", "203.0.113.5", nil, "203.0.113.5"},
		{"trusted single IP not its neighbour", "192.168.1.2:80", []string{"1.2.3.4"}, "192.168.1.2"},
		{"unparseable peer", "@unix", []string{"1.2.3.4"}, "@unix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, trusted); got != tt.want {
				t.Errorf("ClientIP(remote %s, XFF %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
	// With no trusted proxies the header is never read.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:80"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := ClientIP(r, nil); got != "10.1.2.3" {
		t.Errorf("ClientIP with no trusted proxies = %q, want the peer", got)
	}
	// A very long chain costs bounded work and still ends at a hop.
	r.Header.Set("X-Forwarded-For", strings.Repeat("10.0.0.1, ", 10000)+"10.0.0.2")
	if got := ClientIP(r, trusted); !strings.HasPrefix(got, "10.0.0.") {
		t.Errorf("ClientIP(long trusted chain) = %q", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    string // prefixes joined by space
		wantErr bool
	}{
		{"", "", false},
		{"  ", "", false},
		{"10.0.0.0/8", "10.0.0.0/8", false},
		{"10.0.0.0/8, 192.168.1.1", "10.0.0.0/8 192.168.1.1/32", false},
		{"10.1.2.3/8", "10.0.0.0/8", false},
		{"2001:db8::/32,::1", "2001:db8::/32 ::1/128", false},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", false},
		{"::ffff:192.168.1.1", "192.168.1.1/32", false},
		{"10.0.0.0/33", "", true},
		{"localhost", "", true},
		{"10.0.0.0/8,,bogus", "", true},
		{"1.2.3", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTrustedProxies(tt.in)
			if tt.wantErr {
				wantKind(t, "ParseTrustedProxies("+tt.in+")", err, apperr.Invalid)
				return
			}
			if err != nil {
				t.Fatalf("ParseTrustedProxies(%q) = %v", tt.in, err)
			}
			var parts []string
			for _, p := range got {
				parts = append(parts, p.String())
			}
			if s := strings.Join(parts, " "); s != tt.want {
				t.Errorf("ParseTrustedProxies(%q) = %q, want %q", tt.in, s, tt.want)
			}
		})
	}
}
