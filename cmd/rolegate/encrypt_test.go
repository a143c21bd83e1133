package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/store"
)

type encAccountJSON struct {
	Alias      string `json:"alias"`
	Encrypt    string `json:"encrypt"`
	Encryption string `json:"encryption"`
}

func (c *cli) encryption(t *testing.T) encAccountJSON {
	t.Helper()
	var list []encAccountJSON
	c.list(t, &list, "account", "list", "--json")
	if len(list) != 1 {
		t.Fatalf("accounts: %+v", list)
	}
	return list[0]
}

// TestAccountEncryptMakesAKeyOnceAndRotatesAddThenRemove walks the lifecycle: --encrypt makes a
// next key when there is none, a rotation waits for aws register to upload the last one, and the
// keys are sealed under the KEK and open with it.
func TestAccountEncryptMakesAKeyOnceAndRotatesAddThenRemove(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: t.TempDir(), env: map[string]string{}}
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	if e := c.encryption(t); e.Encrypt != "off" || e.Encryption != "off" {
		t.Fatalf("a new account: %+v", e)
	}
	for _, v := range []string{"sometimes", "", "Required", "on"} {
		res := c.run("", "account", "set", "prod", "--encrypt", v, "--region", "eu-west-1")
		if res.code != 2 || res.stdout != "" || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, "--encrypt takes required, allowed or off") {
			t.Fatalf("--encrypt %q: exit %d, stdout %q, stderr %q", v, res.code, res.stdout, res.stderr)
		}
	}
	if out := c.ok(t, "", "account", "list"); strings.Contains(out, "eu-west-1") || !strings.Contains(out, "ENCRYPT") {
		t.Fatalf("a refused --encrypt wrote something:\n%s", out)
	}

	out := c.ok(t, "", "account", "set", "prod", "--encrypt", "required")
	if !strings.Contains(out, "made encryption key") || !strings.Contains(out, "rolegate aws register --account prod") {
		t.Fatalf("--encrypt required said:\n%s", out)
	}
	if e := c.encryption(t); e.Encrypt != "required" || e.Encryption != "required, key next (not in IAM yet), no IdP ID: rolegate aws register" {
		t.Fatalf("after --encrypt required: %+v", e)
	}
	if out := c.ok(t, "", "account", "set", "prod", "--encrypt", "allowed"); strings.Contains(out, "made encryption key") {
		t.Fatalf("a second mode change made another key:\n%s", out)
	}
	res := c.run("", "account", "set", "prod", "--rotate-encryption-key", "--region", "eu-west-1")
	if res.code != 6 || !strings.Contains(res.stderr, "IAM does not hold yet") || !strings.Contains(res.stderr, "rolegate aws register --account prod") {
		t.Fatalf("rotating before the upload: exit %d, stderr %q", res.code, res.stderr)
	}

	// What aws register does (branch iam): upload, record the KeyId and the IdP ID, promote.
	st := c.openStore(t)
	ctx := context.Background()
	keys, err := st.ListEncryptionKeys(ctx, "111122223333")
	if err != nil || len(keys) != 1 || keys[0].State != store.KeyNext {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	kek, _, err := certs.LoadKEK(c.getenv, c.dataDir, false)
	if err != nil {
		t.Fatal(err)
	}
	if pem, err := certs.EncryptionKeyPEM(kek, keys[0]); err != nil || !strings.HasPrefix(pem, "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("the key does not open with the data dir's KEK: %v", err)
	}
	first := keys[0].ID
	if err := st.SetEncryptionKeyAWSID(ctx, first, "ABCDEFGHIJKLMNOPQRSTUVWX"); err != nil {
		t.Fatal(err)
	}
	if err := st.PromoteEncryptionKey(ctx, first, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.AWS.IdPID = "A1B2C3D4-0000-1111-2222-333344445555"; return nil }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if e := c.encryption(t); e.Encryption != "allowed, key current" {
		t.Fatalf("after register: %+v", e)
	}

	if out := c.ok(t, "", "account", "set", "prod", "--rotate-encryption-key"); !strings.Contains(out, "made encryption key") {
		t.Fatalf("rotation said:\n%s", out)
	}
	if e := c.encryption(t); e.Encryption != "allowed, key current, key next (not in IAM yet): rolegate aws register" {
		t.Fatalf("after rotation: %+v", e)
	}
	// Turning encryption off keeps the keys: IAM still holds them until register says otherwise.
	c.ok(t, "", "account", "set", "prod", "--encrypt", "off")
	if e := c.encryption(t); e.Encrypt != "off" || !strings.Contains(e.Encryption, "key current") {
		t.Fatalf("after --encrypt off: %+v", e)
	}
	if out := c.ok(t, "", "audit", "--json"); !strings.Contains(out, `"encrypt": "off"`) || !strings.Contains(out, `"encryption_key": "`) {
		t.Fatalf("the audit does not say what changed:\n%.2000s", out)
	}
}
