package billing

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParsePacks(t *testing.T) {
	tests := []struct {
		in   string
		want []Pack
	}{
		{"", nil},
		{"  ", nil},
		{"small=price_123:1000", []Pack{{ID: "small", PriceID: "price_123", Credits: 1000}}},
		{
			"small=price_123:1000,large=price_456:12000",
			[]Pack{{ID: "small", PriceID: "price_123", Credits: 1000}, {ID: "large", PriceID: "price_456", Credits: 12000}},
		},
		{" team-10 = price_1AbC : 10 ", []Pack{{ID: "team-10", PriceID: "price_1AbC", Credits: 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePacks(tt.in)
			if err != nil {
				t.Fatalf("ParsePacks(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePacks(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePacksErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"small", `entry 1 ("small"): want id=price_id:credits`},
		{"small=price_123", `want id=price_id:credits`},
		{"small=price_123:1000,", "entry 2 is empty"},
		{"small=price_123:lots", `credits "lots" are not a whole number`},
		{"small=price_123:1.5", `credits "1.5" are not a whole number`},
		{"small=price_123:0", `pack "small": credits must be positive`},
		{"small=price_123:-5", `pack "small": credits must be positive`},
		{"small=prod_123:10", `price id "prod_123" is not a Stripe price id`},
		{"small=:10", `price id "" is not a Stripe price id`},
		{"=price_1:10", `pack id "" must be`},
		{"Small=price_1:10", `pack id "Small" must be`},
		{"small=price_1:10,small=price_2:20", `pack "small" is given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePacks(tt.in)
			if err == nil {
				t.Fatalf("ParsePacks(%q) = %+v, want an error with %q", tt.in, got, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "packs: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePacks(%q) error = %q, want it to start with \"packs: \" and hold %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	ok := Config{
		SecretKey:     "sk_test_123",
		WebhookSecret: "whsec_1",
		Packs:         []Pack{{ID: "small", PriceID: "price_1", Credits: 10}},
		SuccessURL:    "https://diffgate.example/done",
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // in the error; "" means New succeeds
	}{
		{"valid", func(*Config) {}, ""},
		{"restricted key", func(c *Config) { c.SecretKey = "rk_live_1" }, ""},
		{"publishable key", func(c *Config) { c.SecretKey = "pk_live_secretish" }, "must start with sk_ or rk_"},
		{"no webhook secret", func(c *Config) { c.WebhookSecret = " " }, "webhook signing secret"},
		{"no packs", func(c *Config) { c.Packs = nil }, "no credit packs"},
		{"bad pack", func(c *Config) { c.Packs[0].Credits = 0 }, "credits must be positive"},
		{"no success URL", func(c *Config) { c.SuccessURL = "" }, "success URL is required"},
		{"relative success URL", func(c *Config) { c.SuccessURL = "/done" }, "success URL must be an absolute"},
		{"bad cancel URL", func(c *Config) { c.CancelURL = "javascript:alert(1)" }, "cancel URL must be an absolute"},
		{"bad API base", func(c *Config) { c.APIBase = "localhost:12111" }, "API base must be an absolute"},
		{"negative tolerance", func(c *Config) { c.Tolerance = -time.Second }, "tolerance cannot be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			cfg.Packs = append([]Pack(nil), ok.Packs...)
			tt.edit(&cfg)
			b, err := New(cfg)
			if tt.want == "" {
				if err != nil || b == nil {
					t.Fatalf("New(%s) = %v, %v, want a Billing", tt.name, b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%s) error = %v, want one with %q", tt.name, err, tt.want)
			}
			if strings.Contains(err.Error(), cfg.SecretKey) {
				t.Errorf("New(%s) error %q echoes the secret key", tt.name, err)
			}
		})
	}
}

// Packs are copied in and out: neither caller can change the other's.
func TestPacksCopied(t *testing.T) {
	packs := []Pack{{ID: "small", PriceID: "price_1", Credits: 10}}
	b, err := New(Config{SecretKey: "sk_test_1", WebhookSecret: "whsec_1", Packs: packs, SuccessURL: "https://x.example/"})
	if err != nil {
		t.Fatal(err)
	}
	packs[0].Credits = 1_000_000
	got, _ := b.Packs()
	got[0].Credits = 5
	again, _ := b.Packs()
	if again[0].Credits != 10 {
		t.Errorf("Packs()[0].Credits = %d after outside edits, want 10", again[0].Credits)
	}
}
