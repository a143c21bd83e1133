package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestUnlockClearsAUsersOrAnAddresssCountersAndIsAudited(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
		c.ok(t, goodPassword+"\n", "user", "add", "bob", "--password-stdin", "--must-change=false")
		st := c.openStore(t)
		ctx := context.Background()
		// Counters as the server keeps them (see idp/throttle.go).
		for _, k := range []string{"login:user:alice", "login:client:alice|203.0.113.9", "mfa:client:alice|device:abc",
			"login:client:bob|203.0.113.9", "login:client:bob|2001:db8:1:2::/64", "addr:203.0.113.9",
			"addr:2001:db8:1:2::/64", "addr:198.51.100.1"} {
			if _, err := st.HitThrottle(ctx, k, time.Hour, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		left := func() []string {
			t.Helper()
			ts, err := st.ListThrottles(ctx, "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, th := range ts {
				keys = append(keys, th.Key)
			}
			return keys
		}

		if out := c.ok(t, "", "user", "unlock", "ALICE"); !containsLine(out, "unlocked user alice (3 counters cleared)") {
			t.Fatalf("printed %q", out)
		}
		if got := left(); slices.ContainsFunc(got, func(k string) bool { return strings.Contains(k, "alice") }) || len(got) != 5 {
			t.Fatalf("after user unlock: %v", got)
		}
		if out := c.ok(t, "", "unlock", "--address", "2001:db8:1:2::99"); !containsLine(out, "unlocked 2001:db8:1:2::99/128 (2 counters cleared)") {
			t.Fatalf("printed %q", out)
		}
		if out := c.ok(t, "", "unlock", "--address", "203.0.113.0/24"); !containsLine(out, "unlocked 203.0.113.0/24 (2 counters cleared)") {
			t.Fatalf("printed %q", out)
		}
		if got := left(); !slices.Equal(got, []string{"addr:198.51.100.1"}) {
			t.Fatalf("after address unlocks: %v", got)
		}

		before := len(c.audit(t))
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"user", "unlock", "ghost"}, 5},
			{[]string{"unlock", "--address", "example.com"}, 2},
			{[]string{"unlock", "--address", "192.0.2.0/33"}, 2},
			{[]string{"unlock"}, 2},
			{[]string{"unlock", "192.0.2.1"}, 2},
		} {
			r := c.run("", tc.args...)
			if r.code != tc.code || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("rolegate %s: exit %d, stderr %q, stdout %q; want exit %d and one line", strings.Join(tc.args, " "), r.code, r.stderr, r.stdout, tc.code)
			}
		}
		events := c.audit(t)
		if len(events) != before {
			t.Fatalf("refused unlocks wrote %d audit events", len(events)-before)
		}
		var got []string
		for _, e := range events {
			if strings.HasSuffix(e.Type, ".unlock") {
				got = append(got, e.Type+" "+e.User+" "+e.Details["address"]+" "+e.Details["counters"])
			}
		}
		want := []string{"user.unlock alice  3", "address.unlock  2001:db8:1:2::99/128 2", "address.unlock  203.0.113.0/24 2"}
		if !slices.Equal(got, want) {
			t.Fatalf("audit %q; want %q", got, want)
		}
	})
}
