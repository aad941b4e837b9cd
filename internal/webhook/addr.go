package webhook

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrBlockedAddress means a destination address is not on the public
// internet, so a webhook may not reach it (W2).
var ErrBlockedAddress = errors.New("webhook: destination address not allowed")

type blockedRange struct {
	prefix netip.Prefix
	why    string
}

// blockedRanges are the special-purpose ranges of the IANA IPv4 and IPv6
// registries a webhook has no business reaching: the host itself, private
// networks, cloud metadata services, and ranges that embed or translate to
// IPv4 addresses and so could smuggle a private one past the IPv4 checks.
// IPv4-mapped IPv6 addresses are unmapped and judged as IPv4 before this
// table is consulted.
var blockedRanges = []blockedRange{
	// IPv4 (RFC 6890 and successors).
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (incl. metadata 169.254.169.254)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (incl. broadcast)"},

	// IPv6 (RFC 6890, RFC 4291 and successors).
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments (incl. Teredo)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing SIDs"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (incl. metadata fd00:ec2::254)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// globalUnicast6 is the only IPv6 space IANA hands out for global unicast;
// anything outside it is reserved, whatever the table above says.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// CheckAddr reports whether a webhook may connect to a, with an error
// wrapping ErrBlockedAddress naming the range when it may not.
func CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrBlockedAddress)
	}
	a = a.WithZone("").Unmap()
	for _, r := range blockedRanges {
		if r.prefix.Contains(a) {
			return fmt.Errorf("%w: %s is %s", ErrBlockedAddress, a, r.why)
		}
	}
	if a.Is6() && !globalUnicast6.Contains(a) {
		return fmt.Errorf("%w: %s is reserved", ErrBlockedAddress, a)
	}
	// Belt and braces for anything the table might miss.
	if a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return fmt.Errorf("%w: %s is not global unicast", ErrBlockedAddress, a)
	}
	return nil
}
