package main

import (
	"context"
	"crypto/x509"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/certs"
	"rolegate/internal/testtools"
	"rolegate/store/postgres/pgtest"
)

// The README's PostgreSQL backup, run as written: pg_dump -Fc of a live database, pg_restore into a
// new one; with the servers' KEK, the restored database serves and signs with the same key, and
// with another KEK it cannot open the keys.
func TestTheREADMEsPgDumpAndPgRestoreCarryEverythingButTheKEK(t *testing.T) {
	pgDump := testtools.RequireTool(t, "pg_dump", "postgresql-client")
	pgRestore := testtools.RequireTool(t, "pg_restore", "postgresql-client")
	c := newCLI(t, "postgres")
	seedPeople(t, c)
	c.ok(t, "", "user", "mfa", "enroll", "bob", "--totp") // a sealed TOTP secret, and the signing key
	dump := filepath.Join(t.TempDir(), "rolegate.dump")
	if out, err := exec.Command(pgDump, "--format=custom", "--file="+dump, c.dbURL).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	c2 := &cli{backend: "postgres", dataDir: filepath.Join(t.TempDir(), "data"), dbURL: pgtest.URL(t), env: map[string]string{certs.EnvKEKFile: c.env[certs.EnvKEKFile]}}
	if out, err := exec.Command(pgRestore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname="+c2.dbURL, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}

	if !reflect.DeepEqual(c2.users(t), c.users(t)) {
		t.Errorf("users after pg_restore:\n%v\nwant\n%v", c2.users(t), c.users(t))
	}
	var grants, grants2 []grantJSONOut
	c.list(t, &grants, "grant", "list", "--json")
	c2.list(t, &grants2, "grant", "list", "--json")
	if !reflect.DeepEqual(grants2, grants) {
		t.Errorf("grants after pg_restore:\n%v\nwant\n%v", grants2, grants)
	}
	if k, k2 := c.keys(t), c2.keys(t); len(k) != 1 || !reflect.DeepEqual(k2, k) {
		t.Errorf("signing keys after pg_restore:\n%v\nwant\n%v", k2, k)
	}
	want := allAudit(t, c)
	if got := allAudit(t, c2); !reflect.DeepEqual(got, want) {
		t.Errorf("audit after pg_restore: %d events, want the original's %d", len(got), len(want))
	}
	// The sequences came along: new rows do not collide with restored ones.
	c2.ok(t, goodPassword+"\n", "user", "add", "dave", "--password-stdin", "--must-change=false")
	if got := allAudit(t, c2); len(got) != len(want)+1 || got[len(got)-1].ID <= want[len(want)-1].ID {
		t.Errorf("an event after pg_restore: %d events, the last ID %d", len(got), got[len(got)-1].ID)
	}

	// Without the servers' KEK the restored keys cannot be opened: nothing signs, nothing is sealed.
	wrong := &cli{backend: "postgres", dataDir: c2.dataDir, dbURL: c2.dbURL, env: map[string]string{certs.EnvKEKFile: writeKEKFile(t, t.TempDir())}}
	if r := wrong.run("", "user", "mfa", "enroll", "carol", "--totp"); r.code == 0 || !strings.Contains(r.stderr, "key-encryption key") {
		t.Errorf("with another KEK: exit %d, stderr %q; want a refusal that names the key-encryption key", r.code, r.stderr)
	}

	// With it, the restored database signs with the original key.
	keys, err := c.openStore(t).ListSigningKeys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("the original's keys: %v, %v", keys, err)
	}
	orig, err := x509.ParseCertificate(keys[0].Certificate)
	if err != nil {
		t.Fatal(err)
	}
	srv := c2.serve(t)
	defer srv.stop(t)
	browser, res := signIn(t, srv.url, "alice", goodPassword)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice signs in after pg_restore: status %d", res.StatusCode)
	}
	resp, err := awsResponse(browser, srv, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, xpath := range responseSigs {
		if err := samltest.VerifyXMLSec(t, resp, orig, xpath); err != nil {
			t.Errorf("xmlsec1 with the original certificate: %v", err)
		}
	}
	entityID := entityIDRE.FindStringSubmatch(srv.get(t, "/saml/metadata"))[1]
	if v := assertions.InspectAWS(resp, assertions.Expect{EntityID: entityID, ACS: prodACS, Certs: []*x509.Certificate{orig}, Now: time.Now()}); !v.Accepted {
		t.Errorf("an IAM holding the original certificate refuses: %v", v.Problems)
	}
}
