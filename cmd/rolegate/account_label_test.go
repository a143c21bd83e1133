package main

import (
	"strings"
	"testing"

	"rolegate/store"
)

// TestAccountLabelIsSetClearedAuditedAndValidated: account set --label stores the portal group,
// records it in the audit log, clears it with "", and refuses a label that is not plain text with
// one line and exit 2, writing nothing.
func TestAccountLabelIsSetClearedAuditedAndValidated(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: t.TempDir(), env: map[string]string{}}
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	label := func() string {
		t.Helper()
		st := c.openStore(t)
		defer st.Close()
		a, err := st.GetAccount(c.context(), "prod")
		if err != nil {
			t.Fatal(err)
		}
		return a.Label
	}
	c.ok(t, "", "account", "set", "prod", "--label", "EU production")
	if got := label(); got != "EU production" {
		t.Fatalf("label %q after --label 'EU production'", got)
	}
	st := c.openStore(t)
	events, err := st.ListAudit(c.context(), store.AuditFilter{Types: []string{"account.set"}})
	st.Close()
	if err != nil || len(events) != 1 || events[0].Details["label"] != "EU production" {
		t.Fatalf("audit %+v %v", events, err)
	}
	c.ok(t, "", "account", "set", "prod", "--region", "eu-west-1") // other flags leave the label alone
	if got := label(); got != "EU production" {
		t.Fatalf("label %q after a change of region", got)
	}
	for _, bad := range []string{" prod", strings.Repeat("x", 41), "a\tb", "prod\u202e"} {
		res := c.run("", "account", "set", "prod", "--label", bad, "--region", "us-east-1")
		if res.code != 2 || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, "invalid label") {
			t.Fatalf("--label %q: exit %d, stderr %q", bad, res.code, res.stderr)
		}
	}
	st = c.openStore(t)
	a, err := st.GetAccount(c.context(), "prod")
	st.Close()
	if err != nil || a.Label != "EU production" || a.Region != "eu-west-1" {
		t.Fatalf("refused labels wrote something: %+v %v", a, err)
	}
	c.ok(t, "", "account", "set", "prod", "--label", "")
	if got := label(); got != "" {
		t.Fatalf("label %q after --label ''", got)
	}
}
