package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"rolegate/idp"
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
				if s.Kind == kindCLI { // bob's web session is listed too: see the test of web sessions
					out = append(out, s.User+":"+s.ID)
				}
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

func TestSessionListShowsWebSessionsAndRevokeEndsOneByItsID(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
		c.ok(t, goodPassword+"\n", "user", "add", "bob", "--password-stdin", "--must-change=false")
		st := c.openStore(t)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		mk := func(user, tok string, age time.Duration) *store.Session {
			t.Helper()
			u, err := st.GetUser(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			s := &store.Session{TokenHash: []byte(tok + "-web-session-token-hash-0123"), UserID: u.ID, AuthMethods: "pwd,otp", AuthenticatedAt: now,
				CreatedAt: now.Add(-age), LastSeenAt: now, IdleExpiresAt: now.Add(30 * time.Minute), ExpiresAt: now.Add(time.Hour),
				ClientAddr: "192.0.2.9", UserAgent: "Firefox"}
			if err := st.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		office, home, bobs := mk("alice", "office", time.Hour), mk("alice", "home", time.Minute), mk("bob", "bob", 2*time.Minute)
		list := func(args ...string) []cliSessionJSON {
			t.Helper()
			var l []cliSessionJSON
			c.list(t, &l, append([]string{"session", "list", "--json"}, args...)...)
			return l
		}
		got := list("--user", "alice")
		if len(got) != 2 || got[0].ID != idp.WebSessionID(home) || got[1].ID != idp.WebSessionID(office) ||
			got[0].Kind != kindWeb || got[0].User != "alice" || got[0].AuthMethods != "pwd,otp" || got[0].ClientAddr != "192.0.2.9" ||
			!got[0].ExpiresAt.Equal(now.Add(30*time.Minute)) {
			t.Fatalf("alice's sessions %+v; want her two web sessions, newest first, ending at the idle timeout", got)
		}
		if all := list(); len(all) != 3 {
			t.Fatalf("every session: %+v; want 3", all)
		}
		if out := c.ok(t, "", "session", "list", "--user", "bob"); !strings.Contains(out, "KIND") || !strings.Contains(out, idp.WebSessionID(bobs)+"  web") {
			t.Errorf("the table names no kind:\n%s", out)
		}

		if r := c.run("", "session", "revoke", "0123456789abcdef01234567"); r.code != 5 || !strings.Contains(r.stderr, "no live session") {
			t.Fatalf("an unknown ID: exit %d, stderr %q", r.code, r.stderr)
		}
		if out := c.ok(t, "", "session", "revoke", idp.WebSessionID(office)); !strings.Contains(out, "revoked web session "+idp.WebSessionID(office)+" of alice") {
			t.Errorf("revoke printed %q", out)
		}
		if _, err := st.GetSession(ctx, office.TokenHash, now); !store.IsCode(err, store.NotFound) {
			t.Fatalf("the revoked web session is live: %v", err)
		}
		for _, s := range []*store.Session{home, bobs} {
			if _, err := st.GetSession(ctx, s.TokenHash, now); err != nil {
				t.Fatalf("revoking one web session ended another: %v", err)
			}
		}
		var revokes []string
		for _, e := range c.audit(t) {
			if e.Type == "session.revoke" {
				revokes = append(revokes, e.User+" "+e.Details["kind"]+" "+e.Details["id"])
			}
		}
		if strings.Join(revokes, ",") != "alice web "+idp.WebSessionID(office) {
			t.Errorf("audit %q", revokes)
		}
		c.ok(t, "", "user", "disable", "bob")
		if got := list("--user", "bob"); len(got) != 0 {
			t.Errorf("a disabled user's sessions are listed: %+v", got)
		}
	})
}

// Scripts read the JSON list as an array: with no live session it is [], as it was before web
// sessions were listed, not null.
func TestSessionListJSONIsAnEmptyArrayWhenNoSessionIsLive(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin")
	for _, args := range [][]string{{}, {"--user", "alice"}} {
		if out := c.ok(t, "", append([]string{"session", "list", "--json"}, args...)...); out != "[]\n" {
			t.Errorf("session list --json %v: %q, want []", args, out)
		}
	}
}
