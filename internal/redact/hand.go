package redact

import "strings"

// redactURLPasswords replaces the password of scheme://user:password@host,
// keeping user and host. The password runs to the last @ of the
// authority, so a password with a raw @ in it is still removed whole.
func redactURLPasswords(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	last := 0
	for off := 0; ; {
		k := strings.Index(s[off:], "://")
		if k < 0 {
			break
		}
		auth := off + k + 3
		end := auth
		for end < len(s) && !strings.ContainsRune("/?#\"' \t\r\n<>`", rune(s[end])) {
			end++
		}
		off = end
		at := strings.LastIndexByte(s[auth:end], '@')
		if at < 0 {
			continue
		}
		colon := strings.IndexByte(s[auth:auth+at], ':')
		if colon < 0 || strings.HasPrefix(s[auth+colon+1:], Redacted+"@") {
			continue
		}
		b.WriteString(s[last : auth+colon+1])
		b.WriteString(Redacted)
		last = auth + at
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isEmailLocal(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// redactEmails replaces local@domain.tld with [EMAIL]. The domain needs a
// dot and a top-level label of two or more letters, so "retry @ 5s" and
// user@localhost are left alone.
func redactEmails(s string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		lo := i
		for lo > last && isEmailLocal(s[lo-1]) {
			lo--
		}
		hi := i + 1
		for hi < len(s) && isDomainChar(s[hi]) {
			hi++
		}
		// Trailing dots and hyphens end a sentence, not a domain.
		for hi > i+1 && (s[hi-1] == '.' || s[hi-1] == '-') {
			hi--
		}
		if lo == i || !validTLD(s[i+1:hi]) {
			continue
		}
		b.WriteString(s[last:lo])
		b.WriteString(Email)
		last = hi
		i = hi - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func validTLD(domain string) bool {
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || len(domain)-dot-1 < 2 {
		return false
	}
	for i := dot + 1; i < len(domain); i++ {
		if !isLetter(domain[i]) {
			return false
		}
	}
	return true
}
