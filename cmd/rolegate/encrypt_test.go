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

// TestAccountEncryptWritesNothingWhenNoKeyCanBeMade: a key that cannot be made (here the KEK is
// not the one that sealed the keys) fails the whole command before the account changes, so an
// account is never left requiring encryption with no key to encrypt to.
func TestAccountEncryptWritesNothingWhenNoKeyCanBeMade(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: t.TempDir(), env: map[string]string{}}
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	c.ok(t, "", "account", "add", "444455556666", "--alias", "dev")
	c.ok(t, "", "account", "set", "dev", "--encrypt", "allowed") // the keyring exists, sealed under the data dir's KEK
	_, other, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	c.env[certs.EnvKEK] = other
	for _, args := range [][]string{{"--encrypt", "required"}, {"--rotate-encryption-key", "--region", "eu-west-1"}} {
		res := c.run("", append([]string{"account", "set", "prod"}, args...)...)
		if res.code == 0 || strings.Contains(res.stdout, "updated account") {
			t.Fatalf("%v with the wrong KEK: exit %d, stdout %q", args, res.code, res.stdout)
		}
	}
	delete(c.env, certs.EnvKEK)
	var list []encAccountJSON
	c.list(t, &list, "account", "list", "--json")
	for _, a := range list {
		if a.Alias == "prod" && (a.Encrypt != "off" || a.Encryption != "off") {
			t.Fatalf("a failed --encrypt changed the account: %+v", a)
		}
	}
	if out := c.ok(t, "", "account", "list"); strings.Contains(out, "eu-west-1") {
		t.Fatalf("a failed rotation changed the region:\n%s", out)
	}
}

// TestAccountListSaysWhatEncryptionWaitsFor: the list names the command that moves an account on,
// and only a command that does: aws register uploads nothing for an account that does not encrypt,
// and an encrypting account without any key needs one made first.
func TestAccountListSaysWhatEncryptionWaitsFor(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: t.TempDir(), env: map[string]string{}}
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	c.ok(t, "", "account", "set", "prod", "--rotate-encryption-key")
	if e := c.encryption(t); e.Encryption != "off, key next (not in IAM yet)" {
		t.Fatalf("a key made for an account that does not encrypt: %+v", e)
	}
	// An aws register that uploaded the key and stopped before making it current.
	st := c.openStore(t)
	ctx := context.Background()
	keys, err := st.ListEncryptionKeys(ctx, "111122223333")
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	if err := st.SetEncryptionKeyAWSID(ctx, keys[0].ID, "ABCDEFGHIJKLMNOPQRSTUVWX"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateAccount(ctx, "prod", func(a *store.Account) error {
		a.AWS.Encrypt, a.AWS.IdPID = store.EncryptAllowed, "A1B2C3D4-0000-1111-2222-333344445555"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if e := c.encryption(t); e.Encryption != "allowed, key next (in IAM, not current yet): rolegate aws register" {
		t.Fatalf("a key IAM holds that is not current yet: %+v", e)
	}
	// The only key is gone (retired): an encrypting account then has none to upload.
	st = c.openStore(t)
	if err := st.RetireEncryptionKey(ctx, keys[0].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateAccount(ctx, "prod", func(a *store.Account) error {
		a.AWS.Encrypt, a.AWS.IdPID = store.EncryptRequired, "A1B2C3D4-0000-1111-2222-333344445555"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if e := c.encryption(t); e.Encryption != "required, no key: rolegate account set prod --rotate-encryption-key" {
		t.Fatalf("an encrypting account without a key: %+v", e)
	}
}

// TestTurningEncryptionOnNamesTheEndpointTheTrustPoliciesNeed: once aws register uploads the key,
// the account's Responses go to /saml/acs/IDP_ID, a Recipient its roles' trust policies must
// allow first, or AWS refuses every sign-in; account set says so when it turns encryption on.
func TestTurningEncryptionOnNamesTheEndpointTheTrustPoliciesNeed(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: t.TempDir(), env: map[string]string{}}
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod", "--region", "us-east-2")
	st := c.openStore(t)
	if _, err := st.UpdateAccount(context.Background(), "prod", func(a *store.Account) error {
		a.AWS.IdPID = "SAMLSPEXAMPLE7Q2W4Z9K1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out := c.ok(t, "", "account", "set", "prod", "--encrypt", "allowed")
	for _, want := range []string{"https://us-east-2.signin.aws.amazon.com/saml/acs/SAMLSPEXAMPLE7Q2W4Z9K1", "rolegate aws trust-policy --account prod"} {
		if !strings.Contains(out, want) {
			t.Fatalf("--encrypt allowed does not say %q:\n%s", want, out)
		}
	}
	if out := c.ok(t, "", "account", "set", "prod", "--encrypt", "required"); strings.Contains(out, "trust-policy") {
		t.Fatalf("a change between modes that encrypt repeats the note:\n%s", out)
	}
	c.ok(t, "", "account", "set", "prod", "--encrypt", "off")
	c.ok(t, "", "account", "add", "444455556666", "--alias", "dev")
	if out := c.ok(t, "", "account", "set", "dev", "--encrypt", "required"); !strings.Contains(out, "rolegate aws trust-policy --account dev") || !strings.Contains(out, "/saml/acs/") {
		t.Fatalf("without an IdP ID, --encrypt required said:\n%s", out)
	}
}
