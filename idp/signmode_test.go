package idp_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

// An account's --sign decides the signatures of the Response the browser posts to AWS: the one the
// mode names verifies with xmlsec1, the other is absent, and AWS (the checker) accepts it.
func TestSignInSignsWhatTheAccountAsks(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	const acs = "https://signin.aws.amazon.com/saml"
	cur, err := w.Ring.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []store.SignMode{store.SignAssertion, store.SignResponse, store.SignBoth} {
		if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.Sign = m; return nil }); err != nil {
			t.Fatal(err)
		}
		p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
		v := assertions.InspectAWS([]byte(p.Response), w.Expect(t, acs))
		if !v.Accepted || v.ResponseSigned != (m != store.SignAssertion) || v.AssertionSigned != (m != store.SignResponse) {
			t.Fatalf("--sign %s: verdict %+v", m, v)
		}
		for xpath, want := range map[string]bool{samltest.ResponseSignature: v.ResponseSigned, samltest.AssertionSignature: v.AssertionSigned} {
			err := samltest.VerifyXMLSec(t, []byte(p.Response), cur.Cert, xpath)
			if want && err != nil {
				t.Errorf("--sign %s: %s: %v", m, xpath, err)
			}
			if !want && err == nil {
				t.Errorf("--sign %s: %s verified, but there should be no such signature", m, xpath)
			}
		}
		if n := strings.Count(p.Response, "<ds:Signature "); n != map[bool]int{true: 2, false: 1}[m == store.SignBoth] {
			t.Errorf("--sign %s: %d signatures", m, n)
		}
	}
}

// The demo checker accepts each mode and says which element carried the signature.
func TestTheDemoCheckerSaysWhatWasSigned(t *testing.T) {
	w := idptest.NewAWSWeb(t, "111122223333")
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	for m, want := range map[store.SignMode]string{
		store.SignBoth:      "the assertion and the response, with",
		store.SignAssertion: "<dd>the assertion, with",
		store.SignResponse:  "the response, which covers the assertion, with",
	} {
		if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.Sign = m; return nil }); err != nil {
			t.Fatal(err)
		}
		p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
		resp, body := b.Do(http.MethodPost, "/debug/aws-signin", map[string][]string{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(p.Response))}})
		if resp.StatusCode != 200 || !strings.Contains(body, "AWS would sign you in") || !strings.Contains(body, want) {
			t.Errorf("--sign %s: %d, want %q in\n%s", m, resp.StatusCode, want, body)
		}
	}
}
