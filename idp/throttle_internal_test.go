package idp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestAddressGroupsAreIPv4AddressesAndIPv6Slash64s(t *testing.T) {
	for _, tc := range []struct{ name, ip, want string }{
		{"an IPv4 address is its own group", "192.0.2.7", "192.0.2.7"},
		{"an IPv4-mapped IPv6 address is the IPv4 address", "::ffff:192.0.2.7", "192.0.2.7"},
		{"an IPv6 address is its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"another address of that /64 is the same group", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"the next /64 is another group", "2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"a zone does not make a new group", "fe80::1%eth0", "fe80::/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := addrGroup(tc.ip); got != tc.want {
				t.Fatalf("addrGroup(%q) = %q, want %q", tc.ip, got, tc.want)
			}
		})
	}
}

func TestParseAddressTakesAnIPOrACIDRAndNothingElse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{" 192.0.2.0/24 ", "192.0.2.0/24"},
		{"192.0.2.9/24", "192.0.2.0/24"},
		{"2001:db8::7", "2001:db8::7/128"},
		{"2001:db8::/48", "2001:db8::/48"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
	} {
		if p, err := ParseAddress(tc.in); err != nil || p.String() != tc.want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
		}
	}
	for _, bad := range []string{"", "example.com", "192.0.2.256", "192.0.2.0/33", "fe80::1%eth0", "1.2.3.4, 5.6.7.8"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
	}
	p, _ := ParseAddress("2001:db8::5")
	if g := netip.MustParsePrefix(addrGroup("2001:db8::ffff")); !g.Overlaps(p) {
		t.Error("an address does not reach its /64's counters")
	}
}

func TestTheTokenBucketRefillsAndForgetsIdleClients(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(2, time.Second)
	for i := range 2 {
		if wait, _ := l.take("a", now); wait != 0 {
			t.Fatalf("take %d within the burst waits %v", i+1, wait)
		}
	}
	wait, audit := l.take("a", now)
	if wait != time.Second || !audit {
		t.Fatalf("over the burst: wait %v, audit %v", wait, audit)
	}
	if _, audit := l.take("a", now); audit {
		t.Fatal("audited twice in one window")
	}
	if wait, _ := l.take("b", now); wait != 0 {
		t.Fatal("another client waits")
	}
	if wait, _ := l.take("a", now.Add(time.Second)); wait != 0 {
		t.Fatal("no refill after a second")
	}
	l.sweep(now.Add(rateAuditEvery))
	if len(l.buckets) != 0 {
		t.Fatalf("%d idle buckets kept", len(l.buckets))
	}
}

// An attacker with many IPv6 /64s (a /48 holds 65,536) fills the limiter with busy buckets: it
// grows no further, sweeps at most once a second, and the clients beyond it share one bucket.
func TestAFullRateLimiterGrowsNoFurther(t *testing.T) {
	l := newRateLimiter(2, time.Second)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for i := range maxBuckets {
		l.take(fmt.Sprintf("2001:db8:%x::/64", i), now) // each bucket spent a token: none is idle
	}
	refused := 0
	for i := range 1000 {
		if wait, _ := l.take(fmt.Sprintf("2001:db9:%x::/64", i), now); wait > 0 {
			refused++
		}
	}
	if len(l.buckets) != maxBuckets || refused != 998 {
		t.Fatalf("%d buckets, %d of 1000 new clients refused; want %d and 998 (one shared burst of 2)", len(l.buckets), refused, maxBuckets)
	}
	// Once the old clients are idle again, a sweep (at most once a second) makes room.
	later := now.Add(rateAuditEvery)
	if wait, _ := l.take("2001:dba::/64", later); wait != 0 || len(l.buckets) != 1 {
		t.Fatalf("after the clients went idle: wait %v, %d buckets", wait, len(l.buckets))
	}
}
