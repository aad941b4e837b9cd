package account

import (
	"bufio"
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/diffgate/diffgate/internal/apperr"
)

// Password length limits (A1). The minimum counts characters, as the spec
// states it; the maximum counts bytes because bcrypt ignores everything after
// the 72nd byte, so a longer password would silently be only partly checked.
const (
	MinPasswordChars = 12
	MaxPasswordBytes = 72
)

// commonPasswordsText is the 10,000 most common passwords, one a line, from
// SecLists (github.com/danielmiessler/SecLists,
// Passwords/Common-Credentials/10k-most-common.txt, MIT licence), with line
// endings normalised to LF. Entries shorter than the minimum can never pass
// the length rule; the list is kept whole so it can be compared with its
// source.
//
//go:embed commonpasswords.txt
var commonPasswordsText string

// commonPasswords is built once, lowercased, on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsText))
	for sc.Scan() {
		if w := strings.TrimRight(sc.Text(), "\r"); w != "" {
			set[strings.ToLower(w)] = struct{}{}
		}
	}
	return set
})

// CheckPasswordPolicy enforces A1 on a new password: 12 characters to 72
// bytes, valid UTF-8, and not one of the 10,000 most common passwords
// (compared case-insensitively, also after stripping trailing digits and
// symbols, so "Password123456!" counts as "password"), nor one character
// repeated.
func CheckPasswordPolicy(pw string) error {
	if !utf8.ValidString(pw) {
		return apperr.New(apperr.Invalid, "password must be valid UTF-8 text")
	}
	if utf8.RuneCountInString(pw) < MinPasswordChars {
		return apperr.Newf(apperr.Invalid, "password must be at least %d characters", MinPasswordChars)
	}
	if len(pw) > MaxPasswordBytes {
		return apperr.Newf(apperr.Invalid, "password must be at most %d bytes", MaxPasswordBytes)
	}
	if isCommonPassword(pw) {
		return apperr.New(apperr.Invalid, "password is too common; choose a longer or less predictable one")
	}
	return nil
}

func isCommonPassword(pw string) bool {
	lower := strings.ToLower(pw)
	set := commonPasswords()
	if _, ok := set[lower]; ok {
		return true
	}
	if stem := strings.TrimRightFunc(lower, notLetter); stem != lower && stem != "" {
		if _, ok := set[stem]; ok {
			return true
		}
	}
	first, _ := utf8.DecodeRuneInString(pw)
	return strings.Trim(pw, string(first)) == ""
}

func notLetter(r rune) bool { return !(r >= 'a' && r <= 'z') }
