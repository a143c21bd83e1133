package main

import (
	"strings"
	"testing"
)

// TestAccountSignModeIsSetListedAndAudited: --sign takes assertion, response or both; account list
// shows it (table and -o json), the audit records the change, and a bad value is refused with one
// line and exit 2, writing nothing.
func TestAccountSignModeIsSetListedAndAudited(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: t.TempDir(), env: map[string]string{}}
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	var list []struct {
		Alias string `json:"alias"`
		Sign  string `json:"sign"`
	}
	sign := func() string {
		t.Helper()
		list = nil
		c.list(t, &list, "account", "list", "-o", "json")
		if len(list) != 1 {
			t.Fatalf("listed %+v", list)
		}
		return list[0].Sign
	}
	if got := sign(); got != "both" {
		t.Fatalf("a new account signs %q, want both", got)
	}
	for _, m := range []string{"assertion", "response", "both", "response"} {
		c.ok(t, "", "account", "set", "prod", "--sign", m)
		if got := sign(); got != m {
			t.Fatalf("--sign %s: listed %q", m, got)
		}
	}
	if out := c.ok(t, "", "account", "list"); !strings.Contains(out, "SIGN") || !strings.Contains(out, " response") {
		t.Fatalf("account list:\n%s", out)
	}
	for _, bad := range []string{"none", "", "Both", "assertion,response"} {
		res := c.run("", "account", "set", "prod", "--sign", bad)
		if res.code != 2 || res.stdout != "" || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, "signing mode") {
			t.Fatalf("--sign %q: exit %d, stdout %q, stderr %q", bad, res.code, res.stdout, res.stderr)
		}
	}
	if got := sign(); got != "response" {
		t.Fatalf("after refused values: %q", got)
	}
	events := c.audit(t, "--type", "account.set")
	if len(events) != 4 || events[3].Details["change.sign"] != "both->response" || events[0].Details["change.sign"] != "both->assertion" {
		t.Fatalf("account.set records %+v, want four, the first both->assertion and the last both->response", events)
	}
}
