package redact

import "strings"

// pairNames end the parameter and field names whose value is a secret
// ("api_token", "X-Api-Key", "DB_PASSWORD"). Only the end of a name counts
// and the separator must follow, so "input_tokens" (a count) and
// "passwordless" are left alone.
var pairNames = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "secretkey", "secret_key", "secret-key",
	"token", "apikey", "api_key", "api-key", "accesskey", "access_key", "access-key",
	"privatekey", "private_key", "private-key", "auth", "authorization", "credential", "credentials",
	"cookie", "sessionid", "session_id", "session-id",
}

// authSchemes may precede a credential after a name; they are kept so the
// reader still sees which scheme was used.
var authSchemes = []string{"bearer", "basic", "token"}

// redactPairs replaces the value of name=value, name: value,
// "name":"value" and escaped \"name\":\"value\" when the name is a
// pairNames one. Quotes around the value are kept so JSON stays JSON. It
// is a hand-written scanner because the equivalent case-insensitive
// regexp is two orders of magnitude slower.
func redactPairs(s string) string {
	if strings.IndexByte(s, '=') < 0 && strings.IndexByte(s, ':') < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '=' && s[i] != ':' {
			continue
		}
		if !secretName(s[last:i]) {
			continue
		}
		start, end, quote := pairValue(s, i+1)
		if end <= start {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:start])
		b.WriteString(quote)
		b.WriteString(Redacted)
		b.WriteString(quote)
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// secretName reports whether before (the text up to a separator) ends in
// a secret's name, allowing a closing quote (escaped or not) and spaces
// between the name and the separator.
func secretName(before string) bool {
	j := len(before)
	for j > 0 && (before[j-1] == ' ' || before[j-1] == '\t') {
		j--
	}
	if j > 0 && (before[j-1] == '"' || before[j-1] == '\'') {
		j--
		if j > 0 && before[j-1] == '\\' {
			j--
		}
	}
	name := before[:j]
	for _, n := range pairNames {
		if len(name) >= len(n) && equalFoldASCII(name[len(name)-len(n):], n) {
			return true
		}
	}
	return false
}

// pairValue finds the value after a separator at i: [start, end) is what
// to replace and quote the quoting to put back around the replacement. A
// quoted value without its closing quote runs to the end of s: a
// truncated line must not leak the start of a secret.
func pairValue(s string, i int) (start, end int, quote string) {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for _, sc := range authSchemes {
		if j := i + len(sc); j < len(s) && equalFoldASCII(s[i:j], sc) && (s[j] == ' ' || s[j] == '\t') {
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			i = j
			break
		}
	}
	switch {
	case i >= len(s):
		return i, i, ""
	case strings.HasPrefix(s[i:], Redacted):
		return i, i, ""
	case strings.HasPrefix(s[i:], `\"`):
		// Escaped JSON inside a string: the value ends at the next \".
		if k := strings.Index(s[i+2:], `\"`); k >= 0 {
			return i, i + 2 + k + 2, `\"`
		}
		return i, len(s), `\"`
	case s[i] == '"':
		for k := i + 1; k < len(s); k++ {
			switch s[k] {
			case '\\':
				k++
			case '"':
				return i, k + 1, `"`
			}
		}
		return i, len(s), `"`
	case s[i] == '\'':
		if k := strings.IndexByte(s[i+1:], '\''); k >= 0 {
			return i, i + 1 + k + 1, "'"
		}
		return i, len(s), "'"
	}
	k := i
	for k < len(s) && !strings.ContainsRune(" \t\r\n\"'&,;{}[]", rune(s[k])) {
		k++
	}
	return i, k, ""
}
