package main

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/idp/mfa"
	"rolegate/store"
)

var inviteOutRE = regexp.MustCompile(`^code: ([a-z2-7]{4}(?:-[a-z2-7]{4}){5})\n(?:link: (\S+)\n)?expires: (\S+) \(`)

// invited runs `user mfa invite` with args and returns the code, the link ("" when none) and the end.
func (c *cli) invited(t *testing.T, args ...string) (code, link string, expires time.Time) {
	t.Helper()
	out := c.ok(t, "", append([]string{"user", "mfa", "invite"}, args...)...)
	m := inviteOutRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("invite printed %q; want the code, maybe a link, and the expiry", out)
	}
	exp, err := time.Parse(time.RFC3339, m[3])
	if err != nil {
		t.Fatalf("expiry %q: %v", m[3], err)
	}
	return m[1], m[2], exp
}

// checks reports whether code is user's live invite in st now.
func checks(t *testing.T, st store.Store, user, code string) bool {
	t.Helper()
	u, err := st.GetUser(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	hash, ok := mfa.InviteHash(code)
	if !ok {
		t.Fatalf("%q is not an invite code", code)
	}
	_, err = st.CheckEnrolInvite(context.Background(), u.ID, hash, time.Now())
	if err != nil && !store.IsCode(err, store.NotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// wantRefused fails unless r is a refusal with exit code and one line on stderr naming want.
func wantRefused(t *testing.T, what string, r result, code int, want string) {
	t.Helper()
	if r.code != code || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", what, r.code, r.stdout, r.stderr, code, want)
	}
}

func TestMFAInviteIssuesOneLiveCodePerUserAndRefusesBadInput(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		for _, name := range []string{"alice", "bob", "carol"} {
			c.ok(t, goodPassword+"\n", "user", "add", name, "--password-stdin", "--must-change=false")
		}
		st := c.openStore(t)
		start := time.Now().Add(-time.Second)
		code, link, exp := c.invited(t, "ALICE", "--base-url", "https://idp.example.com/")
		if want := "https://idp.example.com/account/mfa?invite=" + url.QueryEscape(code); link != want {
			t.Errorf("link %q; want %q", link, want)
		}
		if exp.Before(start.Add(24*time.Hour)) || exp.After(time.Now().Add(24*time.Hour)) {
			t.Errorf("expires %v; want 24h from now by default", exp)
		}
		if !checks(t, st, "alice", code) || checks(t, st, "bob", code) {
			t.Fatalf("the invite does not check for alice alone")
		}
		events := c.audit(t, "--user", "alice")
		if e := events[len(events)-1]; e.Type != "mfa.invite" || e.Result != "ok" || e.Details["via"] != "cli" || e.Details["expires_at"] != exp.Format(time.RFC3339) {
			t.Errorf("last audit event %+v; want mfa.invite via cli with its expiry", e)
		}
		for _, ev := range events {
			for _, v := range ev.Details {
				if strings.Contains(v, code) {
					t.Fatalf("the audit log holds the code: %+v", ev)
				}
			}
		}

		// The base URL from the environment, as serve takes it; a new invite replaces the old.
		c.env["ROLEGATE_BASE_URL"] = "https://sso.example.org"
		code2, link2, exp2 := c.invited(t, "alice", "--ttl", "7d")
		delete(c.env, "ROLEGATE_BASE_URL")
		if !strings.HasPrefix(link2, "https://sso.example.org/account/mfa?invite=") || exp2.Before(start.Add(7*24*time.Hour)) {
			t.Errorf("link %q expiring %v; want the environment's base URL and 7 days", link2, exp2)
		}
		if checks(t, st, "alice", code) || !checks(t, st, "alice", code2) {
			t.Fatalf("the new invite did not replace the old one")
		}
		if _, link, _ := c.invited(t, "bob", "--ttl", "90m"); link != "" {
			t.Errorf("a link %q without a base URL", link)
		}

		c.ok(t, "", "user", "disable", "carol")
		c.ok(t, "", "user", "mfa", "enroll", "bob", "--totp")
		audits := auditCount(t, st)
		for _, tc := range []struct {
			what string
			args []string
			code int
			want string
		}{
			{"an unknown user", []string{"nosuch"}, exitNotFound, `"nosuch" not found`},
			{"a ttl over 7 days", []string{"alice", "--ttl", "8d"}, exitInvalid, "at most 7 days"},
			{"a ttl over 7 days in hours", []string{"alice", "--ttl", "169h"}, exitInvalid, "at most 7 days"},
			{"a zero ttl", []string{"alice", "--ttl", "0"}, exitInvalid, "--ttl"},
			{"a negative ttl", []string{"alice", "--ttl", "-1h"}, exitInvalid, "--ttl"},
			{"a ttl that is no duration", []string{"alice", "--ttl", "soon"}, exitInvalid, "--ttl"},
			{"a ttl of days that would wrap", []string{"alice", "--ttl", "99999999999999d"}, exitInvalid, "--ttl"},
			{"a base URL that is not http(s)", []string{"alice", "--base-url", "ftp://idp.example.com"}, exitInvalid, "base URL"},
			{"a disabled user", []string{"carol"}, exitConflict, "rolegate user enable carol"},
			{"a user who has a factor", []string{"bob"}, exitConflict, "rolegate user mfa reset bob"},
			{"no user", nil, exitInvalid, "NAME"},
		} {
			r := c.run("", append([]string{"user", "mfa", "invite"}, tc.args...)...)
			wantRefused(t, tc.what, r, tc.code, tc.want)
		}
		if !checks(t, st, "alice", code2) {
			t.Errorf("refused invites replaced alice's live one")
		}
		if n := auditCount(t, st); n != audits {
			t.Errorf("audit events %d -> %d after refused invites", audits, n)
		}
	})
}

// windowsOut is the output of `mfa window show --json`.
type windowsOut []struct {
	Account  string    `json:"account"`
	OpenedAt time.Time `json:"opened_at"`
	EndsAt   time.Time `json:"ends_at"`
	Open     bool      `json:"open"`
}

func TestMFAWindowsOpenCloseAndRefuseBadInput(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
		c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
		c.ok(t, "", "grant", "add", "--user", "alice", "--account", "prod", "--role", "Admin")
		st := c.openStore(t)
		var ws windowsOut
		c.list(t, &ws, "mfa", "window", "show", "--json")
		if len(ws) != 0 {
			t.Fatalf("windows before any opened: %+v", ws)
		}

		start := time.Now().Add(-time.Second)
		if out := c.ok(t, "", "mfa", "window", "open", "--for", "72h"); !strings.HasPrefix(out, "self-enrolment open for every user until ") {
			t.Errorf("open printed %q", out)
		}
		until := time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.DateOnly)
		c.ok(t, "", "mfa", "window", "open", "--account", "PROD", "--until", until)
		c.list(t, &ws, "mfa", "window", "show", "--json")
		if len(ws) != 2 || ws[0].Account != "" || !ws[0].Open || ws[0].EndsAt.Before(start.Add(72*time.Hour)) ||
			ws[1].Account != "prod" || ws[1].EndsAt.Format(time.DateOnly) != until || ws[1].EndsAt.Hour() != 0 {
			t.Fatalf("windows %+v; want every user's for 72h, then prod's until %s", ws, until)
		}
		alice, _ := factors(t, st, "alice")
		if w, err := st.EnrolWindowFor(context.Background(), alice.ID, time.Now().Add(100*time.Hour)); err != nil || w.AccountAlias != "prod" {
			t.Fatalf("alice's window after the global one ends: %+v, %v; want prod's", w, err)
		}

		audits := auditCount(t, st)
		for _, tc := range []struct {
			what string
			args []string
			code int
			want string
		}{
			{"no end", []string{"open"}, exitInvalid, "exactly one of --until"},
			{"two ends", []string{"open", "--for", "1h", "--until", until}, exitInvalid, "exactly one of --until"},
			{"an end in the past", []string{"open", "--until", "2020-01-01"}, exitInvalid, "past"},
			{"an end that is no date", []string{"open", "--until", "next week"}, exitInvalid, "--until"},
			{"a window over 90 days", []string{"open", "--for", "91d"}, exitInvalid, "at most 90 days"},
			{"a zero length", []string{"open", "--for", "0s"}, exitInvalid, "--for"},
			{"an unknown account", []string{"open", "--account", "nosuch", "--for", "1h"}, exitNotFound, `"nosuch" not found`},
			{"closing an unknown account's window", []string{"close", "--account", "nosuch"}, exitNotFound, "nosuch"},
			{"a stray argument", []string{"close", "prod"}, exitInvalid, "argument"},
		} {
			wantRefused(t, tc.what, c.run("", append([]string{"mfa", "window"}, tc.args...)...), tc.code, tc.want)
		}
		var after windowsOut
		c.list(t, &after, "mfa", "window", "show", "--json")
		if len(after) != 2 || !after[0].EndsAt.Equal(ws[0].EndsAt) || !after[1].EndsAt.Equal(ws[1].EndsAt) {
			t.Errorf("windows after refused commands %+v; want %+v", after, ws)
		}
		if n := auditCount(t, st); n != audits {
			t.Errorf("audit events %d -> %d after refused commands", audits, n)
		}

		c.ok(t, "", "mfa", "window", "close")
		c.ok(t, "", "mfa", "window", "close", "--account", "111122223333")
		wantRefused(t, "closing twice", c.run("", "mfa", "window", "close"), exitNotFound, "no global enrolment window")
		c.list(t, &ws, "mfa", "window", "show", "--json")
		if len(ws) != 0 {
			t.Fatalf("windows after closing both: %+v", ws)
		}
		var got []string
		for _, e := range c.audit(t) {
			if e.Type == "mfa.window" {
				got = append(got, e.Details["action"]+" "+e.Details["scope"])
			}
		}
		if strings.Join(got, "|") != "open every user|open account prod|close every user|close account 111122223333" {
			t.Errorf("window audit %q", got)
		}
	})
}
