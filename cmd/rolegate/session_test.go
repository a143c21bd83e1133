package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"rolegate/store"
)

func TestSessionListAndRevokeEndCLISessionsAndNothingElse(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
		c.ok(t, goodPassword+"\n", "user", "add", "bob", "--password-stdin", "--must-change=false")
		st := c.openStore(t)
		ctx := context.Background()
		now := time.Now().UTC()
		mk := func(user, id string) *store.CLISession {
			t.Helper()
			u, err := st.GetUser(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			cs := &store.CLISession{ID: id, TokenHash: []byte(id + "-hash-of-a-token-0123"), UserID: u.ID, AuthMethods: "pwd", AuthnInstant: now,
				Binding: []byte("b"), CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour), HostName: "laptop"}
			if _, err := st.CreateCLISession(ctx, cs, 20); err != nil {
				t.Fatal(err)
			}
			return cs
		}
		a1, a2, b1 := mk("alice", "cs_a1"), mk("alice", "cs_a2"), mk("bob", "cs_b1")
		web := &store.Session{TokenHash: []byte("web-session-token-hash-0123"), UserID: b1.UserID, AuthMethods: "pwd", AuthenticatedAt: now,
			CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(ctx, web); err != nil {
			t.Fatal(err)
		}
		ids := func(args ...string) string {
			t.Helper()
			var list []cliSessionJSON
			c.list(t, &list, append([]string{"session", "list", "--json"}, args...)...)
			var out []string
			for _, s := range list {
				out = append(out, s.User+":"+s.ID)
			}
			return strings.Join(out, " ")
		}
		if got := ids(); got != "bob:cs_b1 alice:cs_a2 alice:cs_a1" && got != "alice:cs_a2 alice:cs_a1 bob:cs_b1" {
			t.Fatalf("list: %s", got)
		}
		if got := ids("--user", "ALICE"); got != "alice:cs_a2 alice:cs_a1" && got != "alice:cs_a1 alice:cs_a2" {
			t.Fatalf("alice's list: %s", got)
		}
		if out := c.ok(t, "", "session", "list"); !strings.Contains(out, "cs_b1") || !strings.Contains(out, "laptop") {
			t.Fatalf("table: %q", out)
		}

		before := len(c.audit(t))
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"session", "revoke", "cs_ghost"}, 5},
			{[]string{"session", "revoke"}, 2},
			{[]string{"session", "revoke", "cs_a1", "cs_a2"}, 2},
			{[]string{"session", "revoke", "cs_a1", "--user", "alice"}, 2},
			{[]string{"session", "revoke", "--user", "ghost"}, 5},
			{[]string{"session", "list", "--user", "ghost"}, 5},
		} {
			r := c.run("", tc.args...)
			if r.code != tc.code || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("rolegate %s: exit %d, stderr %q, stdout %q; want exit %d and one line", strings.Join(tc.args, " "), r.code, r.stderr, r.stdout, tc.code)
			}
		}
		if got := ids(); len(strings.Fields(got)) != 3 || len(c.audit(t)) != before {
			t.Fatalf("refused revokes changed something: %s", got)
		}

		c.ok(t, "", "session", "revoke", "cs_a1")
		if _, err := st.GetCLISession(ctx, a1.TokenHash, now); !store.IsCode(err, store.NotFound) {
			t.Fatalf("revoked session still live: %v", err)
		}
		if _, err := st.GetCLISession(ctx, a2.TokenHash, now); err != nil {
			t.Fatalf("revoking one session ended another: %v", err)
		}
		c.ok(t, "", "session", "revoke", "--user", "bob")
		if _, err := st.GetCLISession(ctx, b1.TokenHash, now); !store.IsCode(err, store.NotFound) {
			t.Fatalf("bob's CLI session survived: %v", err)
		}
		if _, err := st.GetSession(ctx, web.TokenHash, now); !store.IsCode(err, store.NotFound) {
			t.Fatalf("bob's web session survived: %v", err)
		}
		c.ok(t, "", "user", "disable", "alice")
		if got := ids(); got != "" {
			t.Fatalf("after disabling alice: %s", got)
		}
		var got []string
		for _, e := range c.audit(t) {
			if e.Type != "session.revoke" {
				continue
			}
			got = append(got, e.User+" "+e.Details["id"]+e.Details["scope"])
		}
		if strings.Join(got, ",") != "alice cs_a1,bob all" {
			t.Fatalf("audit %v", got)
		}
	})
}
