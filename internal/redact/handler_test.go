package redact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

type login struct {
	Email    string
	Password string
	Attempts int
}

type secretValuer struct{ key string }

func (v secretValuer) LogValue() slog.Value { return slog.StringValue("key " + v.key) }

// D3: a log line with every kind of secret, in the message, attributes,
// groups, With attributes, errors and structured values, comes out of the
// JSON handler redacted and still valid JSON.
func TestHandlerJSON(t *testing.T) {
	secrets := map[string]string{
		"live key": dgLive, "test key": dgTest, "refresh token": refresh, "jwt": jwt,
		"openai": openai, "anthropic": anthr, "google": google, "github": github, "aws": aws,
		"stripe": stripe, "password": password, "basic": basicCr, "url password": "pa55word-db",
		"email": "carol@example.org", "email 2": "dave@example.net", "private key": "b3BlbnNzaC1rZXktdjEAAAAA",
	}
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log = log.With("caller_email", "dave@example.net", slog.Group("auth", "authorization", "Basic "+basicCr))
	log = log.WithGroup("req")
	err := fmt.Errorf("call provider: %w", errors.New("401 for key "+anthr+" and "+google))
	log.ErrorContext(context.Background(), "login failed for carol@example.org with Bearer "+jwt,
		"key", dgLive,
		"error", err,
		"dsn", "postgres://app:pa55word-db@db.internal/app",
		slog.Group("provider", "openai", openai, slog.Group("deeper", "gh", github, "aws", aws)),
		"body", `{"password":"`+password+`","refresh_token":"`+refresh+`"}`,
		"form", login{Email: "carol@example.org", Password: password, Attempts: 3},
		"raw", []byte("stripe "+stripe),
		"valuer", secretValuer{dgTest},
		"pem", privKey,
		"count", 3,
	)
	out := buf.String()
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log output holds the %s: %s", name, out)
		}
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("log output is not JSON: %v\n%s", err, out)
	}
	req, _ := line["req"].(map[string]any)
	checks := []struct {
		name string
		got  any
		want string
	}{
		{"msg", line["msg"], "login failed for [EMAIL] with Bearer [REDACTED]"},
		{"with attr", line["caller_email"], "[EMAIL]"},
		{"with group", line["auth"].(map[string]any)["authorization"], "Basic [REDACTED]"},
		{"key", req["key"], "[REDACTED]"},
		{"error", req["error"], "call provider: 401 for key [REDACTED] and [REDACTED]"},
		{"dsn", req["dsn"], "postgres://app:[REDACTED]@db.internal/app"},
		{"nested group", req["provider"].(map[string]any)["deeper"].(map[string]any)["gh"], "[REDACTED]"},
		{"body", req["body"], `{"password":"[REDACTED]","refresh_token":"[REDACTED]"}`},
		{"raw bytes", req["raw"], "stripe [REDACTED]"},
		{"log valuer", req["valuer"], "key [REDACTED]"},
		{"pem", req["pem"], "[REDACTED]"},
		{"number kept", req["count"], "3"},
	}
	for _, c := range checks {
		if got := fmt.Sprint(c.got); got != c.want {
			t.Errorf("%s = %q, want %q", c.name, got, c.want)
		}
	}
	// A struct keeps its JSON shape, with the secret fields redacted.
	form, ok := req["form"].(map[string]any)
	if !ok {
		t.Fatalf("form = %T %v, want a JSON object", req["form"], req["form"])
	}
	if form["Password"] != Redacted || form["Email"] != Email || form["Attempts"] != 3.0 {
		t.Errorf("form = %v, want Password and Email redacted, Attempts 3", form)
	}
}

// D3: the text handler is covered the same way, and wrapping twice does
// not redact twice.
func TestHandlerText(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(NewHandler(slog.NewTextHandler(&buf, nil)))
	slog.New(h).Info("token="+refresh, "e", errors.New("password="+password))
	out := buf.String()
	if strings.Contains(out, refresh) || strings.Contains(out, password) {
		t.Errorf("text log holds a secret: %s", out)
	}
	if !strings.Contains(out, `msg="token=[REDACTED]"`) {
		t.Errorf("text log = %s, want msg=\"token=[REDACTED]\"", out)
	}
}

// Attributes without secrets come out exactly as the bare handler writes
// them.
func TestHandlerKeepsCleanLines(t *testing.T) {
	var bare, wrapped bytes.Buffer
	emit := func(h slog.Handler) {
		slog.New(h).With("svc", "diffgate").WithGroup("g").Info("review done",
			"findings", 3, "reviewers", []string{"builtin"}, "ok", true, slog.Group("x", "y", "z"))
	}
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	emit(slog.NewJSONHandler(&bare, opts))
	emit(NewHandler(slog.NewJSONHandler(&wrapped, opts)))
	if bare.String() != wrapped.String() {
		t.Errorf("wrapped handler wrote %s, want %s", wrapped.String(), bare.String())
	}
}

// Values that do not marshal to JSON are still redacted, through fmt.
func TestHandlerUnmarshalable(t *testing.T) {
	var buf bytes.Buffer
	type weird struct {
		C     chan int
		Token string
	}
	slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).Info("x", "v", weird{Token: dgLive})
	if strings.Contains(buf.String(), dgLive) {
		t.Errorf("log holds the key: %s", buf.String())
	}
}

func BenchmarkHandler(b *testing.B) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil)))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		log.Info("review finished", "request_id", "0f3a9c", "status", 200, "latency_ms", 12, "user", "u-1")
	}
}
