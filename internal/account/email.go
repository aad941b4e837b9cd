package account

import (
	"net/mail"
	"strings"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Limits from RFC 5321 §4.5.3.1: the whole path is at most 254 octets once
// the angle brackets are removed, a local part at most 64, a label 63.
const (
	maxEmailBytes  = 254
	maxLocalBytes  = 64
	maxDomainLabel = 63
)

// NormalizeEmail returns the canonical form of an email address, used both as
// the account's identity and as the key for per-account throttling (A4).
//
// The whole address is lowercased. RFC 5321 lets the local part be
// case-sensitive, but no mainstream provider treats it so, and keeping case
// would let "Alice@x.io" and "alice@x.io" become two accounts, two throttling
// counters and a confusing login. Provider-specific rewrites (dots, +tags) are
// not applied: they differ between providers and would merge distinct people.
//
// Only a bare ASCII addr-spec is accepted: no display name, no angle brackets,
// no group or list, no quoted local part, no IP-literal domain, and the domain
// must have at least two labels. Internationalised domains are accepted in
// their punycode (xn--) form; refusing raw Unicode keeps homoglyph look-alikes
// of existing accounts out.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.New(apperr.Invalid, "email is required")
	}
	if len(s) > maxEmailBytes {
		return "", apperr.Newf(apperr.Invalid, "email must be at most %d characters", maxEmailBytes)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return "", apperr.New(apperr.Invalid, "email must be a plain address without spaces or non-ASCII characters")
		}
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		return "", apperr.Wrap(apperr.Invalid, "email is not a valid address", err)
	}
	// ParseAddress also accepts "Name <a@b.c>", "<a@b.c>" and comments; only
	// the bare form round-trips to the input unchanged.
	if addr.Name != "" || addr.Address != s {
		return "", apperr.New(apperr.Invalid, "email must be a bare address like name@example.com")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if len(local) > maxLocalBytes {
		return "", apperr.Newf(apperr.Invalid, "the part of the email before @ must be at most %d characters", maxLocalBytes)
	}
	if strings.ContainsAny(local, `"\`) {
		return "", apperr.New(apperr.Invalid, "email must not use a quoted local part")
	}
	if !validDomain(domain) {
		return "", apperr.New(apperr.Invalid, "email domain is not valid")
	}
	return strings.ToLower(s), nil
}

// validDomain accepts dot-separated LDH labels, at least two of them; a
// single-label domain ("root@localhost") cannot receive mail on the internet
// and is almost always a typo.
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > maxDomainLabel || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// A numeric top-level label means an IP address, not a domain.
	tld := labels[len(labels)-1]
	return strings.Trim(tld, "0123456789") != ""
}
