package main

import (
	"strings"
	"testing"
)

// TestAccountCLISessionLifetimeIsValidatedAndListed: a lifetime longer than a web session, or
// malformed, is refused with one line and exit 2, and nothing is written.
func TestAccountCLISessionLifetimeIsValidatedAndListed(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: t.TempDir(), env: map[string]string{}}
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod", "--cli-session", "2h")
	for _, args := range [][]string{
		{"account", "set", "prod", "--cli-session", "13h"},
		{"account", "set", "prod", "--cli-session", "10m"},
		{"account", "set", "prod", "--cli-session", "-1h"},
		{"account", "set", "prod", "--cli-session", "forever"},
		{"account", "set", "prod", "--cli-session", "600"},
		{"account", "set", "prod", "--cli-session", "99999999999999999999"},
		{"account", "add", "444455556666", "--alias", "gov", "--cli-session", "13h"},
	} {
		res := c.run("", args...)
		if res.code != 2 || res.stdout != "" || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, "cli-session") &&
			!strings.Contains(res.stderr, "CLI session lifetime") {
			t.Fatalf("rolegate %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), res.code, res.stdout, res.stderr)
		}
	}
	var list []struct {
		Alias      string `json:"alias"`
		CLISession int64  `json:"cli_session_seconds"`
	}
	c.list(t, &list, "account", "list", "--json")
	if len(list) != 1 || list[0].CLISession != 7200 {
		t.Fatalf("after refused changes: %+v", list)
	}
	if out := c.ok(t, "", "account", "list"); !strings.Contains(out, "CLI_SESSION") || !strings.Contains(out, " 2h ") {
		t.Fatalf("account list:\n%s", out)
	}
	// Seconds, as --session-duration and account list --json speak them.
	c.ok(t, "", "account", "set", "prod", "--cli-session", "3600")
	list = nil
	c.list(t, &list, "account", "list", "--json")
	if len(list) != 1 || list[0].CLISession != 3600 {
		t.Fatalf("--cli-session 3600: %+v", list)
	}
	c.ok(t, "", "account", "set", "prod", "--cli-session", "0")
	list = nil
	c.list(t, &list, "account", "list", "--json")
	if len(list) != 1 || list[0].CLISession != 0 {
		t.Fatalf("--cli-session 0 does not restore the default: %+v", list)
	}
}
