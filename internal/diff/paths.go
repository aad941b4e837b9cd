package diff

import "strings"

// hasGitPrefix reports whether s starts with a one-letter directory, the
// shape of git's "a/", "b/" or mnemonic "i/", "w/", "c/", "o/" prefixes.
func hasGitPrefix(s string) bool {
	return len(s) > 2 && s[1] == '/' && s != devNull
}

// afterFirstDir returns s without its first path component, or "" when s
// has none.
func afterFirstDir(s string) string {
	if i := strings.IndexByte(s, '/'); i > 0 {
		return s[i+1:]
	}
	return ""
}

// stripPlain removes the top directories of a diff -u / diff -ruN pair when
// they are only the names of the two compared trees (old/x vs new/x, or git's
// a/x vs b/x), the way patch -p1 would.
func stripPlain(a, b string) (string, string) {
	switch {
	case a == devNull:
		return a, stripAB(b, 'b')
	case b == devNull:
		return stripAB(a, 'a'), b
	}
	ra, rb := afterFirstDir(a), afterFirstDir(b)
	if ra != "" && ra == rb && a[:len(a)-len(ra)] != b[:len(b)-len(rb)] {
		return ra, rb
	}
	if strings.HasPrefix(a, "a/") && strings.HasPrefix(b, "b/") {
		return a[2:], b[2:]
	}
	return a, b
}

func stripAB(s string, letter byte) string {
	if len(s) > 2 && s[0] == letter && s[1] == '/' {
		return s[2:]
	}
	return s
}

// headerName splits the text after "--- " or "+++ " into the path and what
// follows a tab (a timestamp for diff -u; nothing for git, which adds a
// lone tab after a path with spaces).
func headerName(s string) (name, rest string) {
	if strings.HasPrefix(s, `"`) {
		if v, r, ok := unquote(s); ok {
			return v, strings.TrimPrefix(r, "\t")
		}
	}
	if i := strings.IndexByte(s, '\t'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// splitGitHeader splits the two paths of "diff --git A B". Unquoted paths
// may contain spaces; then the split is where both halves name the same
// path, which holds for every header without a rename (renames carry exact
// "rename from/to" lines).
func splitGitHeader(rest string) (string, string) {
	return splitPair(rest, " ")
}

// splitBinary splits "Binary files A and B differ".
func splitBinary(t string) (string, string) {
	body := t[len("Binary files ") : len(t)-len(" differ")]
	return splitPair(body, " and ")
}

func splitPair(s, sep string) (string, string) {
	if strings.HasPrefix(s, `"`) {
		if a, r, ok := unquote(s); ok && strings.HasPrefix(r, sep) {
			return a, unquoteMaybe(r[len(sep):])
		}
	}
	if strings.HasSuffix(s, `"`) {
		if i := strings.LastIndex(s, sep+`"`); i >= 0 {
			if b, r, ok := unquote(s[i+len(sep):]); ok && r == "" {
				return s[:i], b
			}
		}
	}
	first := -1
	for off := 0; ; {
		i := strings.Index(s[off:], sep)
		if i < 0 {
			break
		}
		i += off
		if first < 0 {
			first = i
		}
		a, b := s[:i], s[i+len(sep):]
		if ra := afterFirstDir(a); ra != "" && ra == afterFirstDir(b) {
			return a, b
		}
		off = i + 1
	}
	if i := strings.Index(s, sep+"b/"); i >= 0 {
		return s[:i], s[i+len(sep):]
	}
	if first >= 0 {
		return s[:first], s[first+len(sep):]
	}
	return s, ""
}

func unquoteMaybe(s string) string {
	if strings.HasPrefix(s, `"`) {
		if v, r, ok := unquote(s); ok && r == "" {
			return v
		}
	}
	return s
}

// unquote decodes a C-quoted path as git writes it ("a/t\303\251st") and
// returns what follows the closing quote.
func unquote(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			i++
			if i >= len(s) {
				return "", s, false
			}
			switch e := s[i]; e {
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'v':
				b.WriteByte('\v')
			case '\\', '"':
				b.WriteByte(e)
			case '0', '1', '2', '3':
				if i+2 >= len(s) || !isOctal(s[i+1]) || !isOctal(s[i+2]) {
					return "", s, false
				}
				b.WriteByte((e-'0')<<6 | (s[i+1]-'0')<<3 | (s[i+2] - '0'))
				i += 2
			default:
				return "", s, false
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", s, false
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
