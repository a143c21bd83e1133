package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/awstest/iamtest"
	"rolegate/certs"
	"rolegate/store/sqlstore"
)

// testClock is the time of a rig's CLI and server: time.Now moved on by what the test let pass.
type testClock struct{ ahead atomic.Int64 }

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

// pass lets d pass at once for the CLI and the running server alike.
func (c *testClock) pass(d time.Duration) { c.ahead.Add(int64(d)) }

// rigAccounts are the rig's accounts, alias to ID.
var rigAccounts = map[string]string{"prod": prodAcct, "dev": devAcct}

// newRotationRig is the rig on c's store; the accounts' admin profiles are profile+"-"+alias.
func newRotationRig(t *testing.T, c *cli, s *iamtest.IAM, profile string) *rotationRig {
	t.Helper()
	clock := &testClock{}
	c.clock = clock.now
	c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
	for alias, id := range rigAccounts {
		c.ok(t, "", "account", "add", id, "--alias", alias)
		c.ok(t, "", "account", "set", alias, "--aws-profile", profile+"-"+alias)
		c.ok(t, "", "grant", "add", "--user", "alice", "--account", alias, "--role", "Admin")
	}
	r := &rotationRig{c: c, srv: c.serve(t), st: c.openStore(t), standIn: s, clock: clock}
	t.Cleanup(func() { r.srv.stop(t) })
	r.base = strings.TrimSuffix(entityIDRE.FindStringSubmatch(r.srv.get(t, "/saml/metadata"))[1], "/saml/metadata")
	jar, _ := cookiejar.New(nil)
	r.browser = &http.Client{Jar: jar, Timeout: time.Minute}
	f := hiddenFields(r.page(t, "/login", nil))
	f.Set("username", "alice")
	f.Set("password", goodPassword)
	r.page(t, "/login", f)
	return r
}

// rotationRig is a running `rolegate serve` on one store, with alice signed in to it in a browser
// and granted Admin in prod and dev, whose IAM is the IAM stand-in: a user's `rolegate aws`
// commands reach it with each account's admin profile from the shared config and credentials
// files, and what it holds is what every sign-in is verified against.
type rotationRig struct {
	c       *cli
	srv     *server
	st      *sqlstore.Store
	browser *http.Client
	standIn *iamtest.IAM
	clock   *testClock
	base    string // the server's public URL, as its entity ID names it
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

// aws runs `rolegate aws ARGS` as an admin would: against the stand-in, with the running
// server's public URL.
func (r *rotationRig) aws(args ...string) result {
	return r.c.run("", append(append([]string{"aws"}, args...), "--endpoint-url", r.standIn.URL(), "--base-url", r.base)...)
}

// awsOK runs `rolegate aws ARGS`, which must succeed, and returns its output.
func (r *rotationRig) awsOK(t *testing.T, args ...string) string {
	t.Helper()
	res := r.aws(args...)
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("rolegate aws %s: exit %d\n%s%s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

// idpMetadata is the part of SAML metadata IAM reads: the entity ID and the IdP's key descriptors.
type idpMetadata struct {
	XMLName  xml.Name `xml:"urn:oasis:names:tc:SAML:2.0:metadata EntityDescriptor"`
	EntityID string   `xml:"entityID,attr"`
	Keys     []struct {
		Use   string   `xml:"use,attr"`
		Certs []string `xml:"KeyInfo>X509Data>X509Certificate"`
	} `xml:"IDPSSODescriptor>KeyDescriptor"`
}

// iamHolds reads the metadata account's SAML provider holds in the stand-in, as IAM does, and
// returns its entity ID and signing certificates (key descriptors for signing, or for any use);
// "" and none when there is no provider.
func (r *rotationRig) iamHolds(t *testing.T, account string) (string, []*x509.Certificate) {
	t.Helper()
	p, ok := r.standIn.Provider(account, "Rolegate")
	if !ok {
		return "", nil
	}
	var md idpMetadata
	if err := xml.Unmarshal([]byte(p.Metadata), &md); err != nil {
		t.Fatalf("IAM in %s holds metadata that is not SAML metadata: %v\n%s", account, err, p.Metadata)
	}
	var held []*x509.Certificate
	for _, k := range md.Keys {
		if k.Use != "" && k.Use != "signing" {
			continue
		}
		for _, text := range k.Certs {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
			if err != nil {
				t.Fatalf("IAM in %s holds a certificate that is not base64: %v", account, err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("IAM in %s holds a certificate that does not parse: %v", account, err)
			}
			held = append(held, c)
		}
	}
	return md.EntityID, held
}

// held is the fingerprints of the signing certificates account's IAM holds, sorted.
func (r *rotationRig) held(t *testing.T, account string) []string {
	t.Helper()
	_, held := r.iamHolds(t, account)
	return slices.Sorted(slices.Values(fingerprints(held)))
}

// sorted is fps sorted, to compare with held.
func sorted(fps ...string) []string { return slices.Sorted(slices.Values(fps)) }

// The one-line verdicts of rolegate aws check.
const (
	worksBoth    = "sign-in works now and will still work after the next rolegate keys rotate step"
	worksNowOnly = "sign-in works now, but would break after the next rolegate keys rotate step"
	brokenNow    = "sign-in does not work now"
	unregistered = "sign-in does not work: the account has no SAML provider"
)

// agrees has alice sign in to every account and holds what `rolegate aws check --all` says to
// what happened: sign-in works now exactly when the Response verifies (xmlsec1, and AWS's own
// checks) with only the certificates the account's IAM holds, and it still works after the next
// keys rotate step exactly when, besides, IAM holds the staged key that step would sign with.
// The exit status must be 0 exactly when both hold for every account. It returns, by alias, the
// fingerprint that signed each sign-in ("" when IAM refuses it), and check's output.
func (r *rotationRig) agrees(t *testing.T) (map[string]string, string) {
	t.Helper()
	res := r.aws("check", "--all")
	said := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		if acct, verdict, ok := strings.Cut(l, "): "); ok && !strings.HasPrefix(l, " ") {
			said[acct+")"] = verdict
		}
	}
	next := r.keysByState(t)["next"].Fingerprint
	signers, allWell := map[string]string{}, true
	for _, alias := range slices.Sorted(maps.Keys(rigAccounts)) {
		id := rigAccounts[alias]
		entity, held := r.iamHolds(t, id)
		signer := r.signedBy(t, alias, entity, held)
		signers[alias] = signer
		now := signer != ""
		after := now && (next == "" || slices.Contains(fingerprints(held), next))
		want := worksBoth
		switch {
		case held == nil:
			want = unregistered
		case !now:
			want = brokenNow
		case !after:
			want = worksNowOnly
		}
		allWell = allWell && now && after
		if got := said[alias+" ("+id+")"]; got != want {
			t.Errorf("aws check says %s %q; the sign-in (signed by %q, IAM holding %v, staged key %q) says %q\n%s",
				alias, got, signer, fingerprints(held), next, want, res.stdout)
		}
	}
	if wantCode := map[bool]int{true: 0, false: 6}[allWell]; res.code != wantCode {
		t.Errorf("aws check --all: exit %d, want %d\n%s%s", res.code, wantCode, res.stdout, res.stderr)
	}
	if t.Failed() {
		t.FailNow()
	}
	return signers, res.stdout
}

// everyAccount fails the test unless every account's sign-in was signed by fp.
func everyAccount(t *testing.T, when string, signers map[string]string, fp string) {
	t.Helper()
	for alias, got := range signers {
		if got != fp {
			t.Fatalf("%s, %s's sign-in verifies with %q from its IAM; want %s", when, alias, got, fp)
		}
	}
}

// TestARotationThroughIAMNeverBreaksSignInAndAWSCheckTellsTheTruth runs a whole rotation as a new
// user would, on each backend: a running server, every account registered with IAM (the stand-in)
// by `rolegate aws register --all` through the admin profiles, and at every step a browser sign-in
// to each account verified with only the certificates the account's IAM holds, and `rolegate aws
// check --all` saying exactly that. Only the time the rotation waits is let pass at once.
func TestARotationThroughIAMNeverBreaksSignInAndAWSCheckTellsTheTruth(t *testing.T) {
	// The SDK reads the shared files from the process environment: set once here, for all subtests.
	standIns, creds := map[string]*iamtest.IAM{}, map[string]aws.Credentials{}
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, run := range []string{"rotation", "forced"} {
			s := iamtest.New(t)
			standIns[backend+"-"+run] = s
			for alias, id := range rigAccounts {
				creds[backend+"-"+run+"-"+alias] = s.Credentials(id)
			}
		}
	}
	setAWSProfiles(t, t.TempDir(), creds)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			t.Run("a whole rotation", func(t *testing.T) {
				t.Parallel()
				wholeRotation(t, newRotationRig(t, newCLI(t, backend), standIns[backend+"-rotation"], backend+"-rotation"))
			})
			t.Run("an activation forced before registering", func(t *testing.T) {
				t.Parallel()
				forcedActivation(t, newRotationRig(t, newCLI(t, backend), standIns[backend+"-forced"], backend+"-forced"))
			})
		})
	}
}

func wholeRotation(t *testing.T, r *rotationRig) {
	c := r.c
	k1 := r.keysByState(t)["current"].Fingerprint

	// Nothing registered: IAM refuses every sign-in, and check says so.
	r.agrees(t)

	// Register every account: IAM holds the metadata the server serves, byte for byte.
	out := r.awsOK(t, "register", "--all")
	md := c.ok(t, "", "aws", "metadata", "--base-url", r.base)
	if served := r.srv.get(t, "/saml/metadata"); served != md {
		t.Fatalf("aws metadata prints\n%s\nthe server serves\n%s", md, served)
	}
	for alias, id := range rigAccounts {
		if !strings.Contains(out, alias+" ("+id+"): arn:aws:iam::"+id+":saml-provider/Rolegate: created\n") {
			t.Fatalf("register printed\n%s", out)
		}
		if p, _ := r.standIn.Provider(id, "Rolegate"); p.Metadata != md {
			t.Fatalf("IAM in %s holds\n%s", alias, p.Metadata)
		}
	}
	signers, _ := r.agrees(t)
	everyAccount(t, "before the rotation", signers, k1)
	keys := r.keysByState(t)
	if cur := keys["current"]; len(cur.TrustedBy) != 2 || len(cur.NotTrustedBy)+len(cur.Unchecked) != 0 || cur.TrustedBy[0].CheckedAt.IsZero() {
		t.Fatalf("keys list: the current key is trusted by %+v, not by %+v, unchecked %+v; want both accounts, with the time", cur.TrustedBy, cur.NotTrustedBy, cur.Unchecked)
	}

	// Stage: published, not signing; IAM lacks it, so check warns of the next step.
	if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "staged next signing key") || !strings.Contains(out, "rolegate aws register --all") {
		t.Fatalf("the first rotate printed %q", out)
	}
	keys = r.keysByState(t)
	k2 := keys["next"].Fingerprint
	if keys["current"].Fingerprint != k1 || k2 == "" || len(keys["next"].TrustedBy) != 0 || len(keys["next"].NotTrustedBy) != 2 {
		t.Fatalf("keys after staging: %+v", keys)
	}
	r.clock.pass(certs.DefaultRefresh)
	r.metadataShows(t, k1, k2)
	signers, said := r.agrees(t)
	everyAccount(t, "after staging", signers, k1)
	if strings.Count(said, "IAM does not trust the staged key (SHA-256 "+k2+")") != 2 {
		t.Fatalf("check does not name the staged key for each account:\n%s", said)
	}

	// Activation is refused while an account's IAM lacks the staged key, and names each such account.
	line := c.failsWith(t, 6, "keys", "rotate")
	for _, s := range []string{keys["next"].ID, "prod (" + prodAcct, "dev (" + devAcct, "`rolegate aws register --all` then `rolegate aws check --all`"} {
		if !strings.Contains(line, s) {
			t.Errorf("the refusal %q does not say %q", line, s)
		}
	}
	if out := r.awsOK(t, "register", "--account", "prod"); !strings.Contains(out, "updated metadata (certificates added: "+k2+", removed: none)") {
		t.Fatalf("register --account prod printed\n%s", out)
	}
	if line := c.failsWith(t, 6, "keys", "rotate"); !strings.Contains(line, "dev (") || strings.Contains(line, "prod (") {
		t.Errorf("with only dev lacking the key the refusal says %q", line)
	}
	if got := r.keysByState(t); got["next"].Fingerprint != k2 || got["current"].Fingerprint != k1 {
		t.Fatalf("a refused activation changed the keys: %+v", got)
	}
	out = r.awsOK(t, "register", "--all")
	if !strings.Contains(out, "prod ("+prodAcct+"): arn:aws:iam::"+prodAcct+":saml-provider/Rolegate: unchanged\n") ||
		!strings.Contains(out, "dev ("+devAcct+"): arn:aws:iam::"+devAcct+":saml-provider/Rolegate: updated metadata (certificates added: "+k2+", removed: none)\n") {
		t.Fatalf("register --all after staging printed\n%s", out)
	}
	for _, id := range rigAccounts {
		if got := r.held(t, id); !slices.Equal(got, sorted(k1, k2)) {
			t.Fatalf("IAM in %s holds %v after registering; want both keys", id, got)
		}
	}
	signers, _ = r.agrees(t)
	everyAccount(t, "with both keys registered", signers, k1)

	// Activate: the staged key signs; the old one stays published and in IAM.
	out = c.ok(t, "", "keys", "rotate")
	if !strings.Contains(out, "activated signing key "+keys["next"].ID) || strings.Contains(out, "forced") {
		t.Fatalf("the second rotate printed %q", out)
	}
	keys = r.keysByState(t)
	if keys["current"].Fingerprint != k2 || keys["previous"].Fingerprint != k1 || len(keys["current"].TrustedBy) != 2 {
		t.Fatalf("keys after activation: %+v", keys)
	}
	r.agrees(t) // the server may still sign with either key until it rereads them: IAM trusts both
	if line := c.failsWith(t, 6, "keys", "rotate"); !strings.Contains(line, "may still sign") {
		t.Errorf("an early retirement says %q", line)
	}
	r.clock.pass(certs.DefaultSettle)
	signers, _ = r.agrees(t)
	everyAccount(t, "once the server has reread the keys", signers, k2)
	r.metadataShows(t, k2, k1)

	// Retire: the old key leaves the metadata; IAM still trusts it, harmlessly, until registered.
	if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "retired signing key "+keys["previous"].ID) {
		t.Fatalf("the third rotate printed %q", out)
	}
	r.clock.pass(certs.DefaultRefresh)
	r.metadataShows(t, k2)
	for _, id := range rigAccounts {
		if got := r.held(t, id); !slices.Equal(got, sorted(k1, k2)) {
			t.Fatalf("IAM in %s holds %v before registering the retirement", id, got)
		}
	}
	signers, _ = r.agrees(t)
	everyAccount(t, "after the retirement", signers, k2)
	out = r.awsOK(t, "register", "--all")
	if strings.Count(out, "updated metadata (certificates added: none, removed: "+k1+")") != 2 {
		t.Fatalf("register --all after the retirement printed\n%s", out)
	}
	for _, id := range rigAccounts {
		if got := r.held(t, id); !slices.Equal(got, []string{k2}) {
			t.Fatalf("IAM in %s holds %v after registering the retirement; want only %s", id, got, k2)
		}
	}
	signers, _ = r.agrees(t)
	everyAccount(t, "with the retired key gone from IAM", signers, k2)

	// A fourth rotate stages again; every step was audited, none forced.
	if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "staged next signing key") {
		t.Fatalf("the fourth rotate printed %q", out)
	}
	if keys = r.keysByState(t); keys["current"].Fingerprint != k2 || keys["next"].Fingerprint == "" || keys["next"].Fingerprint == k1 {
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
}

func forcedActivation(t *testing.T, r *rotationRig) {
	c := r.c
	r.awsOK(t, "register", "--all")
	k1 := r.keysByState(t)["current"].Fingerprint
	c.ok(t, "", "keys", "rotate")
	k2 := r.keysByState(t)["next"].Fingerprint
	r.agrees(t)

	out := c.ok(t, "", "keys", "rotate", "--force")
	if !strings.Contains(out, "forced: sign-in will fail for ") || !strings.Contains(out, "prod ("+prodAcct+")") || !strings.Contains(out, "dev ("+devAcct+")") {
		t.Fatalf("rotate --force printed %q", out)
	}
	// Once the server has reread the keys, IAM, holding only the old key, refuses every sign-in;
	// check says sign-in is broken now, and why.
	r.clock.pass(certs.DefaultRefresh)
	signers, said := r.agrees(t)
	everyAccount(t, "after a forced activation", signers, "")
	if strings.Count(said, "IAM does not trust the key Rolegate signs with (SHA-256 "+k2+")") != 2 {
		t.Fatalf("check does not say IAM lacks the signing key:\n%s", said)
	}
	for _, id := range rigAccounts {
		if got := r.held(t, id); !slices.Equal(got, []string{k1}) {
			t.Fatalf("IAM in %s holds %v; want only %s", id, got, k1)
		}
	}
	// Registering mends it.
	r.awsOK(t, "register", "--all")
	signers, _ = r.agrees(t)
	everyAccount(t, "after registering the forced key", signers, k2)
}
