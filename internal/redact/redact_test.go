package redact

import (
	"encoding/base64"
	"strings"
	"testing"
)

// Secrets are assembled at run time so this file does not itself look
// like a leak to a secret scanner.
func rep(s string, n int) string { return strings.Repeat(s, n) }

var (
	dgLive   = "dg_" + "live_" + "AbCdEf012345_" + rep("Xy9", 12) + "Q1w2"
	dgTest   = "dg_" + "test_" + "ZZZZZZ000000_" + rep("k", 38)
	refresh  = "dgr_" + rep("R4nd0m", 7)
	jwt      = "eyJ" + "hbGciOiJFZERTQSIsImtpZCI6IjEifQ" + ".eyJ" + "zdWIiOiJ1c2VyLTEiLCJleHAiOjE3MDB9" + "." + rep("Sig_-", 10)
	openai   = "sk-" + "proj-" + rep("aB3", 16)
	anthr    = "sk-" + "ant-api03-" + rep("Zz9_", 20)
	google   = "AI" + "za" + "Sy" + rep("A1b2C", 7)
	github   = "gh" + "p_" + rep("a1B2", 9)
	aws      = "AK" + "IA" + "IOSFODNN7EXAMPLE"
	stripe   = "sk" + "_live_" + rep("51Hx", 8)
	basicCr  = base64.StdEncoding.EncodeToString([]byte("alice:s3cr3t-pw"))
	privKey  = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA\n-----END " + "OPENSSH PRIVATE KEY-----"
	password = "hunter2-Correct-Horse"
)

// D3: every kind of secret is replaced, the text around it is kept.
func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text unchanged", "review finished in 120ms with 3 findings", "review finished in 120ms with 3 findings"},
		{"empty", "", ""},
		{"live key", "auth failed for " + dgLive + " (revoked)", "auth failed for [REDACTED] (revoked)"},
		{"test key", "key=" + dgTest, "key=[REDACTED]"},
		{"truncated key", "got dg_live_AbCdEf01", "got [REDACTED]"},
		{"key in env assignment", "DIFFGATE_API_KEY=" + dgLive, "DIFFGATE_API_KEY=[REDACTED]"},
		{"refresh token", "reuse of " + refresh + " detected", "reuse of [REDACTED] detected"},
		{"jwt", "token " + jwt + " expired", "token [REDACTED] expired"},
		{"bearer", "Authorization: Bearer abcdef123456.xyz", "Authorization: Bearer [REDACTED]"},
		{"bearer lower", "header bearer " + rep("z", 20), "header bearer [REDACTED]"},
		{"bearer with our key", "Authorization: Bearer " + dgLive, "Authorization: Bearer [REDACTED]"},
		{"bearer word in prose", "missing bearer token", "missing bearer token"},
		{"basic", "Authorization: Basic " + basicCr, "Authorization: Basic [REDACTED]"},
		{"basic in prose", "basic validation failed", "basic validation failed"},
		{"authorization other scheme", "authorization: Token abc123def", "authorization: Token [REDACTED]"},
		{"password=", "login password=" + password + "&user=bob", "login password=[REDACTED]&user=bob"},
		{"PASSWORD= upper", "PASSWORD=" + password, "PASSWORD=[REDACTED]"},
		{"json password", `{"email_ok":true,"password":"` + password + `","n":1}`, `{"email_ok":true,"password":"[REDACTED]","n":1}`},
		{"json password spaced", `{"password" : "a b c"}`, `{"password" : "[REDACTED]"}`},
		{"json with escaped quote", `{"password":"ab\"cd"}`, `{"password":"[REDACTED]"}`},
		{"escaped json", `body {\"password\":\"` + password + `\"}`, `body {\"password\":\"[REDACTED]\"}`},
		{"single quoted", "secret='abc def'", "secret='[REDACTED]'"},
		{"yaml style", "client_secret: abc123", "client_secret: [REDACTED]"},
		{"token=", "refresh_token=abc123&x=1", "refresh_token=[REDACTED]&x=1"},
		{"api_key", "api_key=abcdef", "api_key=[REDACTED]"},
		{"x-api-key header", "X-Api-Key: abcdef", "X-Api-Key: [REDACTED]"},
		{"token counts are not tokens", "input_tokens=1234 output_tokens=56", "input_tokens=1234 output_tokens=56"},
		{"two pairs", "user=bob password=a1 secret=b2", "user=bob password=[REDACTED] secret=[REDACTED]"},
		{"openai", "provider said: invalid key " + openai, "provider said: invalid key [REDACTED]"},
		{"anthropic", "x " + anthr + " y", "x [REDACTED] y"},
		{"google", "key " + google + ".", "key [REDACTED]."},
		{"github", "push with " + github, "push with [REDACTED]"},
		{"aws", "id " + aws, "id [REDACTED]"},
		{"stripe", "stripe " + stripe, "stripe [REDACTED]"},
		{"sk- inside a word is not a key", "task-0123456789abcdefgh", "task-0123456789abcdefgh"},
		{"url with password", "dial postgres://app:pa55word@db.internal:5432/x failed",
			"dial postgres://app:[REDACTED]@db.internal:5432/x failed"},
		{"url with @ in password", "redis://u:p@ss@cache:6379", "redis://u:[REDACTED]@cache:6379"},
		{"url without password", "GET https://example.com/a?b=c", "GET https://example.com/a?b=c"},
		{"email", "signup for Alice.Smith+dg@Example.co.uk rejected", "signup for [EMAIL] rejected"},
		{"two emails", "a@b.io,c@d.org", "[EMAIL],[EMAIL]"},
		{"at without domain", "retry @ 5s", "retry @ 5s"},
		{"private key", "loaded " + privKey + " ok", "loaded [REDACTED] ok"},
		{"already redacted", "password=[REDACTED] Bearer [REDACTED]", "password=[REDACTED] Bearer [REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// D3: redacting twice changes nothing more.
func TestIdempotent(t *testing.T) {
	in := "user a@b.io Bearer " + jwt + " password=" + password + " " + dgLive + " postgres://u:p@h/db"
	once := String(in)
	if twice := String(once); twice != once {
		t.Errorf("String(String(x)) = %q, want %q", twice, once)
	}
}

func TestNoAllocWithoutSecrets(t *testing.T) {
	s := "review finished: 3 findings, 2 reviewers, status 200, latency 12ms"
	if n := testing.AllocsPerRun(100, func() { String(s) }); n != 0 {
		t.Errorf("String(plain text) allocates %v times, want 0", n)
	}
}

func TestTriggered(t *testing.T) {
	tests := []struct {
		s    string
		want uint64
	}{
		{"nothing here", 0},
		{"-----BEGIN RSA PRIVATE KEY-----", 1 << 0},
		{"x eyJ", 1 << 1},
		{"BeArEr", 1 << 2},
		{"BASIC", 1 << 3},
		{"dgr_ and sk-", 1<<4 | 1<<5},
		{"sk", 0},
	}
	for _, tt := range tests {
		if got := triggered(tt.s); got != tt.want {
			t.Errorf("triggered(%q) = %b, want %b", tt.s, got, tt.want)
		}
	}
}

func BenchmarkString(b *testing.B) {
	cases := map[string]string{
		"plain":   "review finished: 3 findings, 2 reviewers, status 200, latency 12ms, request_id 0f3a9c",
		"secrets": "auth failed for a@b.io with Bearer " + jwt + " and password=" + password,
		"error":   `POST https://api.example.com/v1/messages: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
	}
	for name, s := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				String(s)
			}
		})
	}
}
