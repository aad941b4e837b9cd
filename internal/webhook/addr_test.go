package webhook

import (
	"errors"
	"net/netip"
	"testing"
)

// W2: every listed range refuses its first and last address, in IPv4 and in
// IPv4-mapped IPv6 form.
func TestCheckAddrEveryRange_W2(t *testing.T) {
	for _, r := range blockedRanges {
		p := r.prefix.Masked()
		first, last := p.Addr(), lastAddr(p)
		for _, a := range []netip.Addr{first, last} {
			forms := []netip.Addr{a}
			if a.Is4() {
				forms = append(forms, netip.AddrFrom16(a.As16()))
			}
			for _, f := range forms {
				t.Run(f.String(), func(t *testing.T) {
					if err := CheckAddr(f); !errors.Is(err, ErrBlockedAddress) {
						t.Errorf("CheckAddr(%s) = %v, want %v (%s)", f, err, ErrBlockedAddress, r.why)
					}
				})
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// W2: named addresses, including tricky IPv6 spellings, and the public
// neighbours of blocked ranges, which must stay reachable.
func TestCheckAddr_W2(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		// Metadata services.
		{"169.254.169.254", true},
		{"fd00:ec2::254", true},
		{"::ffff:169.254.169.254", true},
		{"100.100.100.200", true}, // Alibaba Cloud, in CGNAT
		{"192.0.0.192", true},     // Oracle Cloud
		// Loopback, private, link-local in every spelling.
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"::127.0.0.1", true}, // IPv4-compatible
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"::ffff:192.168.1.1", true},
		{"fc00::1", true},
		{"fdff:ffff::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"febf::1", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"0.0.0.0", true},
		{"::", true},
		{"255.255.255.255", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"ff02::1", true},
		{"ff05::1:3", true},
		// Translation and tunnelling forms that embed an IPv4 address.
		{"64:ff9b::7f00:1", true},
		{"64:ff9b::808:808", true},
		{"64:ff9b:1::a00:1", true},
		{"2002:7f00:1::1", true},
		{"2001::1", true}, // Teredo
		// Documentation, benchmarking, reserved.
		{"192.0.2.1", true},
		{"198.51.100.7", true},
		{"203.0.113.9", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"240.0.0.1", true},
		{"2001:db8::1", true},
		{"3fff::1", true},
		{"100::1", true},
		{"fec0::1", true},
		{"4000::1", true}, // outside 2000::/3
		// Public addresses and the edges around blocked ranges.
		{"1.1.1.1", false},
		{"8.8.8.8", false},
		{"::ffff:8.8.8.8", false},
		{"9.255.255.255", false},
		{"11.0.0.0", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"126.255.255.255", false},
		{"128.0.0.0", false},
		{"169.253.255.255", false},
		{"169.255.0.0", false},
		{"172.15.255.255", false},
		{"172.32.0.0", false},
		{"192.0.1.255", false},
		{"192.167.255.255", false},
		{"192.169.0.0", false},
		{"198.17.255.255", false},
		{"198.20.0.0", false},
		{"223.255.255.254", false},
		{"2606:4700:4700::1111", false},
		{"2001:4860:4860::8888", false},
		{"2a00:1450:4001::200e", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			err := CheckAddr(a)
			if got := errors.Is(err, ErrBlockedAddress); got != tt.blocked {
				t.Errorf("CheckAddr(%s) = %v, want blocked=%v", tt.addr, err, tt.blocked)
			}
		})
	}
	if err := CheckAddr(netip.Addr{}); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("CheckAddr(zero) = %v, want %v", err, ErrBlockedAddress)
	}
}
