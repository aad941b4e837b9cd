package account

import (
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/apperr"
)

// A1: emails are normalised before they name an account.
func TestNormalizeEmail(t *testing.T) {
	// 64 + 1 + 63 + 1 + 63 + 1 + n + 3 bytes.
	long := func(n int) string {
		return strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", n) + ".io"
	}
	tests := []struct {
		in   string
		want string // "" means an Invalid error
	}{
		{"alice@example.com", "alice@example.com"},
		{"  Alice@Example.COM \n", "alice@example.com"},
		{"a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"},
		{"o'brien@example.ie", "o'brien@example.ie"},
		{"user@xn--bcher-kva.example", "user@xn--bcher-kva.example"},
		{long(58), long(58)}, // 254 bytes
		{long(59), ""},       // 255 bytes
		{"", ""},
		{"   ", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.com", ""},
		{"alice@localhost", ""},
		{"alice@example", ""},
		{"alice@example..com", ""},
		{"alice@.example.com", ""},
		{"alice@example.com.", ""},
		{"alice@-example.com", ""},
		{"alice@exa_mple.com", ""},
		{"alice@1.2.3.4", ""},
		{"alice@[127.0.0.1]", ""},
		{"Alice <alice@example.com>", ""},
		{"<alice@example.com>", ""},
		{"alice@example.com (work)", ""},
		{"alice@example.com, bob@example.com", ""},
		{"alice@example.com,bob@example.com", ""},
		{`"alice smith"@example.com`, ""},
		{`"a@b"@example.com`, ""},
		{"al ice@example.com", ""},
		{"alice@exämple.com", ""},
		{"аlice@example.com", ""}, // Cyrillic а
		{"alice@example.com\x00", ""},
		{"alice\r\n@example.com", ""},
		{strings.Repeat("a", 65) + "@example.com", ""},
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
		{"a@" + strings.Repeat("b", 64) + ".com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeEmail(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("NormalizeEmail(%q) = %q, want error", tt.in, got)
				}
				if k := apperr.KindOf(err); k != apperr.Invalid {
					t.Fatalf("NormalizeEmail(%q) error kind = %v, want invalid", tt.in, k)
				}
				if msg := apperr.PublicMessage(err); msg == "internal error" || strings.Contains(msg, "mail:") {
					t.Errorf("NormalizeEmail(%q) public message %q is not a clear message", tt.in, msg)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			// Normalising is idempotent.
			if again, err := NormalizeEmail(got); err != nil || again != got {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want it unchanged", got, again, err)
			}
		})
	}
}
