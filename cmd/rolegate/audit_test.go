package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"rolegate/store"
)

// auditJSONOut is one entry of `audit --json`.
type auditJSONOut struct {
	ID         int64             `json:"id"`
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`
	User       string            `json:"user"`
	Result     string            `json:"result"`
	ClientAddr string            `json:"client_addr"`
	UserAgent  string            `json:"user_agent"`
	Details    map[string]string `json:"details"`
}

func (c *cli) audit(t *testing.T, args ...string) []auditJSONOut {
	t.Helper()
	var list []auditJSONOut
	c.list(t, &list, append([]string{"audit", "--json"}, args...)...)
	return list
}

func types(events []auditJSONOut) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

func TestAuditListsCLIChangesFiltersByUserAndTime(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		start := time.Now().Add(-time.Second)
		c.ok(t, goodPassword+"\n", "user", "add", "Alice", "--password-stdin", "--must-change=false")
		c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
		c.ok(t, "", "user", "disable", "alice")
		c.ok(t, "", "tag", "add", "--account", "prod", "--key", "team", "--value", "core")

		all := c.audit(t)
		want := []string{"user.add", "account.add", "user.disable", "tag.add"}
		if strings.Join(types(all), " ") != strings.Join(want, " ") {
			t.Fatalf("audit --json lists %v; want %v, oldest first", types(all), want)
		}
		for i, e := range all {
			if e.ID <= 0 || e.Details["via"] != "cli" || e.Result != "ok" || e.Time.Before(start) || e.Time.After(time.Now()) ||
				(i > 0 && e.Time.Before(all[i-1].Time)) {
				t.Errorf("event %d = %+v; want an ID, via=cli, result ok and a time in order since the test began", i, e)
			}
		}
		if d := all[3].Details; d["account"] != "111122223333" || d["key"] != "team" || d["value"] != "core" {
			t.Errorf("tag.add details = %v; want the account, key and value", d)
		}

		for _, u := range []string{"alice", "ALICE"} {
			got := c.audit(t, "--user", u)
			if strings.Join(types(got), " ") != "user.add user.disable" || got[0].User != "Alice" {
				t.Errorf("audit --user %s lists %v; want Alice's user.add and user.disable", u, got)
			}
		}
		if got := c.audit(t, "--user", "nobody"); len(got) != 0 {
			t.Errorf("audit --user nobody lists %v; want nothing", got)
		}

		// An event from two hours ago, as a server would have written it then.
		st := c.openStore(t)
		old := &store.AuditEvent{Time: time.Now().Add(-2 * time.Hour), Type: "login", User: "alice", Result: "ok", ClientAddr: "192.0.2.7"}
		if err := st.AppendAudit(context.Background(), old); err != nil {
			t.Fatal(err)
		}
		if got := c.audit(t); len(got) != 5 {
			t.Errorf("audit --json lists %v; want the four CLI events and the old login", types(got))
		}
		for _, since := range []string{"1h", "30m", "90m"} {
			if got := c.audit(t, "--since", since); strings.Join(types(got), " ") != strings.Join(want, " ") {
				t.Errorf("audit --since %s lists %v; want %v without the login of two hours ago", since, types(got), want)
			}
		}
		for _, since := range []string{"3h", "1d", "7d", "2h30m"} {
			if got := c.audit(t, "--since", since); len(got) != 5 {
				t.Errorf("audit --since %s lists %v; want all five events", since, types(got))
			}
		}
		if got := c.audit(t, "--user", "Alice", "--since", "1h"); strings.Join(types(got), " ") != "user.add user.disable" {
			t.Errorf("audit --user Alice --since 1h lists %v; want user.add user.disable", types(got))
		}
		if got := c.audit(t, "--limit", "2", "--since", "1h"); strings.Join(types(got), " ") != "user.disable tag.add" {
			t.Errorf("audit --limit 2 --since 1h lists %v; want the newest two, oldest first", types(got))
		}

		table := c.ok(t, "", "audit", "--since", "1h")
		lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
		if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "ID TIME TYPE USER RESULT CLIENT DETAILS" {
			t.Fatalf("audit --since 1h printed:\n%s\nwant a header and four events", table)
		}
		f := strings.Fields(lines[4])[1:] // after the ID
		if ts, err := time.Parse(time.RFC3339, f[0]); err != nil || !strings.HasSuffix(f[0], "Z") || ts.Before(start.Truncate(time.Second)) {
			t.Errorf("table time %q is not an RFC 3339 UTC time since the test began", f[0])
		}
		if len(f) != 6 || f[1] != "tag.add" || f[2] != "-" || f[3] != "ok" || f[4] != "-" || !strings.HasPrefix(f[5], "account=111122223333,") ||
			!strings.Contains(f[5], ",key=team,") || !strings.Contains(f[5], ",value=core,") || !strings.HasSuffix(f[5], ",via=cli") {
			t.Errorf("table row %q; want tag.add, no user, ok, no client and sorted details ending in via=cli", lines[4])
		}
	})
}

func TestAuditRefusesBadFlags(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "group", "add", "devs")
		for _, args := range [][]string{
			{"--since", "banana"}, {"--since", ""}, {"--since", "-1h"}, {"--since", "0"}, {"--since", "0d"}, {"--since", "d"},
			{"--since", "1.5d"}, {"--since", "999999999999d"}, {"--limit", "0"}, {"--limit", "-3"}, {"--limit", "many"}, {"extra"},
		} {
			r := c.run("", append([]string{"audit"}, args...)...)
			if r.code != exitInvalid || r.stdout != "" || !strings.HasPrefix(r.stderr, "rolegate: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("audit %q: exit %d, stdout %q, stderr %q; want exit %d and one line on stderr", args, r.code, r.stdout, r.stderr, exitInvalid)
			}
		}
		if r := c.run("", "audit", "--since", "banana"); !strings.Contains(r.stderr, `"banana"`) || !strings.Contains(r.stderr, "7d") {
			t.Errorf("audit --since banana says %q; want it to name the value and the accepted forms", r.stderr)
		}
	})
}

func TestAuditTableEscapesHostileText(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "migrate")
		st := c.openStore(t)
		forged := "2024-01-01T00:00:00Z  login  admin  ok  -  via=cli"
		hostile := &store.AuditEvent{
			Type:       "login",
			User:       "mallory\n" + forged + "\x1b[31m",
			Result:     "bad password\r\x1b[2K",
			ClientAddr: "198.51.100.9\t",
			UserAgent:  "curl/8\n\x1b]0;pwned\a",
			Details:    map[string]string{"reason": "x\x1b[0m\ny", "note\x1b": "tab\there", "plain": "a b"},
		}
		if err := st.AppendAudit(context.Background(), hostile); err != nil {
			t.Fatal(err)
		}
		c.ok(t, "", "group", "add", "devs")

		table := c.ok(t, "", "audit")
		if strings.ContainsAny(table, "\x1b\r\a\t") {
			t.Errorf("audit table holds a raw control character:\n%q", table)
		}
		lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("audit table has %d lines, want a header and two events:\n%s", len(lines), table)
		}
		row := lines[1]
		if n := len(strings.Fields(row)); n != 7 {
			t.Errorf("audit table row %q has %d space-separated fields, want 7: a value kept a space", row, n)
		}
		for _, want := range []string{
			`"mallory\n2024-01-01T00:00:00Z  login  admin  ok  -  via=cli\x1b[31m"`,
			`"bad password\r\x1b[2K"`,
			`"198.51.100.9\t"`,
			`user_agent="curl/8\n\x1b]0;pwned\a"`,
			`reason="x\x1b[0m\ny"`,
			`"note\x1b"="tab\there"`,
			`plain="a b"`,
		} {
			if want = strings.ReplaceAll(want, " ", `\x20`); !strings.Contains(row, want) {
				t.Errorf("audit table row %q lacks %s", row, want)
			}
		}
		if !strings.Contains(lines[2], "group.add") {
			t.Errorf("the second event is not on the next line: %q", lines[2])
		}

		// JSON keeps the text exactly, escaped by the JSON encoder.
		got := c.audit(t)
		if len(got) != 2 || got[0].User != hostile.User || got[0].UserAgent != hostile.UserAgent || got[0].Result != hostile.Result ||
			got[0].ClientAddr != hostile.ClientAddr || got[0].Details["reason"] != "x\x1b[0m\ny" {
			t.Errorf("audit --json = %+v; want the hostile event's text unchanged", got)
		}
		if raw := c.ok(t, "", "audit", "--json"); strings.ContainsAny(raw, "\x1b\r\a\t") {
			t.Errorf("audit --json holds a raw control character: %q", raw)
		}
	})
}
