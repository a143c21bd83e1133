package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"rolegate/awstest/iamtest"
	"rolegate/certs"
	"rolegate/store"
)

const (
	prodID   = "111122223333"
	devID    = "444455556666"
	hubID    = "999988887777"
	testBase = "https://idp.example.com"
)

func TestAWSMetadataIsWhatTheServerServes(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.env["ROLEGATE_BASE_URL"] = testBase
		srv := c.serve(t)
		served := srv.get(t, "/saml/metadata")
		if printed := c.ok(t, "", "aws", "metadata"); printed != served {
			t.Fatalf("aws metadata printed\n%s\nthe server serves\n%s", printed, served)
		}
		out := filepath.Join(t.TempDir(), "rolegate.xml")
		os.WriteFile(out, []byte("old"), 0o600)
		r := c.run("", "aws", "metadata", "--out", out)
		got, err := os.ReadFile(out)
		fi, _ := os.Stat(out)
		if r.code != 0 || r.stdout != "" || err != nil || string(got) != served || fi.Mode().Perm() != 0o644 {
			t.Fatalf("--out: exit %d, stdout %q; file (mode %v) holds\n%s", r.code, r.stdout, fi.Mode(), got)
		}
		srv.stop(t)
		// Without a base URL, the one the server pinned at its first start; another one is refused.
		delete(c.env, "ROLEGATE_BASE_URL")
		if printed := c.ok(t, "", "aws", "metadata"); printed != served {
			t.Fatalf("aws metadata without --base-url printed\n%s\nthe server serves\n%s", printed, served)
		}
		if r := c.run("", "aws", "metadata", "--base-url", "https://sso.example.com"); r.code != exitConflict || !strings.Contains(r.stderr, "--change-entity-id") {
			t.Fatalf("another base URL: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// awsWorld is a CLI on a fresh SQLite store with two accounts, prod and dev, an IAM stand-in,
// and the shared config and credentials files the AWS SDK's default chain reads (through the
// process environment, so tests using it are not parallel).
type awsWorld struct {
	*cli
	iam *iamtest.IAM
	dir string
}

func newAWSWorld(t *testing.T) *awsWorld {
	t.Helper()
	w := &awsWorld{cli: &cli{backend: "sqlite", dataDir: filepath.Join(t.TempDir(), "data"), env: map[string]string{"ROLEGATE_BASE_URL": testBase}},
		iam: iamtest.New(t), dir: t.TempDir()}
	setAWSEnv(t, w.iam, w.dir, map[string]string{"prod-admin": prodID, "dev-admin": devID, "hub": hubID})
	w.ok(t, "", "account", "add", prodID, "--alias", "prod")
	w.ok(t, "", "account", "add", devID, "--alias", "dev")
	w.ok(t, "", "account", "set", "prod", "--aws-profile", "prod-admin")
	w.ok(t, "", "account", "set", "dev", "--aws-profile", "dev-admin")
	return w
}

// setAWSEnv writes, in dir, the shared config and credentials files the AWS SDK's default chain
// reads, with a profile per name holding stand-in credentials for its account, and points the
// process environment at them (so tests using it are not parallel).
func setAWSEnv(t *testing.T, s *iamtest.IAM, dir string, profiles map[string]string) {
	t.Helper()
	keys := map[string]aws.Credentials{}
	for name, account := range profiles {
		keys[name] = s.Credentials(account)
	}
	setAWSProfiles(t, dir, keys)
}

// setAWSProfiles is setAWSEnv with the credentials of each profile given.
func setAWSProfiles(t *testing.T, dir string, profiles map[string]aws.Credentials) {
	t.Helper()
	var creds, config strings.Builder
	for _, name := range slices.Sorted(maps.Keys(profiles)) {
		k := profiles[name]
		creds.WriteString("[" + name + "]\naws_access_key_id = " + k.AccessKeyID + "\naws_secret_access_key = " + k.SecretAccessKey + "\n")
		config.WriteString("[profile " + name + "]\nregion = eu-west-1\n")
	}
	os.WriteFile(filepath.Join(dir, "credentials"), []byte(creds.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "config"), []byte(config.String()), 0o600)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IAM", "AWS_ENDPOINT_URL_STS", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// aws runs `rolegate aws CMD ... --endpoint-url STAND-IN`.
func (w *awsWorld) aws(args ...string) result {
	return w.run("", append(append([]string{"aws"}, args...), "--endpoint-url", w.iam.URL())...)
}

// writes are the IAM calls so far that change something.
func (w *awsWorld) writes() []iamtest.Call {
	var out []iamtest.Call
	for _, c := range w.iam.Calls() {
		if !strings.HasPrefix(c.Action, "Get") && !strings.HasPrefix(c.Action, "List") && c.Action != "AssumeRole" {
			out = append(out, c)
		}
	}
	return out
}

type accountAWSOut struct {
	ID  string `json:"id"`
	AWS struct {
		AdminProfile string   `json:"admin_profile"`
		AdminRoleARN string   `json:"admin_role_arn"`
		Encrypt      string   `json:"encrypt"`
		IdPID        string   `json:"idp_id"`
		ProviderARN  string   `json:"provider_arn"`
		TrustedCerts []string `json:"trusted_certs"`
		CheckedAt    string   `json:"checked_at"`
	} `json:"aws"`
}

func (w *awsWorld) accounts(t *testing.T) map[string]accountAWSOut {
	t.Helper()
	var list []accountAWSOut
	w.list(t, &list, "account", "list", "--json")
	out := map[string]accountAWSOut{}
	for _, a := range list {
		out[a.ID] = a
	}
	return out
}

// keyFP is the fingerprint of the signing key in state.
func (w *awsWorld) keyFP(t *testing.T, state string) string {
	t.Helper()
	for _, k := range w.keys(t) {
		if k.State == state {
			return k.Fingerprint
		}
	}
	t.Fatalf("no %s signing key", state)
	return ""
}

// admin is an IAM client acting in account, for changing IAM behind Rolegate's back.
func (w *awsWorld) admin(account string) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.iam.URL()),
		Credentials: credentials.StaticCredentialsProvider{Value: w.iam.Credentials(account)}, RetryMaxAttempts: 1})
}

func TestAWSRegisterEveryAccountThenASecondRunChangesNothing(t *testing.T) {
	w := newAWSWorld(t)
	// A dry run first: it says what it would do, and writes nothing to IAM or the store.
	audits := auditCount(t, w.openStore(t))
	r := w.aws("register", "--all", "--dry-run")
	if r.code != 0 || strings.Count(r.stdout, "would be created (dry run: nothing changed)") != 2 || len(w.writes()) != 0 {
		t.Fatalf("dry run: exit %d\n%s%s\nwrites %+v", r.code, r.stdout, r.stderr, w.writes())
	}
	if a := w.accounts(t)[prodID]; a.AWS.ProviderARN != "" || a.AWS.CheckedAt != "" || auditCount(t, w.openStore(t)) != audits {
		t.Fatalf("a dry run recorded %+v or audited", a.AWS)
	}

	out := w.ok(t, "", "aws", "register", "--all", "--endpoint-url", w.iam.URL())
	md := w.ok(t, "", "aws", "metadata")
	cur := w.keyFP(t, "current")
	for id, alias := range map[string]string{prodID: "prod", devID: "dev"} {
		arn := "arn:aws:iam::" + id + ":saml-provider/Rolegate"
		if !strings.Contains(out, alias+" ("+id+"): "+arn+": created\n") {
			t.Errorf("register printed\n%s\nwant %s created", out, arn)
		}
		p, ok := w.iam.Provider(id, "Rolegate")
		if !ok || p.Metadata != md {
			t.Fatalf("IAM in %s holds %v:\n%s", alias, ok, p.Metadata)
		}
		a := w.accounts(t)[id]
		if a.AWS.ProviderARN != arn || a.AWS.IdPID != p.UUID || !slices.Equal(a.AWS.TrustedCerts, []string{cur}) || a.AWS.CheckedAt == "" {
			t.Errorf("account %s records %+v", alias, a.AWS)
		}
	}
	// Each account's provider was made with that account's own credentials (its profile).
	var made []string
	for _, c := range w.writes() {
		if c.Action != "CreateSAMLProvider" || c.Params.Get("Name") != "Rolegate" || c.Params.Get("SAMLMetadataDocument") != md {
			t.Fatalf("unexpected write %+v", c)
		}
		made = append(made, c.Account)
	}
	if slices.Sort(made); !slices.Equal(made, []string{prodID, devID}) {
		t.Fatalf("providers made in %v", made)
	}

	before := len(w.writes())
	out = w.ok(t, "", "aws", "register", "--all", "--endpoint-url", w.iam.URL())
	if strings.Count(out, ": unchanged\n") != 2 || len(w.writes()) != before {
		t.Fatalf("second run printed\n%s\nwrites %+v", out, w.writes()[before:])
	}
	var events []struct {
		Type    string            `json:"type"`
		Details map[string]string `json:"details"`
	}
	w.list(t, &events, "audit", "--json")
	var outcomes []string
	for _, e := range events {
		if e.Type == "aws.register" {
			outcomes = append(outcomes, e.Details["account"]+" "+e.Details["outcome"])
		}
	}
	slices.Sort(outcomes)
	if want := []string{prodID + " created", prodID + " unchanged", devID + " created", devID + " unchanged"}; !slices.Equal(outcomes, want) {
		t.Errorf("audited %q, want %q", outcomes, want)
	}
}

func TestAWSRegisterUploadsTheStagedKeyAndCheckFollowsTheRotation(t *testing.T) {
	w := newAWSWorld(t)
	w.ok(t, "", "aws", "register", "--all", "--endpoint-url", w.iam.URL())
	cur := w.keyFP(t, "current")

	// In sync: exit 0, in words.
	r := w.aws("check", "--all")
	if r.code != 0 || strings.Count(r.stdout, "sign-in works now and will still work after the next rolegate keys rotate step") != 2 {
		t.Fatalf("check in sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A staged key IAM does not know yet: sign-in works, the activation would break it.
	w.ok(t, "", "keys", "rotate")
	next := w.keyFP(t, "next")
	r = w.aws("check", "--account", "prod")
	if r.code == 0 || !strings.Contains(r.stdout, "prod ("+prodID+"): sign-in works now, but would break after the next rolegate keys rotate step") ||
		!strings.Contains(r.stdout, "IAM does not trust the staged key (SHA-256 "+next+")") || !strings.Contains(r.stderr, "prod") {
		t.Fatalf("check with the staged key missing: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if a := w.accounts(t)[prodID]; !slices.Equal(a.AWS.TrustedCerts, []string{cur}) {
		t.Fatalf("check recorded %v", a.AWS.TrustedCerts)
	}

	// register --dry-run says it would add it; register adds it; check is content.
	before := len(w.writes())
	r = w.aws("register", "--account", "prod", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "would be updated metadata (certificates added: "+next+", removed: none)") || len(w.writes()) != before {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := w.ok(t, "", "aws", "register", "--all", "--endpoint-url", w.iam.URL())
	if strings.Count(out, "updated metadata (certificates added: "+next+", removed: none)") != 2 {
		t.Fatalf("register after staging printed\n%s", out)
	}
	if a := w.accounts(t)[prodID]; !slices.Equal(a.AWS.TrustedCerts, []string{cur, next}) {
		t.Fatalf("register recorded %v", a.AWS.TrustedCerts)
	}
	md := w.ok(t, "", "aws", "metadata")
	if p, _ := w.iam.Provider(devID, "Rolegate"); p.Metadata != md {
		t.Fatal("IAM does not hold the metadata with both keys")
	}
	if r := w.aws("check", "--all"); r.code != 0 {
		t.Fatalf("check after the upload: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestAWSCheckVerdicts(t *testing.T) {
	w := newAWSWorld(t)
	w.ok(t, "", "aws", "register", "--all", "--endpoint-url", w.iam.URL())
	ctx := context.Background()
	arn := "arn:aws:iam::" + prodID + ":saml-provider/Rolegate"

	// IAM holding another IdP's metadata (our entity ID, a certificate not ours).
	other := &awsWorld{cli: &cli{backend: "sqlite", dataDir: filepath.Join(t.TempDir(), "other"), env: map[string]string{"ROLEGATE_BASE_URL": testBase}}}
	other.ok(t, "", "migrate")
	foreign := other.ok(t, "", "aws", "metadata")
	if _, err := w.admin(prodID).UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, SAMLMetadataDocument: &foreign}); err != nil {
		t.Fatal(err)
	}
	r := w.aws("check", "--all")
	if r.code == 0 || !strings.Contains(r.stdout, "prod ("+prodID+"): sign-in does not work now") || !strings.Contains(r.stdout, `"Response signature invalid"`) ||
		!strings.Contains(r.stdout, "dev ("+devID+"): sign-in works now and will still work") {
		t.Fatalf("IAM missing the current key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if a := w.accounts(t)[prodID]; slices.Contains(a.AWS.TrustedCerts, w.keyFP(t, "current")) || len(a.AWS.TrustedCerts) != 1 {
		t.Fatalf("check recorded %v", a.AWS.TrustedCerts)
	}

	// Our certificate under another entity ID.
	// (aws metadata refuses to print it: the store pinned testBase.)
	wrong := strings.Replace(w.ok(t, "", "aws", "metadata"), `entityID="`+testBase+`/saml/metadata"`, `entityID="https://old.example.com/saml/metadata"`, 1)
	if _, err := w.admin(prodID).UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, SAMLMetadataDocument: &wrong}); err != nil {
		t.Fatal(err)
	}
	r = w.aws("check", "--account", "prod")
	if r.code == 0 || !strings.Contains(r.stdout, `IAM's metadata names the issuer "https://old.example.com/saml/metadata", Rolegate signs as "`+testBase+`/saml/metadata"`) {
		t.Fatalf("wrong entity ID: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// No provider at all.
	if _, err := w.admin(prodID).DeleteSAMLProvider(ctx, &iam.DeleteSAMLProviderInput{SAMLProviderArn: &arn}); err != nil {
		t.Fatal(err)
	}
	r = w.aws("check", "--account", "prod")
	if r.code == 0 || !strings.Contains(r.stdout, "not registered: IAM has no SAML provider "+arn+"; run rolegate aws register --account prod") {
		t.Fatalf("provider missing: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if a := w.accounts(t)[prodID]; len(a.AWS.TrustedCerts) != 0 || a.AWS.CheckedAt == "" {
		t.Fatalf("check recorded %+v for a missing provider", a.AWS)
	}

	// An IAM error for one account: a clear line, a non-zero exit, and the other account still checked.
	w.ok(t, "", "aws", "register", "--all", "--endpoint-url", w.iam.URL())
	w.iam.FailNext("GetSAMLProvider", "AccessDenied", 403)
	r = w.aws("check", "--all")
	if r.code != exitCodes[store.Internal] || !strings.Contains(r.stdout, "cannot tell: IAM could not be read") || !strings.Contains(r.stdout, "AccessDenied") ||
		strings.Count(r.stdout, "sign-in works now and will still work") != 1 || !strings.Contains(r.stderr, "IAM could not be read for") {
		t.Fatalf("IAM error: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := w.auditedErrors(t, "aws.check", "", "AccessDenied"); n != 1 {
		t.Errorf("%d aws.check events record the IAM error, want 1", n)
	}
}

func TestAWSCredentialsComeFromTheAccountsProfileOrAnAssumedRole(t *testing.T) {
	w := newAWSWorld(t)
	// A profile that does not exist: one clear line, a non-zero exit, the other account still done.
	w.ok(t, "", "account", "set", "dev", "--aws-profile", "nosuch")
	r := w.aws("register", "--all")
	if r.code == 0 || !strings.Contains(r.stdout, "dev ("+devID+"): not registered:") || !strings.Contains(r.stdout, "nosuch") ||
		!strings.Contains(r.stdout, "prod ("+prodID+"): arn:aws:iam::"+prodID+":saml-provider/Rolegate: created") || !strings.Contains(r.stderr, "dev") {
		t.Fatalf("a missing profile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// --profile overrides the account's own.
	r = w.aws("register", "--account", "dev", "--profile", "dev-admin")
	if _, ok := w.iam.Provider(devID, "Rolegate"); r.code != 0 || !ok {
		t.Fatalf("register --profile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Credentials of another account are refused by IAM, and nothing is made with them.
	r = w.aws("register", "--account", "dev", "--profile", "prod-admin")
	if _, ok := w.iam.Provider(prodID, "Rolegate"); r.code == 0 || !strings.Contains(r.stdout, "AccessDenied") {
		t.Fatalf("register with another account's credentials: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	} else if !ok {
		t.Fatal("prod's provider is gone")
	}

	// The hub profile assumes an admin role in prod.
	w.iam.CreateRole(prodID, "RolegateAdmin")
	w.ok(t, "", "account", "set", "prod", "--aws-profile", "hub", "--admin-role-arn", "arn:aws:iam::"+prodID+":role/RolegateAdmin")
	calls := len(w.iam.Calls())
	r = w.aws("register", "--account", "prod")
	if r.code != 0 || !strings.Contains(r.stdout, ": updated metadata") && !strings.Contains(r.stdout, ": unchanged") {
		t.Fatalf("register through the admin role: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	assumed, wrote := false, false
	for _, c := range w.iam.Calls()[calls:] {
		assumed = assumed || c.Action == "AssumeRole" && c.Account == hubID && c.Params.Get("RoleArn") == "arn:aws:iam::"+prodID+":role/RolegateAdmin"
		wrote = wrote || c.Action == "GetSAMLProvider" && c.Account == prodID
	}
	if !assumed || !wrote {
		t.Fatalf("calls %+v: want AssumeRole from the hub, then prod's IAM", w.iam.Calls()[calls:])
	}
	if r := w.aws("check", "--account", "prod"); r.code != 0 {
		t.Fatalf("check through the admin role: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// account list shows the settings; empty values clear them; bad ones are refused.
	if a := w.accounts(t)[prodID]; a.AWS.AdminProfile != "hub" || a.AWS.AdminRoleARN != "arn:aws:iam::"+prodID+":role/RolegateAdmin" || a.AWS.Encrypt != "off" {
		t.Fatalf("account list shows %+v", a.AWS)
	}
	w.ok(t, "", "account", "set", "prod", "--aws-profile", "", "--admin-role-arn", "")
	if a := w.accounts(t)[prodID]; a.AWS.AdminProfile != "" || a.AWS.AdminRoleARN != "" {
		t.Fatalf("after clearing: %+v", a.AWS)
	}
	for _, args := range [][]string{{"--admin-role-arn", "arn:aws:iam::123:role/X"}, {"--admin-role-arn", "arn:aws-cn:iam::" + prodID + ":role/X"}, {"--aws-profile", "bad\nprofile"},
		{"--admin-role-arn", "arn:aws:iam::" + hubID + ":role/RolegateAdmin"}} {
		if r := w.run("", append([]string{"account", "set", "prod"}, args...)...); r.code != 2 {
			t.Errorf("account set %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestAWSCommandsRefuseBadTargets(t *testing.T) {
	w := newAWSWorld(t)
	for _, args := range [][]string{{"register"}, {"register", "--all", "--account", "prod"}, {"check"}} {
		if r := w.aws(args...); r.code != 2 || !strings.Contains(r.stderr, "--account") {
			t.Errorf("aws %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if r := w.aws("check", "--account", "nosuch"); r.code != exitCodes[store.NotFound] {
		t.Errorf("check of an unknown account: exit %d, stderr %q", r.code, r.stderr)
	}
	if len(w.iam.Calls()) != 0 {
		t.Errorf("refused commands called IAM: %+v", w.iam.Calls())
	}
	empty := &cli{backend: "sqlite", dataDir: filepath.Join(t.TempDir(), "data"), env: map[string]string{"ROLEGATE_BASE_URL": testBase}}
	empty.ok(t, "", "migrate")
	if r := empty.run("", "aws", "register", "--all"); r.code != exitCodes[store.NotFound] || !strings.Contains(r.stderr, "no accounts") {
		t.Errorf("register --all with no accounts: exit %d, stderr %q", r.code, r.stderr)
	}
}

// stageEncryptionKey makes a next encryption key for the account, as account set --encrypt and
// --rotate-encryption-key do, and sets the account's encryption mode.
func (w *awsWorld) stageEncryptionKey(t *testing.T, accountID string, mode store.EncryptMode) *store.EncryptionKey {
	t.Helper()
	ctx := context.Background()
	st := w.openStore(t)
	kek, _, err := certs.LoadKEK(w.getenv, w.dataDir, false)
	if err != nil {
		t.Fatal(err)
	}
	k, err := certs.NewEncryptionKey(kek, accountID, "Rolegate encryption", time.Now().UTC(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateEncryptionKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateAccount(ctx, accountID, func(a *store.Account) error { a.AWS.Encrypt = mode; return nil }); err != nil {
		t.Fatal(err)
	}
	return k
}

func (w *awsWorld) encryptionKeys(t *testing.T, accountID string) []*store.EncryptionKey {
	t.Helper()
	keys, err := w.openStore(t).ListEncryptionKeys(context.Background(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestAWSRegisterUploadsAndRotatesEncryptionKeysAddThenRemove(t *testing.T) {
	w := newAWSWorld(t)
	w.ok(t, "", "aws", "register", "--all", "--endpoint-url", w.iam.URL())
	first := w.stageEncryptionKey(t, prodID, store.EncryptRequired)

	// Required with no key in IAM yet: check says sign-in fails now.
	if r := w.aws("check", "--account", "prod"); r.code == 0 || !strings.Contains(r.stdout, "no encryption key has been uploaded") {
		t.Fatalf("check before the upload: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A dry run names the upload and changes nothing.
	before := len(w.writes())
	if r := w.aws("register", "--account", "prod", "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "would be encryption key "+first.ID+" uploaded (mode Required)") ||
		len(w.writes()) != before || w.encryptionKeys(t, prodID)[0].State != store.KeyNext {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	out := w.ok(t, "", "aws", "register", "--account", "prod", "--endpoint-url", w.iam.URL())
	p, _ := w.iam.Provider(prodID, "Rolegate")
	keys := w.encryptionKeys(t, prodID)
	if !strings.Contains(out, "encryption key "+first.ID+" uploaded (mode Required)") || p.EncryptionMode != "Required" || len(p.PrivateKeys) != 1 ||
		len(keys) != 1 || keys[0].State != store.KeyCurrent || keys[0].AWSKeyID != p.PrivateKeys[0].ID {
		t.Fatalf("register printed %q; IAM holds %s %+v; the store %+v", out, p.EncryptionMode, p.PrivateKeys, keys[0])
	}
	kek, _, _ := certs.LoadKEK(w.getenv, w.dataDir, false)
	if want, _ := certs.EncryptionKeyPEM(kek, keys[0]); p.PrivateKeys[0].PEM != want {
		t.Fatal("IAM holds another private key than the account's")
	}
	if a := w.accounts(t)[prodID]; a.AWS.IdPID != p.UUID || a.AWS.Encrypt != "required" {
		t.Fatalf("account records %+v, IAM's provider ID is %s", a.AWS, p.UUID)
	}
	if r := w.aws("check", "--account", "prod"); r.code != 0 {
		t.Fatalf("check after the upload: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if out := w.ok(t, "", "aws", "register", "--account", "prod", "--endpoint-url", w.iam.URL()); !strings.HasSuffix(out, ": unchanged\n") {
		t.Fatalf("a second run printed %q", out)
	}

	// Rotation: the new key is added, then the old one removed in a request of its own.
	second := w.stageEncryptionKey(t, prodID, store.EncryptRequired)
	before = len(w.writes())
	out = w.ok(t, "", "aws", "register", "--account", "prod", "--endpoint-url", w.iam.URL())
	sent := w.writes()[before:]
	if len(sent) != 2 || sent[0].Params.Get("AddPrivateKey") == "" || sent[0].Params.Has("RemovePrivateKey") ||
		sent[1].Params.Get("RemovePrivateKey") != keys[0].AWSKeyID || sent[1].Params.Has("AddPrivateKey") {
		t.Fatalf("rotation sent %+v", sent)
	}
	p, _ = w.iam.Provider(prodID, "Rolegate")
	now := w.encryptionKeys(t, prodID)
	states := map[string]*store.EncryptionKey{}
	for _, k := range now {
		states[k.ID] = k
	}
	if len(p.PrivateKeys) != 1 || states[second.ID].State != store.KeyCurrent || states[second.ID].AWSKeyID != p.PrivateKeys[0].ID ||
		states[first.ID].State != store.KeyRetired || !strings.Contains(out, "retired encryption key "+first.ID+" removed (KeyId "+keys[0].AWSKeyID+")") {
		t.Fatalf("after rotation IAM holds %+v; the store %+v %+v; printed %q", p.PrivateKeys, states[first.ID], states[second.ID], out)
	}
	if r := w.aws("check", "--account", "prod"); r.code != 0 {
		t.Fatalf("check after the rotation: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Encryption off again: register lowers Required to Allowed, as Rolegate now sends plain assertions.
	if _, err := w.openStore(t).UpdateAccount(context.Background(), prodID, func(a *store.Account) error { a.AWS.Encrypt = store.EncryptOff; return nil }); err != nil {
		t.Fatal(err)
	}
	if r := w.aws("check", "--account", "prod"); r.code == 0 || !strings.Contains(r.stdout, "IAM requires encrypted assertions, and encryption is off") {
		t.Fatalf("check with encryption off: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out = w.ok(t, "", "aws", "register", "--account", "prod", "--endpoint-url", w.iam.URL())
	if p, _ := w.iam.Provider(prodID, "Rolegate"); p.EncryptionMode != "Allowed" || !strings.Contains(out, "Required lowered to Allowed") {
		t.Fatalf("register with encryption off: %q; mode %s", out, p.EncryptionMode)
	}
}

func TestAWSCommandsSayInOneLineWhatIsWrongWithTheCredentialsOrTheEndpoint(t *testing.T) {
	w := newAWSWorld(t)
	w.ok(t, "correct horse battery staple\n", "user", "add", "zed", "--password-stdin", "--must-change=false")
	for _, u := range []string{"not a url", "ftp://iam.example.com", "http://[::1", "localhost:4566"} {
		if r := w.run("", "aws", "check", "--all", "--endpoint-url", u); r.code != 2 || !strings.Contains(r.stderr, "invalid --endpoint-url") {
			t.Errorf("aws check --endpoint-url %q: exit %d, stderr %q", u, r.code, r.stderr)
		}
		// Refused before the user is disabled.
		if r := w.run("", "user", "disable", "zed", "--revoke-aws", "--endpoint-url", u); r.code != 2 || strings.Contains(r.stdout, "disabled") {
			t.Errorf("user disable --endpoint-url %q: exit %d, stdout %q", u, r.code, r.stdout)
		}
	}
	if len(w.iam.Calls()) != 0 {
		t.Errorf("refused commands called IAM: %+v", w.iam.Calls())
	}
	w.ok(t, "", "account", "set", "dev", "--aws-profile", "")
	w.ok(t, "", "account", "set", "prod", "--admin-role-arn", "arn:aws:iam::"+prodID+":role/RolegateAdmin")
	r := w.aws("check", "--all")
	for _, want := range []string{
		"dev (" + devID + "): cannot tell: IAM could not be read: account dev: no AWS credentials: none in the environment",
		"prod (" + prodID + "): cannot tell: IAM could not be read: account prod: assuming the admin role arn:aws:iam::" + prodID + ":role/RolegateAdmin: ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check printed\n%s\nwant %q", r.stdout, want)
		}
	}
	if r.code != 1 || strings.Count(r.stdout, "\n") != 2 || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stdout, "IMDS") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestAWSRegisterAllGoesOnPastAnAccountThatFailsAndRecordsNothingForIt(t *testing.T) {
	w := newAWSWorld(t)
	w.iam.FailNext("CreateSAMLProvider", "LimitExceeded", 409) // the first account's create (dev, in alias order)
	r := w.aws("register", "--all")
	if r.code != 1 || !strings.Contains(r.stdout, "dev ("+devID+"): not registered: creating SAML provider Rolegate: ") || !strings.Contains(r.stdout, "LimitExceeded") ||
		!strings.Contains(r.stdout, "prod ("+prodID+"): arn:aws:iam::"+prodID+":saml-provider/Rolegate: created") ||
		r.stderr != "rolegate: 1 of 2 accounts could not be registered: dev\n" {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if a := w.accounts(t)[devID]; a.AWS.ProviderARN != "" || a.AWS.CheckedAt != "" || len(a.AWS.TrustedCerts) != 0 {
		t.Fatalf("dev recorded %+v", a.AWS)
	}
	if _, ok := w.iam.Provider(devID, "Rolegate"); ok {
		t.Fatal("dev has a provider")
	}
	// The failure is audited; the next run registers dev and leaves prod alone.
	if n := w.auditedErrors(t, "aws.register", devID, "LimitExceeded"); n != 1 {
		t.Fatalf("audited %d failures for dev", n)
	}
	out := w.ok(t, "", "aws", "register", "--all", "--endpoint-url", w.iam.URL())
	if !strings.Contains(out, "dev ("+devID+"): arn:aws:iam::"+devID+":saml-provider/Rolegate: created") || !strings.Contains(out, "prod ("+prodID+"): arn:aws:iam::"+prodID+":saml-provider/Rolegate: unchanged") {
		t.Fatalf("second run:\n%s", out)
	}
}

// auditedErrors counts the audit events of type typ (for account, when not "") whose outcome is
// an error that mentions what.
func (w *awsWorld) auditedErrors(t *testing.T, typ, account, what string) int {
	t.Helper()
	var events []struct {
		Type    string            `json:"type"`
		Details map[string]string `json:"details"`
	}
	w.list(t, &events, "audit", "--json")
	n := 0
	for _, e := range events {
		if e.Type == typ && (account == "" || e.Details["account"] == account) && strings.HasPrefix(e.Details["outcome"], "error: ") && strings.Contains(e.Details["outcome"], what) {
			n++
		}
	}
	return n
}
