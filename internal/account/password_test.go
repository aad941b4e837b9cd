package account

import (
	"bufio"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/apperr"
)

// A1: 12 characters to 72 bytes, not a common password.
func TestCheckPasswordPolicy(t *testing.T) {
	const ok = "" // no error
	tests := []struct {
		name, pw string
		wantMsg  string // substring of the public message; ok for none
	}{
		{"11 bytes", "x7#kQ2m!vR9", "at least 12"},
		{"12 bytes", "x7#kQ2m!vR9z", ok},
		{"72 bytes", strings.Repeat("k9#Q", 18), ok},
		{"73 bytes", strings.Repeat("k9#Q", 18) + "z", "at most 72"},
		{"11 runes, 22 bytes", strings.Repeat("é", 11), "at least 12"},
		{"12 runes, 24 bytes", strings.Repeat("é", 6) + strings.Repeat("ß", 6), ok},
		{"26 runes, 72 bytes", strings.Repeat("€", 23) + "abc", ok},
		{"27 runes, 73 bytes", strings.Repeat("€", 23) + "abcd", "at most 72"},
		{"18 emoji, 72 bytes", strings.Repeat("🔑🚀", 9), ok},
		{"19 emoji, 76 bytes", strings.Repeat("🔑🚀", 9) + "🔑", "at most 72"},
		{"invalid UTF-8", "abcdefghijk\xff", "UTF-8"},
		{"common, exact", "masturbation", "too common"},
		{"common, other case", "UnBeLiEvAbLe", "too common"},
		{"common plus digits", "password123456", "too common"},
		{"common plus symbols", "Dragon2024!!!!", "too common"},
		{"common long entry", "films+pic+galeries", "too common"},
		{"one repeated char", "aaaaaaaaaaaaaa", "too common"},
		{"one repeated rune", strings.Repeat("ж", 13), "too common"},
		{"passphrase", "correct horse battery staple", ok},
		{"common word inside", "my dragon sleeps at noon", ok},
		{"digits only", "839201746512", ok},
		{"empty", "", "at least 12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPasswordPolicy(tt.pw)
			if tt.wantMsg == ok {
				if err != nil {
					t.Fatalf("CheckPasswordPolicy(%q) = %v, want nil", tt.pw, err)
				}
				return
			}
			wantKind(t, "CheckPasswordPolicy", err, apperr.Invalid)
			if msg := apperr.PublicMessage(err); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("CheckPasswordPolicy(%q) message %q, want it to mention %q", tt.pw, msg, tt.wantMsg)
			}
		})
	}
}

// A1: the bundled list is the 10,000 most common passwords.
func TestCommonPasswordList(t *testing.T) {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsText))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 10000 {
		t.Fatalf("commonpasswords.txt has %d lines, want 10000", len(lines))
	}
	if got := len(commonPasswords()); got < 9900 || got > 10000 {
		t.Errorf("common password set has %d entries, want about 10000", got)
	}
	for _, w := range []string{"password", "123456", "qwerty", "dragon", "trustno1", "eyphed"} {
		if !isCommonPassword(w) {
			t.Errorf("isCommonPassword(%q) = false, want true", w)
		}
	}
	for _, w := range []string{"PASSWORD", "Qwerty", "TrustNo1"} {
		if !isCommonPassword(w) {
			t.Errorf("isCommonPassword(%q) = false, want true (case-insensitive)", w)
		}
	}
	if isCommonPassword("vq8#Lm2!pZ0x") {
		t.Error(`isCommonPassword("vq8#Lm2!pZ0x") = true, want false`)
	}
	// Every list entry of an allowed length is refused by the policy.
	refused := 0
	for _, w := range lines {
		if len(w) < MinPasswordChars {
			continue
		}
		if err := CheckPasswordPolicy(w); err == nil {
			t.Errorf("CheckPasswordPolicy(%q) = nil, want too common", w)
		}
		if err := CheckPasswordPolicy(strings.ToUpper(w)); err == nil {
			t.Errorf("CheckPasswordPolicy(%q) = nil, want too common", strings.ToUpper(w))
		}
		refused++
	}
	if refused == 0 {
		t.Error("no list entry is 12 characters or longer; the list looks truncated")
	}
}
