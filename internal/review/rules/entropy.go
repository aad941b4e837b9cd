package rules

import (
	"math"
	"strings"
)

// High-entropy detection (DG-SECRET-HIGH-ENTROPY).
//
// Candidates are tokens of at least minEntropyLen characters from the
// base64/base64url alphabet that open a quoted literal or follow an = or :
// (assignments, YAML, JSON, .env). A token is reported when
//
//   - it is all hex digits, its line names a secret (see below), it mixes
//     digits and letters, is not of a hash
//     length (32, 40, 56, 64, 96, 128: MD5, SHA-1, SHA-224, SHA-256,
//     SHA-384, SHA-512) and its Shannon entropy exceeds hexEntropy
//     (3.0 bits/char; random hex averages about 3.7 at 20 characters);
//   - otherwise, it mixes upper case, lower case and digits, changes
//     character class at least at minClassChanges of its positions (random
//     text changes class at about 60% of positions, camelCase identifiers at
//     about 25%), less than half of it (maxWordiness) lies in runs of three
//     or more lower-case letters (words of identifiers such as
//     AESDecryptOneRoundUint8x16; under 1% of random 20-character tokens),
//     and its entropy exceeds
//   - base64Entropy(len) when the line names a secret (key, token, secret,
//     password, auth, salt, …): 4.0 bits/char, lowered to log2(len)-0.5 for
//     tokens shorter than 23 characters, whose entropy cannot reach 4.0
//     even when random;
//   - 4.5 bits/char (bareEntropy) with at least 32 characters otherwise, the
//     detect-secrets default, which identifiers and prose do not reach.
//
// Comment lines are not checked (prose and commented-out examples are
// noisy); the token rules still read them. UUIDs, SRI/npm integrity strings (sha512-…) and spans another secret rule
// already reported on the line are skipped, and lockfiles and checksum files
// are not checked at all.

const (
	minEntropyLen   = 20
	maxEntropyLen   = 4096
	hexEntropy      = 3.0
	minClassChanges = 0.4
	maxWordiness    = 0.5
	bareEntropy     = 4.5
	bareMinLen      = 32
)

// secretWords name secrets; a line holding one gets the lower threshold.
var secretWords = []string{"key", "token", "secret", "passw", "pwd", "auth", "credential", "salt",
	"signature", "hmac", "private", "bearer", "cookie", "session"}

// secretWordsByFirst indexes secretWords by their folded first byte, so one
// pass over a line finds them all.
var secretWordsByFirst = func() (t [256][]string) {
	for _, w := range secretWords {
		t[lowerTable[w[0]]] = append(t[lowerTable[w[0]]], w)
	}
	return t
}()

// secretWordBounds finds, in one pass, where line names a secret: the
// smallest end of a secret word (len(line)+1 when there is none) and the
// largest start (-1 when there is none). A token at [j,k) has a secret
// word wholly before it when firstEnd <= j and wholly after it when
// lastStart >= k, which answers per token what rescanning the line would.
func secretWordBounds(line string) (firstEnd, lastStart int) {
	firstEnd, lastStart = len(line)+1, -1
	for i := 0; i < len(line); i++ {
		for _, w := range secretWordsByFirst[lowerTable[line[i]]] {
			if len(w) <= len(line)-i && equalFoldASCII(line[i:i+len(w)], w) {
				firstEnd = min(firstEnd, i+len(w))
				lastStart = i
			}
		}
	}
	return firstEnd, lastStart
}

func base64Entropy(n int) float64 {
	return math.Min(4.0, math.Log2(float64(n))-0.5)
}

var tokenChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "+/=_-" {
		t[c] = true
	}
	return t
}()

// tokenEnd holds the bytes that may follow a candidate token.
var tokenEnd = func() (t [256]bool) {
	for _, c := range "\"'` \t,;)]}\\" {
		t[c] = true
	}
	return t
}()

type span struct{ start, end int }

// findHighEntropy returns the first high-entropy token of line that does
// not overlap a span in skip.
func findHighEntropy(line string, skip []span) (int, int, bool) {
	return scanHighEntropy(line, skip, nil)
}

// scanHighEntropy is findHighEntropy that adds the bytes it examines to
// *cost when cost is not nil, so tests can bound its work.
func scanHighEntropy(line string, skip []span, cost *int) (int, int, bool) {
	n := len(line)
	work := n
	defer func() {
		if cost != nil {
			*cost += work
		}
	}()
	// Where the line names a secret is found once, and only when a token
	// needs it: per token it would rescan the line (quadratic on long
	// minified lines).
	boundsKnown, firstEnd, lastStart := false, 0, 0
	for i := 0; i < n; i++ {
		c := line[i]
		if c != '"' && c != '\'' && c != '`' && c != '=' && c != ':' {
			continue
		}
		j := i + 1
		if c == '=' || c == ':' {
			for j < n && (line[j] == ' ' || line[j] == '\t') {
				j++
			}
			if j < n && (line[j] == '"' || line[j] == '\'' || line[j] == '`') {
				j++
			}
		}
		k := j
		for k < n && tokenChar[line[k]] {
			k++
		}
		if k-j >= minEntropyLen && (k == n || tokenEnd[line[k]]) && !overlaps(skip, j, k) {
			// h1: prefixes a Go module hash (go.sum lines quoted in code).
			hash := j >= 3 && line[j-3:j] == "h1:"
			// The secret must be named outside the token: an identifier
			// such as AESRoundKeyGen names nothing.
			if !hash {
				work += k - j
				bare, named := entropyVerdict(line[j:k])
				if !bare && named && !boundsKnown {
					work += n
					firstEnd, lastStart = secretWordBounds(line)
					boundsKnown = true
				}
				if bare || named && (firstEnd <= j || lastStart >= k) {
					return j, k, true
				}
			}
		}
		if k > i+1 {
			i = k - 1
		}
	}
	return 0, 0, false
}

func overlaps(spans []span, s, e int) bool {
	for _, sp := range spans {
		if s < sp.end && sp.start < e {
			return true
		}
	}
	return false
}

// highEntropy reports whether tok looks random; named says whether its line
// names a secret.
func highEntropy(tok string, named bool) bool {
	bare, withName := entropyVerdict(tok)
	return bare || named && withName
}

// entropyVerdict reports whether tok looks random on a line that does not
// name a secret (bare) and on one that does (named). It reads only tok:
// whatever the line holds is the caller's, and asked only when the answer
// depends on it. bare implies named, as naming only lowers the bar.
func entropyVerdict(tok string) (bare, named bool) {
	tok = strings.TrimRight(tok, "=")
	// Longer tokens are embedded binaries (fonts, wasm), not credentials.
	if len(tok) < minEntropyLen || len(tok) > maxEntropyLen || isUUID(tok) {
		return false, false
	}
	for _, p := range []string{"sha1-", "sha256-", "sha384-", "sha512-"} {
		if strings.HasPrefix(tok, p) {
			return false, false
		}
	}
	// Standard base64 uses + and /, the URL alphabet - and _; a token
	// mixing the two is a path or a name (HMAC-SHA2-512/224).
	if strings.ContainsAny(tok, "+/") && strings.ContainsAny(tok, "-_") {
		return false, false
	}
	var upper, lower, digit, hexOnly = false, false, false, true
	changes, prev := 0, byte(0)
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		var class byte
		switch {
		case c >= 'A' && c <= 'Z':
			upper, class = true, 1
			hexOnly = hexOnly && c <= 'F'
		case c >= 'a' && c <= 'z':
			lower, class = true, 2
			hexOnly = hexOnly && c <= 'f'
		case c >= '0' && c <= '9':
			digit, class = true, 3
		default:
			hexOnly, class = false, 4
		}
		if i > 0 && class != prev {
			changes++
		}
		prev = class
	}
	if hexOnly {
		switch len(tok) {
		case 32, 40, 56, 64, 96, 128:
			return false, false
		}
		// Unnamed hex is mostly test vectors and digests.
		return false, digit && (upper || lower) && shannon(tok) > hexEntropy
	}
	if !(upper && lower && digit) || float64(changes) < minClassChanges*float64(len(tok)-1) ||
		wordiness(tok) >= maxWordiness {
		return false, false
	}
	h := shannon(tok)
	named = h > base64Entropy(len(tok))
	return named && len(tok) >= bareMinLen && h > bareEntropy, named
}

// wordiness is the share of tok in runs of at least three lower-case letters.
func wordiness(tok string) float64 {
	n, run := 0, 0
	for i := 0; i <= len(tok); i++ {
		if i < len(tok) && tok[i] >= 'a' && tok[i] <= 'z' {
			run++
			continue
		}
		if run >= 3 {
			n += run
		}
		run = 0
	}
	return float64(n) / float64(len(tok))
}

// shannon is the Shannon entropy of s in bits per byte.
func shannon(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
