package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"rolegate/store"
)

const (
	prodAcct = "111122223333"
	devAcct  = "444455556666"
)

// failsWith runs a command line that must fail with status code, and returns its one line of stderr.
func (c *cli) failsWith(t *testing.T, code int, args ...string) string {
	t.Helper()
	r := c.run("", args...)
	if r.code != code || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("rolegate %s: exit %d, stderr %q, stdout %q; want exit %d and one line", strings.Join(args, " "), r.code, r.stderr, r.stdout, code)
	}
	return r.stderr
}

// auditDetails returns the details of the audit events of type typ, oldest first.
func auditDetails(t *testing.T, st store.Store, typ string) []map[string]string {
	t.Helper()
	events, err := st.ListAudit(context.Background(), store.AuditFilter{Types: []string{typ}})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, e := range events {
		out = append(out, e.Details)
	}
	slices.Reverse(out)
	return out
}

func TestKeysRotateForceActivatesAndRetiresAndIsAuditedAsForced(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "account", "add", prodAcct, "--alias", "prod")
		c.ok(t, "", "account", "add", devAcct, "--alias", "dev")
		st := c.openStore(t)
		c.ok(t, "", "keys", "rotate") // on an empty store: the current key, then a staged one
		var list []keyJSON
		c.list(t, &list, "keys", "list", "--json")
		if len(list) != 2 || list[0].State != "current" || list[1].State != "next" {
			t.Fatalf("keys after the first rotate: %+v", list)
		}
		cur, next := list[0], list[1]
		// prod's IAM holds only the current key; dev was never checked.
		if _, err := st.UpdateAccount(context.Background(), "prod", func(a *store.Account) error {
			a.AWS.TrustedCerts, a.AWS.CheckedAt = []string{cur.Fingerprint}, time.Now().UTC()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		text := c.ok(t, "", "keys", "list")
		for _, s := range []string{"not trusted by: prod (" + prodAcct + ", checked ", "never checked: dev (" + devAcct + ")",
			"next: rolegate keys rotate activates " + next.ID} {
			if !strings.Contains(text, s) {
				t.Errorf("keys list does not say %q:\n%s", s, text)
			}
		}
		c.failsWith(t, 6, "keys", "rotate")

		out := c.ok(t, "", "keys", "rotate", "--force")
		if !strings.Contains(out, "forced: sign-in will fail for prod ("+prodAcct+")") || !strings.Contains(out, "dev ("+devAcct+")") ||
			!strings.Contains(out, "activated signing key "+next.ID) {
			t.Fatalf("rotate --force printed %q", out)
		}
		d := auditDetails(t, st, "keys.activated")
		if len(d) != 1 || d[0]["forced"] != "true" || d[0]["key"] != next.ID || d[0]["untrusted_accounts"] != prodAcct ||
			d[0]["unchecked_accounts"] != devAcct || !strings.Contains(d[0]["overridden"], "never checked") {
			t.Fatalf("the forced activation is audited as %v", d)
		}

		out = c.ok(t, "", "keys", "rotate", "--force")
		if !strings.Contains(out, "forced: ") || !strings.Contains(out, "retired signing key "+cur.ID) {
			t.Fatalf("rotate --force within the settling time printed %q", out)
		}
		if d := auditDetails(t, st, "keys.retired"); len(d) != 1 || d[0]["forced"] != "true" || d[0]["key"] != cur.ID {
			t.Fatalf("the forced retirement is audited as %v", d)
		}
		c.list(t, &list, "keys", "list", "--json")
		if len(list) != 2 || list[0].State != "retired" || list[1].State != "current" || list[1].ID != next.ID {
			t.Fatalf("keys after forcing: %+v", list)
		}
		// --force stages like rotate: nothing to override, nothing forced.
		c.ok(t, "", "keys", "rotate", "--force")
		if d := auditDetails(t, st, "keys.staged"); len(d) != 2 || d[1]["forced"] != "" {
			t.Fatalf("staging audited as %v", d)
		}
	})
}

func TestKeysRotateWithNoAccountsActivatesWithoutForce(t *testing.T) {
	t.Parallel()
	c := &cli{backend: "sqlite", dataDir: t.TempDir() + "/data", env: map[string]string{}}
	c.ok(t, "", "migrate")
	c.ok(t, "", "keys", "rotate")
	if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "activated") {
		t.Fatalf("with no account to break, rotate printed %q", out)
	}
}
