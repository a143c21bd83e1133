package ststest_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/awstest/ststest"
	"rolegate/certs"
	"rolegate/store"
)

// idp is a minimal IdP: a signing key and the metadata that publishes it.
type idp struct {
	srv    *httptest.Server
	signer assertions.Signer
}

func newIdP(t *testing.T) *idp {
	t.Helper()
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	sk, err := certs.NewSigningKey(kek, 2048, "ststest", time.Now(), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := certs.Open(kek, sk)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{signer: assertions.Signer{Key: key.Signer, Cert: key.Cert}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		md, err := assertions.Metadata(assertions.MetadataInput{BaseURL: p.srv.URL, SigningCerts: []*x509.Certificate{key.Cert}})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(md)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// response is a signed Response for two roles of one account, issued at now.
func (p *idp) response(t *testing.T, now time.Time, s assertions.Signer) string {
	t.Helper()
	return p.responseTo(t, now, s, "https://signin.aws.amazon.com/saml")
}

// responseTo is a Response addressed to the sign-in endpoint acs.
func (p *idp) responseTo(t *testing.T, now time.Time, s assertions.Signer, acs string) string {
	t.Helper()
	return p.signedAs(t, now, s, acs, store.SignBoth)
}

// signedAs is a Response with the signatures that mode asks for.
func (p *idp) signedAs(t *testing.T, now time.Time, s assertions.Signer, acs string, mode store.SignMode) string {
	t.Helper()
	prov := "arn:aws:iam::111122223333:saml-provider/Rolegate"
	xml, err := assertions.BuildAWS(&assertions.AWSResponse{BaseURL: p.srv.URL, ACS: acs, NameID: "subject-1",
		Roles:       []assertions.RolePair{{RoleARN: "arn:aws:iam::111122223333:role/Admin", ProviderARN: prov}, {RoleARN: "arn:aws:iam::111122223333:role/ReadOnly", ProviderARN: prov}},
		SessionName: "alice", AuthnInstant: now, Now: now, ResponseID: "_r1", AssertionID: "_a1", Sign: mode}, s)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(xml)
}

func TestTheStandInAnswersThroughItsProxyLikeSTSAndTheSignInPage(t *testing.T) {
	p := newIdP(t)
	sts := ststest.New(t, ststest.Config{MetadataURL: p.srv.URL})
	proxy, _ := url.Parse(sts.ProxyURL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: sts.CAPool}}}
	post := func(u string, form url.Values, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	assume := func(saml string) (int, string) {
		return post("https://sts.amazonaws.com/", url.Values{"Action": {"AssumeRoleWithSAML"}, "Version": {"2011-06-15"},
			"RoleArn": {"arn:aws:iam::111122223333:role/Admin"}, "PrincipalArn": {"arn:aws:iam::111122223333:saml-provider/Rolegate"},
			"SAMLAssertion": {saml}, "DurationSeconds": {"3600"}})
	}

	status, body := assume(p.response(t, time.Now(), p.signer))
	calls := sts.Calls()
	if status != 200 || len(calls) != 1 || !strings.Contains(body, "<AccessKeyId>"+calls[0].AccessKeyID+"</AccessKeyId>") ||
		!strings.Contains(body, "<Arn>arn:aws:sts::111122223333:assumed-role/Admin/alice</Arn>") {
		t.Fatalf("%d %+v\n%s", status, calls, body)
	}
	// GetCallerIdentity knows the issued key, and only it.
	who := func(akid string) (int, string) {
		return post("https://sts.us-east-1.amazonaws.com/", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}},
			"Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20261130/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
	}
	if status, body = who(calls[0].AccessKeyID); status != 200 || !strings.Contains(body, "<Account>111122223333</Account>") {
		t.Fatalf("GetCallerIdentity: %d\n%s", status, body)
	}
	if status, body = who("ASIAFORGED00000000"); status != 403 || !strings.Contains(body, "<Code>InvalidClientTokenId</Code>") {
		t.Fatalf("GetCallerIdentity with a forged key: %d\n%s", status, body)
	}
	// The sign-in page lists the roles the way saml2aws scrapes them.
	status, body = post("https://signin.aws.amazon.com/saml", url.Values{"SAMLResponse": {p.response(t, time.Now(), p.signer)}})
	if status != 200 || strings.Count(body, `<div class="saml-account">`) != 1 || !strings.Contains(body, `<label for="arn:aws:iam::111122223333:role/ReadOnly"`) {
		t.Fatalf("sign-in page: %d\n%s", status, body)
	}

	// What STS refuses.
	other := newIdP(t)
	for _, c := range []struct {
		name, saml, code string
	}{
		{"a Response signed by a key the metadata does not publish", p.response(t, time.Now(), other.signer), "InvalidIdentityToken"},
		{"an expired Response", p.response(t, time.Now().Add(-time.Hour), p.signer), "ExpiredTokenException"},
		{"a Response that is not base64", "%%%", "InvalidIdentityToken"},
		{"a Response addressed to another partition's sign-in endpoint", p.responseTo(t, time.Now(), p.signer, "https://signin.amazonaws-us-gov.com/saml"), "InvalidIdentityToken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, body := assume(c.saml); status != 400 || !strings.Contains(body, "<Code>"+c.code+"</Code>") || !strings.Contains(body, "<ErrorResponse") {
				t.Fatalf("%d\n%s", status, body)
			}
		})
	}
	// The proxy reaches AWS's hosts only.
	resp, err := client.Get("https://example.com/")
	if err == nil {
		resp.Body.Close()
		t.Fatal("the proxy connected to example.com")
	}
}

// Every --sign mode makes a Response the stand-in, like AWS, takes: one signature over the Assertion
// is enough, whichever element carries it.
func TestTheStandInTakesEachSignMode(t *testing.T) {
	p := newIdP(t)
	sts := ststest.New(t, ststest.Config{MetadataURL: p.srv.URL})
	proxy, _ := url.Parse(sts.ProxyURL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: sts.CAPool}}}
	assume := func(saml string) (int, string) {
		t.Helper()
		resp, err := client.PostForm("https://sts.amazonaws.com/", url.Values{"Action": {"AssumeRoleWithSAML"}, "Version": {"2011-06-15"},
			"RoleArn": {"arn:aws:iam::111122223333:role/Admin"}, "PrincipalArn": {"arn:aws:iam::111122223333:saml-provider/Rolegate"},
			"SAMLAssertion": {saml}, "DurationSeconds": {"3600"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, m := range []store.SignMode{store.SignBoth, store.SignAssertion, store.SignResponse} {
		if status, body := assume(p.signedAs(t, time.Now(), p.signer, "https://signin.aws.amazon.com/saml", m)); status != 200 ||
			!strings.Contains(body, "<Arn>arn:aws:sts::111122223333:assumed-role/Admin/alice</Arn>") {
			t.Errorf("--sign %s: %d\n%s", m, status, body)
		}
	}
	// Neither signed: refused.
	raw, err := base64.StdEncoding.DecodeString(p.signedAs(t, time.Now(), p.signer, "https://signin.aws.amazon.com/saml", store.SignResponse))
	if err != nil {
		t.Fatal(err)
	}
	i, j := strings.Index(string(raw), "<ds:Signature"), strings.Index(string(raw), "</ds:Signature>")
	unsigned := string(raw[:i]) + string(raw[j+len("</ds:Signature>"):])
	if status, body := assume(base64.StdEncoding.EncodeToString([]byte(unsigned))); status != 400 || !strings.Contains(body, "InvalidIdentityToken") {
		t.Errorf("an unsigned Response: %d\n%s", status, body)
	}
}
