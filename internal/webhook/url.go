package webhook

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/diffgate/diffgate/internal/apperr"
)

// MaxURLLength bounds a registered endpoint URL.
const MaxURLLength = 2048

// CheckURL vets an endpoint URL at registration (W2): https (http only with
// allowHTTP, a development flag), a host name or a public IP literal, no
// user info, any port. Host names are resolved and checked at every dial by
// the client from NewClient; this check only turns away what is wrong on
// its face. Errors are apperr.Invalid with a public message.
func CheckURL(raw string, allowHTTP bool) error {
	invalid := func(msg string) error { return apperr.New(apperr.Invalid, "webhook url: "+msg) }
	if len(raw) > MaxURLLength {
		return invalid("longer than " + strconv.Itoa(MaxURLLength) + " characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("not a valid URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return invalid("must use https")
		}
	default:
		return invalid("must use https")
	}
	if u.Opaque != "" || u.Host == "" {
		return invalid("host is required")
	}
	if u.User != nil {
		return invalid("must not contain user info")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return invalid("port must be 1-65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return invalid("port must be 1-65535")
	}
	host := u.Hostname()
	if host == "" {
		return invalid("host is required")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if err := CheckAddr(a); err != nil {
			return apperr.Wrap(apperr.Invalid, "webhook url: address is not public", err)
		}
		return nil
	}
	if strings.HasPrefix(u.Host, "[") {
		return invalid("not a valid IP address")
	}
	return checkHostname(strings.ToLower(host), invalid)
}

// checkHostname accepts ASCII DNS names only (IDNs in punycode). It refuses
// names whose last label is numeric, because some resolvers read "127.1",
// "0x7f.1" or "2130706433" as IPv4 addresses, and the names RFC 6761
// reserves for the host itself.
func checkHostname(host string, invalid func(string) error) error {
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return invalid("host is not a valid name")
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return invalid("host is not a valid name")
		}
		for i := range len(l) {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return invalid("host is not a valid name")
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" ||
		(strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "") {
		return invalid("host is not a valid name")
	}
	if last == "localhost" {
		return invalid("address is not public")
	}
	return nil
}
