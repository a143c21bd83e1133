package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/certs"
	"rolegate/store"
	"rolegate/store/sqlstore"
)

// rotationRig is a running `rolegate serve` on one store, alice signed in to it in a browser, and
// a test IAM per account: the certificates each account's SAML provider holds, as the last
// registration uploaded them from the metadata.
type rotationRig struct {
	c       *cli
	srv     *server
	st      *sqlstore.Store
	browser *http.Client
	iam     map[string][]*x509.Certificate // by account ID
}

const (
	prodAcct = "111122223333"
	devAcct  = "444455556666"
)

func newRotationRig(t *testing.T, c *cli) *rotationRig {
	t.Helper()
	c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin")
	c.ok(t, "", "account", "add", prodAcct, "--alias", "prod")
	c.ok(t, "", "account", "add", devAcct, "--alias", "dev")
	c.ok(t, "", "grant", "add", "--user", "alice", "--account", "prod", "--role", "Admin")
	r := &rotationRig{c: c, srv: c.serve(t), st: c.openStore(t), iam: map[string][]*x509.Certificate{}}
	t.Cleanup(func() { r.srv.stop(t) })
	jar, _ := cookiejar.New(nil)
	r.browser = &http.Client{Jar: jar, Timeout: time.Minute}
	f := hiddenFields(r.page(t, "/login", nil))
	f.Set("username", "alice")
	f.Set("password", goodPassword)
	r.page(t, "/login", f)
	return r
}

// page GETs path, or POSTs form to it, in alice's browser and returns the body.
func (r *rotationRig) page(t *testing.T, path string, form url.Values) string {
	t.Helper()
	var res *http.Response
	var err error
	if form == nil {
		res, err = r.browser.Get(r.srv.url + path)
	} else {
		res, err = r.browser.PostForm(r.srv.url+path, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hiddenFields(page string) url.Values {
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// keysByState is `keys list --json` by state.
func (r *rotationRig) keysByState(t *testing.T) map[string]keyJSON {
	t.Helper()
	var list []keyJSON
	r.c.list(t, &list, "keys", "list", "--json")
	out := map[string]keyJSON{}
	for _, k := range list {
		if k.State != "retired" {
			out[k.State] = k
		}
	}
	return out
}

// metadataShows waits until the server's metadata lists exactly the certificates of want (servers
// reread the keys every certs.DefaultRefresh) and returns the metadata.
func (r *rotationRig) metadataShows(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(3 * certs.DefaultRefresh)
	for {
		md := r.srv.get(t, "/saml/metadata")
		got := metadataCerts(t, md)
		if slices.Equal(got, want) {
			return md
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server's metadata lists %v after %s; want %v", got, 3*certs.DefaultRefresh, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// register is what rolegate aws register then aws check do for account, as far as keys go: its
// IAM takes the certificates of the metadata, and the store records their fingerprints.
func (r *rotationRig) register(t *testing.T, account, metadata string) {
	t.Helper()
	held := metadataX509(t, metadata)
	r.iam[account] = held
	if _, err := r.st.UpdateAccount(context.Background(), account, func(a *store.Account) error {
		a.AWS.TrustedCerts = fingerprints(held)
		a.AWS.CheckedAt = time.Now().UTC()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

var (
	entityIDRE   = regexp.MustCompile(`entityID="([^"]+)"`)
	awsFormRE    = regexp.MustCompile(`<form method="post" action="([^"]*)" id="aws-form">`)
	samlRespRE   = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
	prodACS      = "https://signin.aws.amazon.com/saml"
	responseSigs = []string{samltest.ResponseSignature, samltest.AssertionSignature}
)

func fingerprints(cs []*x509.Certificate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, certs.Fingerprint(c))
	}
	return out
}

// signIn has alice sign in to prod as Admin (IdP-initiated) and checks the Response as prod's IAM
// would, with only the certificates it holds. It returns the fingerprint of the key that signed.
func (r *rotationRig) signIn(t *testing.T) string {
	t.Helper()
	md := r.srv.get(t, "/saml/metadata")
	held := r.iam[prodAcct]
	signer := r.signedBy(t, "prod", entityIDRE.FindStringSubmatch(md)[1], held)
	if signer == "" {
		t.Fatalf("xmlsec1 verifies the Response with none of the certificates prod's IAM holds: %v", fingerprints(held))
	}
	return signer
}

// signedBy has alice sign in to account as Admin (IdP-initiated) and checks the Response as an
// IAM holding only the certificates held for the entity ID would. It returns the fingerprint of
// the one held certificate with which xmlsec1 verifies both signatures, or "" when none does; it
// fails the test when AWS's checks (InspectAWS) disagree with xmlsec1.
func (r *rotationRig) signedBy(t *testing.T, account, entityID string, held []*x509.Certificate) string {
	t.Helper()
	body := r.page(t, "/aws/signin?account="+account+"&role=Admin", nil)
	a, s := awsFormRE.FindStringSubmatch(body), samlRespRE.FindStringSubmatch(body)
	if a == nil || s == nil || html.UnescapeString(a[1]) != prodACS {
		t.Fatalf("no auto-POST form to %s:\n%s", prodACS, body)
	}
	resp, err := base64.StdEncoding.DecodeString(html.UnescapeString(s[1]))
	if err != nil {
		t.Fatal(err)
	}
	// xmlsec1, trusting one held certificate at a time: at most one verifies both signatures.
	signer := ""
	for _, cert := range held {
		var errs []error
		for _, xpath := range responseSigs {
			if err := samltest.VerifyXMLSec(t, resp, cert, xpath); err != nil {
				errs = append(errs, err)
			}
		}
		switch {
		case len(errs) == 0 && signer == "":
			signer = certs.Fingerprint(cert)
		case len(errs) == 0:
			t.Fatalf("xmlsec1 verifies the Response with two certificates: %s and %s", signer, certs.Fingerprint(cert))
		case len(errs) < len(responseSigs):
			t.Fatalf("xmlsec1 verifies one signature but not the other with %s: %v", certs.Fingerprint(cert), errs)
		}
	}
	v := assertions.InspectAWS(resp, assertions.Expect{EntityID: entityID, ACS: prodACS, Certs: held, Now: time.Now()})
	switch {
	case signer != "" && !v.Accepted:
		t.Fatalf("xmlsec1 verifies the Response with %s, yet an IAM holding %v refuses it: %v", signer, fingerprints(held), v.Problems)
	case signer == "" && (v.Accepted || len(v.Problems) == 0 || !strings.Contains(v.Problems[0], "signature")):
		t.Fatalf("xmlsec1 verifies the Response with none of %v, yet an IAM holding them accepts it or refuses it for another reason: %v", fingerprints(held), v.Problems)
	}
	return signer
}

// refusedBy is an IAM holding only cert: the Response of a sign-in must not verify.
func (r *rotationRig) refusedBy(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	if signer := r.signedBy(t, "prod", "ignored", []*x509.Certificate{cert}); signer != "" {
		t.Fatalf("xmlsec1 verifies the Response with %s, a key that does not sign", signer)
	}
}

// certOf returns the certificate of fingerprint fp in the metadata.
func certOf(t *testing.T, metadata, fp string) *x509.Certificate {
	t.Helper()
	for _, c := range metadataX509(t, metadata) {
		if certs.Fingerprint(c) == fp {
			return c
		}
	}
	t.Fatalf("the metadata has no certificate %s", fp)
	return nil
}

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

// TestAWholeRotationNeverBreaksSignIn runs a rotation as the README's runbook does, with a server
// running throughout and alice signing in to prod before, during and after each step; prod's IAM
// verifies every Response with only the certificates its last registration uploaded.
func TestAWholeRotationNeverBreaksSignIn(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		r := newRotationRig(t, c)
		k1 := r.keysByState(t)["current"].Fingerprint

		// Before: both accounts registered with the one key.
		md := r.metadataShows(t, k1)
		r.register(t, prodAcct, md)
		r.register(t, devAcct, md)
		if got := r.signIn(t); got != k1 {
			t.Fatalf("before the rotation the sign-in is signed by %s; want %s", got, k1)
		}
		keys := r.keysByState(t)
		if cur := keys["current"]; len(cur.TrustedBy) != 2 || len(cur.NotTrustedBy)+len(cur.Unchecked) != 0 || cur.TrustedBy[0].CheckedAt.IsZero() {
			t.Fatalf("keys list: the current key is trusted by %+v, not by %+v, unchecked %+v; want both accounts, with the time", cur.TrustedBy, cur.NotTrustedBy, cur.Unchecked)
		}

		// Stage: published, not signing.
		if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "staged next signing key") || !strings.Contains(out, "rolegate aws register --all") {
			t.Fatalf("the first rotate printed %q", out)
		}
		keys = r.keysByState(t)
		k2 := keys["next"].Fingerprint
		if keys["current"].Fingerprint != k1 || k2 == "" || len(keys["next"].TrustedBy) != 0 || len(keys["next"].NotTrustedBy) != 2 {
			t.Fatalf("keys after staging: %+v", keys)
		}
		md = r.metadataShows(t, k1, k2)
		if got := r.signIn(t); got != k1 {
			t.Fatalf("after staging the sign-in is signed by %s; want the current %s", got, k1)
		}
		r.refusedBy(t, certOf(t, md, k2))

		// Activation is refused while prod's IAM lacks the next key, and names each account.
		line := c.failsWith(t, 6, "keys", "rotate")
		for _, s := range []string{keys["next"].ID, "prod (" + prodAcct, "dev (" + devAcct, "`rolegate aws register --all` then `rolegate aws check --all`"} {
			if !strings.Contains(line, s) {
				t.Errorf("the refusal %q does not say %q", line, s)
			}
		}
		r.register(t, prodAcct, md)
		if line := c.failsWith(t, 6, "keys", "rotate"); !strings.Contains(line, "dev (") || strings.Contains(line, "prod (") {
			t.Errorf("with only dev lacking the key the refusal says %q", line)
		}
		if got := r.keysByState(t); got["next"].Fingerprint != k2 || got["current"].Fingerprint != k1 {
			t.Fatalf("a refused activation changed the keys: %+v", got)
		}
		if got := r.signIn(t); got != k1 {
			t.Fatalf("after prod's registration the sign-in is signed by %s; want %s", got, k1)
		}
		r.register(t, devAcct, md)

		// Activate: the next key signs; the old one stays published.
		out := c.ok(t, "", "keys", "rotate")
		activated := time.Now()
		if !strings.Contains(out, "activated signing key "+keys["next"].ID) || strings.Contains(out, "forced") {
			t.Fatalf("the second rotate printed %q", out)
		}
		keys = r.keysByState(t)
		if keys["current"].Fingerprint != k2 || keys["previous"].Fingerprint != k1 || len(keys["current"].TrustedBy) != 2 {
			t.Fatalf("keys after activation: %+v", keys)
		}
		// Retiring at once is refused: servers may still sign with the previous key.
		if line := c.failsWith(t, 6, "keys", "rotate"); !strings.Contains(line, "may still sign") {
			t.Errorf("an early retirement says %q", line)
		}
		// The running server switches within its refresh; every sign-in meanwhile verifies.
		for deadline := time.Now().Add(3 * certs.DefaultRefresh); r.signIn(t) != k2; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the server still signs with the previous key %s after %s", k1, 3*certs.DefaultRefresh)
			}
		}
		md = r.metadataShows(t, k2, k1)
		r.refusedBy(t, certOf(t, md, k1))

		// Retire: the previous key leaves the metadata; IAM then drops it.
		time.Sleep(time.Until(activated.Add(certs.DefaultSettle)))
		if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "retired signing key "+keys["previous"].ID) {
			t.Fatalf("the third rotate printed %q", out)
		}
		md = r.metadataShows(t, k2)
		if got := r.signIn(t); got != k2 {
			t.Fatalf("after retirement the sign-in is signed by %s; want %s", got, k2)
		}
		r.register(t, prodAcct, md)
		if got := r.signIn(t); got != k2 || len(r.iam[prodAcct]) != 1 {
			t.Fatalf("after the last registration the sign-in is signed by %s with IAM holding %v", got, fingerprints(r.iam[prodAcct]))
		}

		// A fourth rotate stages again.
		if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "staged next signing key") {
			t.Fatalf("the fourth rotate printed %q", out)
		}
		keys = r.keysByState(t)
		if keys["current"].Fingerprint != k2 || keys["next"].Fingerprint == "" || keys["next"].Fingerprint == k1 {
			t.Fatalf("keys after the fourth rotate: %+v", keys)
		}
		for _, typ := range []string{"keys.staged", "keys.activated", "keys.retired"} {
			for _, d := range auditDetails(t, r.st, typ) {
				if d["forced"] != "" || d["fingerprint"] == "" || d["via"] != "cli" {
					t.Errorf("%s audited as %v; want unforced, with the fingerprint", typ, d)
				}
			}
		}
		if n := len(auditDetails(t, r.st, "keys.staged")); n != 2 {
			t.Errorf("%d keys.staged events; want 2", n)
		}
	})
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
	c.ok(t, "", "keys", "rotate")
	if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "activated") {
		t.Fatalf("with no account to break, rotate printed %q", out)
	}
}
