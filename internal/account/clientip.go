package account

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/diffgate/diffgate/internal/apperr"
)

// maxForwardedHops bounds the work one X-Forwarded-For header can cause.
const maxForwardedHops = 32

// ClientIP returns the address rate limits and logs attribute r to (A6).
// It is the TCP peer unless the peer is inside a trusted prefix; only then is
// X-Forwarded-For read, from the right (each proxy appends the address it
// saw), skipping trusted proxies and returning the first address that is not
// one. Entries left of that are written by the client and ignored. A header
// with a malformed entry in the part that would be read is ignored whole, and
// the peer is returned. IPv4-mapped IPv6 addresses are returned as IPv4.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		// Not an IP (a unix socket, a test); use it verbatim as the key.
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	if len(hops) > maxForwardedHops {
		hops = hops[len(hops)-maxForwardedHops:]
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHostAddr(strings.TrimSpace(hops[i]))
		if !ok {
			return peer.String()
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client.String()
}

// forwardedHops splits every X-Forwarded-For line, in order, into entries.
func forwardedHops(lines []string) []string {
	var hops []string
	for _, l := range lines {
		hops = append(hops, strings.Split(l, ",")...)
	}
	return hops
}

// parseHostAddr accepts "ip", "ip:port" and "[ipv6]:port", drops any zone and
// unmaps IPv4-in-IPv6.
func parseHostAddr(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(s)
		if splitErr != nil {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads a --trusted-proxies value: addresses and CIDR
// prefixes separated by commas or spaces. An empty value trusts no one.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	out := make([]netip.Prefix, 0, len(fields))
	for _, f := range fields {
		p, err := parseProxy(f)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid,
				"trusted proxies: "+truncate(f, 64)+" is not an IP address or CIDR prefix", err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseProxy(f string) (netip.Prefix, error) {
	if !strings.Contains(f, "/") {
		a, err := netip.ParseAddr(f)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap().WithZone("")
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(f)
	if err != nil {
		return netip.Prefix{}, err
	}
	// Peers are compared unmapped, so a ::ffff:a.b.c.d/n prefix becomes the
	// IPv4 prefix it means.
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
