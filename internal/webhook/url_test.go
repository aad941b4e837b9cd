package webhook

import (
	"strings"
	"testing"

	"github.com/diffgate/diffgate/internal/apperr"
)

// W2: what registration turns away on sight.
func TestCheckURL_W2(t *testing.T) {
	tests := []struct {
		url       string
		allowHTTP bool
		ok        bool
	}{
		{"https://hooks.example.com/diffgate", false, true},
		{"https://hooks.example.com:8443/x?y=1", false, true},
		{"https://HOOKS.Example.COM./x", false, true},
		{"https://xn--bcher-kva.example/x", false, true},
		{"https://1.1.1.1/hook", false, true},
		{"https://[2606:4700:4700::1111]/hook", false, true},
		{"http://hooks.example.com/x", true, true},
		{"https://my_host.example.com/x", false, true},

		{"http://hooks.example.com/x", false, false},
		{"ftp://hooks.example.com/x", true, false},
		{"file:///etc/passwd", true, false},
		{"gopher://hooks.example.com/", true, false},
		{"hooks.example.com/x", false, false},
		{"//hooks.example.com/x", false, false},
		{"https:hooks.example.com", false, false},
		{"https://", false, false},
		{"https:///path", false, false},
		{"https://user:pass@hooks.example.com/x", false, false},
		{"https://user@hooks.example.com/x", false, false},
		{"https://hooks.example.com:0/x", false, false},
		{"https://hooks.example.com:65536/x", false, false},
		{"https://hooks.example.com:/x", false, false},
		{"https://hooks.example.com:abc/x", false, false},
		{"https://127.0.0.1/x", false, false},
		{"http://127.0.0.1:8080/x", true, false},
		{"https://10.0.0.1/x", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[::1]/x", false, false},
		{"https://[::ffff:127.0.0.1]/x", false, false},
		{"https://[::ffff:a9fe:a9fe]/x", false, false},
		{"https://[fd00:ec2::254]/x", false, false},
		{"https://[fe80::1%25eth0]/x", false, false},
		{"https://[64:ff9b::a00:1]/x", false, false},
		{"https://0.0.0.0/x", false, false},
		{"https://localhost/x", false, false},
		{"https://LOCALHOST:443/x", false, false},
		{"https://api.localhost/x", false, false},
		{"https://127.1/x", false, false},
		{"https://2130706433/x", false, false},
		{"https://0x7f.1/x", false, false},
		{"https://0x7f000001/x", false, false},
		{"https://017700000001/x", false, false},
		{"https://bücher.example/x", false, false},
		{"https://exa mple.com/x", false, false},
		{"https://-bad.example.com/x", false, false},
		{"https://a..b.example/x", false, false},
		{"https://[not-an-ip]/x", false, false},
		{"https://hooks.example.com/" + strings.Repeat("a", MaxURLLength), false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckURL(tt.url, tt.allowHTTP)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckURL(%q, %v) = %v, want ok=%v", tt.url, tt.allowHTTP, err, tt.ok)
			}
			if err != nil && apperr.KindOf(err) != apperr.Invalid {
				t.Errorf("CheckURL(%q) kind = %v, want %v", tt.url, apperr.KindOf(err), apperr.Invalid)
			}
		})
	}
}
