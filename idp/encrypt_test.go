package idp_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

const testIdPID = "A1B2C3D4-0000-1111-2222-333344445555"

// encrypting gives account alias the mode and IdP ID, and a current encryption key when key is
// set, as rolegate account set --encrypt and aws register leave it; it returns the private key.
func encrypting(t *testing.T, w *idptest.AWSWeb, alias string, mode store.EncryptMode, idpID string, key bool) (*rsa.PrivateKey, string) {
	t.Helper()
	ctx := context.Background()
	acct, err := w.Store.UpdateAccount(ctx, alias, func(a *store.Account) error { a.AWS.Encrypt, a.AWS.IdPID = mode, idpID; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !key {
		return nil, ""
	}
	k, err := certs.NewEncryptionKey(w.KEK, acct.ID, "enc "+acct.ID, w.Clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Store.CreateEncryptionKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := w.Store.PromoteEncryptionKey(ctx, k.ID, w.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	priv, _, err := certs.OpenEncryptionKey(w.KEK, k)
	if err != nil {
		t.Fatal(err)
	}
	return priv, k.ID
}

// lastAssertion is the newest assertion audit record.
func lastAssertion(t *testing.T, w *idptest.AWSWeb) *store.AuditEvent {
	t.Helper()
	es, err := w.Store.ListAudit(context.Background(), store.AuditFilter{Types: []string{"assertion"}})
	if err != nil || len(es) == 0 {
		t.Fatalf("no assertion audit record: %v", err)
	}
	last := es[0]
	for _, e := range es {
		if e.ID > last.ID {
			last = e
		}
	}
	return last
}

func TestEncryptedSignInGoesToTheIdPEndpointAndXMLSecDecryptsAndVerifiesIt(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	priv, keyID := encrypting(t, w, "prod", store.EncryptRequired, testIdPID, true)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	const acs = "https://us-east-1.signin.aws.amazon.com/saml/acs/" + testIdPID
	resp, _ := b.Get("/aws/signin?account=prod&role=Admin")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self' https://us-east-1.signin.aws.amazon.com") {
		t.Fatalf("%d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
	if p.Action != acs {
		t.Fatalf("the form posts to %s, not %s", p.Action, acs)
	}
	doc := []byte(p.Response)
	if strings.Contains(p.Response, "role/Admin") || !strings.Contains(p.Response, "EncryptedAssertion") ||
		!strings.Contains(p.Response, `Destination="`+acs+`"`) {
		t.Fatalf("not an encrypted Response to %s:\n%.600s", acs, p.Response)
	}
	cur, err := w.Ring.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := samltest.VerifyXMLSec(t, doc, cur.Cert, samltest.ResponseSignature); err != nil {
		t.Fatalf("the Response signature: %v", err)
	}
	plain, err := samltest.DecryptXMLSec(t, doc, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := samltest.VerifyXMLSec(t, plain, cur.Cert, samltest.AssertionSignature); err != nil {
		t.Fatalf("the decrypted Assertion's signature: %v", err)
	}
	if !strings.Contains(string(plain), `Recipient="`+acs+`"`) || !strings.Contains(string(plain), "arn:aws:iam::111122223333:role/Admin") {
		t.Fatalf("decrypted:\n%s", plain)
	}
	want := w.Expect(t, acs)
	want.Decrypt = []*rsa.PrivateKey{priv}
	if v := assertions.InspectAWS(doc, want); !v.Accepted || v.Encryption == "" {
		t.Fatalf("AWS would refuse it: %+v", v)
	}
	if e := lastAssertion(t, w); e.Result != "ok" || e.Details["encrypted"] != "true" || e.Details["encryption_key"] != keyID || e.Details["acs"] != acs {
		t.Fatalf("audit: %+v", e)
	}
}

func TestEncryptionModesInTheBrowser(t *testing.T) {
	for _, c := range []struct {
		name      string
		mode      store.EncryptMode
		idpID     string
		key       bool
		encrypted bool
		refusal   string // the refusal page says this; "" for a sign-in
	}{
		{name: "off, with a key and an IdP ID: plain and unchanged", mode: store.EncryptOff, idpID: testIdPID, key: true},
		{name: "required without an IdP ID: refused, naming aws register", mode: store.EncryptRequired, key: true,
			refusal: "rolegate aws register --account prod"},
		{name: "required without a key: refused, naming aws register", mode: store.EncryptRequired, idpID: testIdPID,
			refusal: "rolegate aws register --account prod"},
		{name: "allowed without an IdP ID: plain", mode: store.EncryptAllowed, key: true},
		{name: "allowed without a key: plain", mode: store.EncryptAllowed, idpID: testIdPID},
		{name: "allowed with both: encrypted", mode: store.EncryptAllowed, idpID: testIdPID, key: true, encrypted: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := idptest.NewAWSWeb(t)
			encrypting(t, w, "prod", c.mode, c.idpID, c.key)
			b := w.Browser(t)
			b.Login("alice", "correct horse battery")
			if c.refusal != "" {
				resp, body := b.Get("/aws/signin?account=prod&role=Admin")
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, c.refusal) || strings.Contains(body, "SAMLResponse") {
					t.Fatalf("%d:\n%s", resp.StatusCode, body)
				}
				if e := lastAssertion(t, w); !strings.HasPrefix(e.Result, "refused: ") || !strings.Contains(e.Result, "requires encrypted assertions") {
					t.Fatalf("audit: %+v", e)
				}
				return
			}
			p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
			encrypted := strings.Contains(p.Response, "EncryptedAssertion")
			if encrypted != c.encrypted || strings.Contains(p.Response, "<saml:Assertion") == c.encrypted {
				t.Fatalf("encrypted %v, want %v", encrypted, c.encrypted)
			}
			acs := "https://signin.aws.amazon.com/saml"
			if c.encrypted {
				acs = "https://us-east-1.signin.aws.amazon.com/saml/acs/" + testIdPID
			}
			if p.Action != acs {
				t.Fatalf("posts to %s, want %s", p.Action, acs)
			}
			if !c.encrypted {
				if v := assertions.InspectAWS([]byte(p.Response), w.Expect(t, acs)); !v.Accepted {
					t.Fatalf("AWS would refuse the plain Response: %v", v.Problems)
				}
			}
			if e := lastAssertion(t, w); e.Details["encrypted"] != map[bool]string{true: "true", false: "false"}[c.encrypted] {
				t.Fatalf("audit: %+v", e)
			}
		})
	}
}

func TestCommandLineFlowsGetPlainResponsesOrAClearRefusal(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	encrypting(t, w, "prod", store.EncryptAllowed, testIdPID, true)
	resp, body := w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != 200 || strings.Contains(body, "EncryptedAssertion") || !strings.Contains(body, "role/Admin") {
		t.Fatalf("ECP to an account that allows encryption: %d\n%.500s", resp.StatusCode, body)
	}
	if e := lastAssertion(t, w); e.Details["encrypted"] != "false" || e.Details["via"] != "ecp" {
		t.Fatalf("audit: %+v", e)
	}

	encrypting(t, w, "prod", store.EncryptRequired, testIdPID, false) // the key is there already
	resp, body = w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "the command line cannot read the roles in one") ||
		!strings.Contains(body, "rolegate account set prod --encrypt allowed") || strings.Contains(body, "Assertion") {
		t.Fatalf("ECP to an account that requires encryption: %d\n%s", resp.StatusCode, body)
	}
	// Without an account, prod is left out and named with its reason (gov is another partition's).
	resp, body = w.ECP(t, idptest.ECPCall{User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "prod (111122223333): account prod (111122223333) requires encrypted assertions") {
		t.Fatalf("ECP for every account: %d\n%.800s", resp.StatusCode, body)
	}
}

func TestDemoCheckerDecryptsWithTheAccountKey(t *testing.T) {
	w := idptest.NewAWSWebWith(t, func(cfg *idp.Config) {
		cfg.DemoAccounts, cfg.DemoKEK = []string{"111122223333"}, cfg.Secrets.(*certs.KEK)
	})
	encrypting(t, w, "prod", store.EncryptRequired, testIdPID, true)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
	if p.Action != w.Srv.URL+"/debug/aws-signin/acs/"+testIdPID || !strings.Contains(p.Response, "EncryptedAssertion") {
		t.Fatalf("posts to %s:\n%.300s", p.Action, p.Response)
	}
	check := func(path, response string) (int, string) {
		resp, body := b.Do(http.MethodPost, path, url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(response))}})
		return resp.StatusCode, body
	}
	status, body := check("/debug/aws-signin/acs/"+testIdPID, p.Response)
	if status != 200 || !strings.Contains(body, "AWS would sign you in") || !strings.Contains(body, assertions.AlgAES256GCM) ||
		!strings.Contains(body, "arn:aws:iam::111122223333:role/Admin") {
		t.Fatalf("checker: %d\n%s", status, body)
	}
	// Posted where the Recipient does not say, or for an IdP ID no demo account has, it is refused.
	if status, body := check("/debug/aws-signin/acs/OTHER-ID", p.Response); status != 422 || !strings.Contains(body, "no encryption key") {
		t.Fatalf("another IdP ID: %d\n%s", status, body)
	}
	// A rotated key: what was encrypted to the old one no longer decrypts.
	encrypting(t, w, "prod", store.EncryptRequired, testIdPID, true)
	if status, body := check("/debug/aws-signin/acs/"+testIdPID, p.Response); status != 422 || !strings.Contains(body, "does not decrypt") {
		t.Fatalf("after rotation: %d\n%s", status, body)
	}
}

func TestTheEncryptedDemoAccountSignsInThroughTheChecker(t *testing.T) {
	w := idptest.NewAWSWebWith(t, func(cfg *idp.Config) { cfg.DemoAccounts, cfg.DemoKEK = idp.DemoAccounts, cfg.Secrets.(*certs.KEK) })
	ctx := context.Background()
	pw, err := idp.SeedDemo(ctx, w.Store, w.Hasher, w.KEK)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := idp.SeedDemo(ctx, w.Store, w.Hasher, w.KEK); err != nil || again != "" {
		t.Fatalf("a second seed: %q %v", again, err)
	}
	if keys, err := w.Store.ListEncryptionKeys(ctx, idp.DemoEncryptedAccount); err != nil || len(keys) != 1 || keys[0].State != store.KeyCurrent {
		t.Fatalf("the demo's encryption keys after two seeds: %+v %v", keys, err)
	}
	b := w.Browser(t)
	b.Login(idp.DemoUser, pw)
	p := idptest.SignInPost(t, b, "/aws/signin?account=demo-encrypted")
	if p.Action != w.Srv.URL+"/debug/aws-signin/acs/"+idp.DemoIdPID || !strings.Contains(p.Response, "EncryptedAssertion") {
		t.Fatalf("posts to %s:\n%.300s", p.Action, p.Response)
	}
	resp, body := b.Do(http.MethodPost, "/debug/aws-signin/acs/"+idp.DemoIdPID, url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(p.Response))}})
	if resp.StatusCode != 200 || !strings.Contains(body, "AWS would sign you in") || !strings.Contains(body, "decrypted with the account") ||
		!strings.Contains(body, "arn:aws:iam::777788889999:role/DemoReadOnly") {
		t.Fatalf("checker: %d\n%s", resp.StatusCode, body)
	}
}

// TestEncryptedSignInGoesToTheRegionTheLinkAsksFor: a link's region= moves the encrypted endpoint
// (Destination, Recipient, form action and CSP form-action alike) to that region, and nothing
// a link carries turns encryption off for an account that requires it.
func TestEncryptedSignInGoesToTheRegionTheLinkAsksFor(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	priv, _ := encrypting(t, w, "prod", store.EncryptRequired, testIdPID, true)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	const acs = "https://eu-west-1.signin.aws.amazon.com/saml/acs/" + testIdPID
	link := "/aws/signin?account=prod&role=Admin&region=eu-west-1&relay_state=" + url.QueryEscape("https://eu-west-1.console.aws.amazon.com/")
	resp, _ := b.Get(link)
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "form-action 'self' https://eu-west-1.signin.aws.amazon.com;") {
		t.Fatalf("%d, CSP %q", resp.StatusCode, csp)
	}
	p := idptest.SignInPost(t, b, link)
	if p.Action != acs || !strings.Contains(p.Response, `Destination="`+acs+`"`) || strings.Contains(p.Response, "role/Admin") {
		t.Fatalf("posts to %s:\n%.600s", p.Action, p.Response)
	}
	plain, err := samltest.DecryptXMLSec(t, []byte(p.Response), priv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(plain), `Recipient="`+acs+`"`) {
		t.Fatalf("decrypted:\n%s", plain)
	}
	want := w.Expect(t, acs)
	want.Decrypt = []*rsa.PrivateKey{priv}
	if v := assertions.InspectAWS([]byte(p.Response), want); !v.Accepted {
		t.Fatalf("AWS would refuse it: %v", v.Problems)
	}
	for _, q := range []string{"&region=", "&region=us-east-1&role=Admin", "&encrypt=off", "&acs=https://signin.aws.amazon.com/saml"} {
		p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin"+q)
		if !strings.Contains(p.Response, "EncryptedAssertion") || !strings.Contains(p.Action, "/saml/acs/"+testIdPID) {
			t.Fatalf("%s: a plain Response or another endpoint: %s", q, p.Action)
		}
	}
}
