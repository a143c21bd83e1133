package sso_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/sso"
	"rolegate/store"
)

const (
	testSPEntityID = "https://sp.example.com/saml/metadata"
	testSPACS      = "https://sp.example.com/saml/acs"
	ssoPassword    = "correct horse battery"
)

// ssoWeb is an awsWeb (alice, in group devs, with an email) whose store also registers a crewjam
// ServiceProvider that trusts the IdP's metadata from GET /saml/metadata.
type ssoWeb struct {
	*idptest.AWSWeb
	sp    *saml.ServiceProvider
	alice *store.User
}

// newSSOWeb builds the fixture; with encrypt, the SP has a key, so its metadata asks for encrypted
// assertions.
func newSSOWeb(t *testing.T, encrypt bool) *ssoWeb {
	t.Helper()
	return newSSOWebOn(t, idptest.NewAWSWeb(t), encrypt)
}

// newSSOWebOn is newSSOWeb over an AWS fixture made elsewhere.
func newSSOWebOn(t *testing.T, aws *idptest.AWSWeb, encrypt bool) *ssoWeb {
	t.Helper()
	w := &ssoWeb{AWSWeb: aws}
	ctx := context.Background()
	var err error
	w.alice, err = w.Store.UpdateUser(ctx, "alice", func(u *store.User) error { u.DisplayName = "Alice Example"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	w.sp = newTestSP(t, w, testSPEntityID, testSPACS, encrypt)
	md, err := xml.MarshalIndent(w.sp.Metadata(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sso.ParseSPMetadata(md); err != nil {
		t.Fatalf("the test SP's metadata is refused: %v\n%s", err, md)
	}
	if err := w.Store.CreateServiceProvider(ctx, &store.ServiceProvider{EntityID: testSPEntityID, Metadata: md, Release: store.ReleaseAttrs}); err != nil {
		t.Fatal(err)
	}
	return w
}

// noAssertionIssued checks that the audit log records no issued assertion.
func (w *ssoWeb) noAssertionIssued(t *testing.T) {
	t.Helper()
	if got := w.AuditOf(t, "assertion"); len(got) != 0 {
		t.Errorf("assertions issued: %q", got)
	}
}

// nameID is the user's pairwise NameID for the SP, as the store keeps it.
func (w *ssoWeb) nameID(t *testing.T, u *store.User, entityID string) string {
	t.Helper()
	v, err := w.Store.PairwiseNameID(context.Background(), u.ID, entityID)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newTestSP is a crewjam SP with the given entity ID and ACS, trusting the IdP's published metadata.
func newTestSP(t *testing.T, w *ssoWeb, entityID, acs string, withKey bool) *saml.ServiceProvider {
	t.Helper()
	resp, err := http.Get(w.Srv.URL + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /saml/metadata: %d %v", resp.StatusCode, err)
	}
	var idpMD saml.EntityDescriptor
	if err := xml.Unmarshal(raw, &idpMD); err != nil {
		t.Fatal(err)
	}
	mdURL, _ := url.Parse(entityID)
	acsURL, _ := url.Parse(acs)
	sp := &saml.ServiceProvider{EntityID: entityID, MetadataURL: *mdURL, AcsURL: *acsURL, IDPMetadata: &idpMD,
		AuthnNameIDFormat: saml.PersistentNameIDFormat}
	if withKey {
		sp.Key, sp.Certificate = samltest.KeyPair(t, 2048, "test sp")
	}
	return sp
}

// authnRequest is a fresh AuthnRequest from sp to this IdP, changed by mod.
func (w *ssoWeb) authnRequest(t *testing.T, sp *saml.ServiceProvider, binding string, mod ...func(*saml.AuthnRequest)) *saml.AuthnRequest {
	t.Helper()
	req, err := sp.MakeAuthenticationRequest(w.Srv.URL+"/saml/sso", binding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mod {
		m(req)
	}
	return req
}

// redirectPath is the HTTP-Redirect binding of req: the path and query of /saml/sso.
func (w *ssoWeb) redirectPath(t *testing.T, req *saml.AuthnRequest, relay string) string {
	t.Helper()
	u, err := req.Redirect(relay, w.sp)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != w.Srv.URL+"/saml/sso" {
		t.Fatalf("the SP sends its request to %s", got)
	}
	return u.RequestURI()
}

// postForm is the HTTP-POST binding of req.
func postForm(t *testing.T, req *saml.AuthnRequest, relay string) url.Values {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	raw, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	f := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}}
	if relay != "" {
		f.Set("RelayState", relay)
	}
	return f
}

var (
	ssoActionRE   = regexp.MustCompile(`<form method="post" action="([^"]*)" id="saml-form">`)
	nonceRE       = regexp.MustCompile(`script-src 'nonce-([^']+)'`)
	scriptNonceRE = regexp.MustCompile(`<script nonce="([^"]+)">`)
)

// ssoPost reads the auto-POST page of /saml/sso/continue, which clears rg_sso.
func ssoPost(t *testing.T, resp *http.Response, body string) idptest.Post {
	t.Helper()
	p := autoPost(t, resp, body)
	if c := ssoSetCookie(resp); !strings.Contains(c, "Max-Age=0") {
		t.Errorf("the page does not clear rg_sso: %q", c)
	}
	return p
}

// autoPost reads a page whose nonced script posts a Response to the test SP.
func autoPost(t *testing.T, resp *http.Response, body string) idptest.Post {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("continue: %d\n%s", resp.StatusCode, body)
	}
	a, s := ssoActionRE.FindStringSubmatch(body), idptest.SAMLRE.FindStringSubmatch(body)
	if a == nil || s == nil {
		t.Fatalf("no auto-POST form:\n%s", body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(s[1]))
	if err != nil {
		t.Fatal(err)
	}
	p := idptest.Post{Action: html.UnescapeString(a[1]), Response: string(raw)}
	if r := idptest.RelayRE.FindStringSubmatch(body); r != nil {
		p.Relay = html.UnescapeString(r[1])
	}
	csp := resp.Header.Get("Content-Security-Policy")
	m := nonceRE.FindStringSubmatch(csp)
	sm := scriptNonceRE.FindStringSubmatch(body) // html/template writes "+" in the nonce as &#43;
	if m == nil || !strings.Contains(csp, "form-action 'self' https://sp.example.com;") || strings.Contains(csp, "unsafe") ||
		sm == nil || html.UnescapeString(sm[1]) != m[1] || !strings.Contains(body, "<noscript>") {
		t.Fatalf("CSP %q or a page without the nonced script and noscript button:\n%s", csp, body)
	}
	return p
}

// start sends the request to /saml/sso and expects the way on to /saml/sso/continue.
func start(t *testing.T, b *idptest.Browser, resp *http.Response, body string) {
	t.Helper()
	idptest.WantRedirect(t, resp, body, "/saml/sso/continue")
	c := ssoSetCookie(resp)
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/saml/sso", "Max-Age=1800"} {
		if !strings.Contains(c, attr) {
			t.Errorf("rg_sso cookie %q lacks %s", c, attr)
		}
	}
	if strings.Contains(c, "Secure") {
		t.Errorf("rg_sso cookie %q is Secure on an http base URL", c)
	}
}

// ssoName is the name the server of w gives the pending request's cookie, rg_sso.
func ssoName(w *idptest.Web) string { return idp.ScopedCookie(w.BaseURL, sso.SSOCookie) }

// ssoSetCookie is the Set-Cookie header of the pending request's cookie, if the response has one.
func ssoSetCookie(resp *http.Response) string {
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, sso.SSOCookie+"_") {
			return v
		}
	}
	return ""
}

// ssoCookie reads the rg_sso cookie the browser would send to /saml/sso/continue.
func ssoCookie(b *idptest.Browser) string {
	u, _ := url.Parse(b.W.Srv.URL + "/saml/sso/continue")
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == ssoName(b.W) {
			return c.Value
		}
	}
	return ""
}

func setSSOCookie(b *idptest.Browser, v string) {
	u, _ := url.Parse(b.W.Srv.URL + "/saml/sso")
	b.Jar.SetCookies(u, []*http.Cookie{{Name: ssoName(b.W), Value: v, Path: "/saml/sso"}})
}

// walk goes from a started request through sign-in to the auto-POST page.
func walk(t *testing.T, b *idptest.Browser) idptest.Post {
	t.Helper()
	resp, body := b.Get("/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, "/login?next=%2Fsaml%2Fsso%2Fcontinue")
	resp, body = b.Login("alice", ssoPassword, "next", "/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, "/saml/sso/continue")
	resp, body = b.Get("/saml/sso/continue")
	return ssoPost(t, resp, body)
}

// accept has the crewjam SP validate the Response, as it would at its ACS.
func (w *ssoWeb) accept(t *testing.T, sp *saml.ServiceProvider, p idptest.Post, requestID string) *saml.Assertion {
	t.Helper()
	acs, _ := url.Parse(testSPACS)
	a, err := sp.ParseXMLResponse([]byte(p.Response), []string{requestID}, *acs)
	if err != nil {
		var ire *saml.InvalidResponseError
		if asIRE(err, &ire) {
			t.Fatalf("the SP refuses the Response: %v\n%s", ire.PrivateErr, p.Response)
		}
		t.Fatalf("the SP refuses the Response: %v", err)
	}
	return a
}

func asIRE(err error, out **saml.InvalidResponseError) bool {
	e, ok := err.(*saml.InvalidResponseError)
	*out = e
	return ok
}

func attrValues(a *saml.Assertion, name string) []string {
	var out []string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.Name == name {
				for _, v := range at.Values {
					out = append(out, v.Value)
				}
			}
		}
	}
	return out
}

func TestSPInitiatedSignInWithTheRedirectBindingReachesTheSPsACS(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding)
	resp, body := b.Get(w.redirectPath(t, req, "state-42"))
	start(t, b, resp, body)
	p := walk(t, b)
	if p.Action != testSPACS || p.Relay != "state-42" {
		t.Fatalf("the form posts to %q with RelayState %q", p.Action, p.Relay)
	}

	a := w.accept(t, w.sp, p, req.ID)
	if want := w.nameID(t, w.alice, testSPEntityID); a.Subject.NameID.Value != want || want == w.alice.Subject ||
		a.Subject.NameID.Format != assertions.NameIDPersistent || a.Subject.NameID.SPNameQualifier != testSPEntityID ||
		a.Subject.NameID.NameQualifier != w.Srv.URL+"/saml/metadata" {
		t.Fatalf("NameID %+v; want the pairwise persistent NameID %q", a.Subject.NameID, want)
	}
	if sc := a.Subject.SubjectConfirmations[0].SubjectConfirmationData; sc.InResponseTo != req.ID || sc.Recipient != testSPACS || sc.Address != "" {
		t.Errorf("SubjectConfirmationData %+v", sc)
	}
	if got := a.Conditions.NotOnOrAfter.Sub(a.IssueInstant); got != 5*time.Minute {
		t.Errorf("the assertion lives %v; want 5m", got)
	}
	if got := a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value; got != assertions.ContextPassword {
		t.Errorf("AuthnContextClassRef %q", got)
	}
	for name, want := range map[string]string{
		"urn:oid:0.9.2342.19200300.100.1.3": "alice@example.com",
		"urn:oid:2.16.840.1.113730.3.1.241": "Alice Example",
		"urn:oid:0.9.2342.19200300.100.1.1": "alice",
		"urn:oid:1.3.6.1.4.1.5923.1.5.1.1":  "devs",
	} {
		if got := attrValues(a, name); len(got) != 1 || got[0] != want {
			t.Errorf("attribute %s = %q; want %q", name, got, want)
		}
	}
	if n := len(a.AttributeStatements[0].Attributes); n != 4 {
		t.Errorf("%d attributes; want only mail, displayName, uid and isMemberOf", n)
	}
	if strings.Contains(p.Response, "eduPerson") || strings.Contains(p.Response, "rsa-sha1") || !strings.Contains(p.Response, "rsa-sha256") {
		t.Errorf("the Response must be RSA-SHA256 and carry no eduPerson attributes:\n%s", p.Response)
	}

	cur, err := w.Ring.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, xpath := range []string{samltest.AssertionSignature, samltest.ResponseSignature} {
		if err := samltest.VerifyXMLSec(t, []byte(p.Response), cur.Cert, xpath); err != nil {
			t.Fatal(err)
		}
	}

	events, err := w.Store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range events {
		if e.Type == "assertion" {
			found = true
			if e.User != "alice" || e.Result != "ok" || e.Details["sp"] != testSPEntityID || e.Details["assertion_id"] != a.ID ||
				e.Details["request_id"] != req.ID || e.Details["acs"] != testSPACS {
				t.Errorf("audit event %+v", e)
			}
		}
	}
	if !found {
		t.Error("no assertion audit event")
	}

	// The same request again is a replay; continuing again finds nothing.
	resp, body = w.Browser(t).Get(w.redirectPath(t, req, "state-42"))
	if resp.StatusCode != http.StatusBadRequest || idptest.Alert(body) != "this sign-in request was already used" {
		t.Fatalf("replayed request: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	resp, body = b.Get("/saml/sso/continue")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(idptest.Alert(body), "expired or was already used") {
		t.Fatalf("continuing again: %d %q", resp.StatusCode, idptest.Alert(body))
	}
}

func TestSPInitiatedSignInWithThePOSTBindingAndAnEncryptedAssertion(t *testing.T) {
	w := newSSOWeb(t, true)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	req := w.authnRequest(t, w.sp, saml.HTTPPostBinding)
	resp, body := b.Do(http.MethodPost, "/saml/sso", postForm(t, req, "https://sp.example.com/after?x=1&y=2"),
		"Origin", "https://sp.example.com", "Sec-Fetch-Site", "cross-site")
	start(t, b, resp, body)
	// Signed in already: straight to the form.
	resp, body = b.Get("/saml/sso/continue")
	p := ssoPost(t, resp, body)
	if p.Relay != "https://sp.example.com/after?x=1&y=2" {
		t.Errorf("RelayState %q", p.Relay)
	}
	if !strings.Contains(p.Response, "EncryptedAssertion") {
		t.Fatalf("the SP's metadata has an encryption key, but the assertion is not encrypted:\n%s", p.Response)
	}
	a := w.accept(t, w.sp, p, req.ID)
	if want := w.nameID(t, w.alice, testSPEntityID); a.Subject.NameID.Value != want {
		t.Fatalf("NameID %q; want %q", a.Subject.NameID.Value, want)
	}
}

func TestTheAuthnContextSaysMFAWhenTheSessionUsedASecondFactor(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	tok := make([]byte, 32)
	rand.Read(tok)
	token := base64.RawURLEncoding.EncodeToString(tok)
	sum := sha256.Sum256([]byte(token))
	now := w.Clock.Now()
	if err := w.Store.CreateSession(context.Background(), &store.Session{TokenHash: sum[:], UserID: w.alice.ID, AuthMethods: "pwd,otp",
		AuthenticatedAt: now, CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b.SetCookie("rg_session", token)
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding)
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	resp, body = b.Get("/saml/sso/continue")
	p := ssoPost(t, resp, body)
	a := w.accept(t, w.sp, p, req.ID)
	if got := a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value; got != assertions.ContextMFA {
		t.Fatalf("AuthnContextClassRef %q; want %q", got, assertions.ContextMFA)
	}
}

func TestALoginThatTakesTenMinutesStillSucceeds(t *testing.T) {
	w := newSSOWeb(t, false)
	w.Clock.Advance(-10 * time.Minute) // so that the SP, on the real clock, sees a fresh Response at the end
	b := w.Browser(t)
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { r.IssueInstant = w.Clock.Now() })
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	resp, body = b.Get("/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, "/login?next=%2Fsaml%2Fsso%2Fcontinue")
	w.Clock.Advance(10 * time.Minute) // far beyond crewjam's 90 s
	resp, body = b.Login("alice", ssoPassword, "next", "/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, "/saml/sso/continue")
	resp, body = b.Get("/saml/sso/continue")
	a := w.accept(t, w.sp, ssoPost(t, resp, body), req.ID)
	if a.Subject.NameID.Value != w.nameID(t, w.alice, testSPEntityID) {
		t.Fatalf("NameID %q", a.Subject.NameID.Value)
	}
}

func TestAPendingRequestIsUsedOnceAndExpiresAfterThirtyMinutes(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	resp, body := b.Get(w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding), ""))
	start(t, b, resp, body)
	handle := ssoCookie(b)
	if handle == "" {
		t.Fatal("no rg_sso cookie for /saml/sso/continue")
	}
	resp, body = b.Get("/saml/sso/continue")
	ssoPost(t, resp, body)
	// The page cleared the cookie; a browser that keeps it anyway gets nothing more.
	setSSOCookie(b, handle)
	resp, body = b.Get("/saml/sso/continue")
	if resp.StatusCode != http.StatusBadRequest || idptest.Alert(body) != "the sign-in request expired or was already used; start again from the application" {
		t.Fatalf("continuing twice: %d %q", resp.StatusCode, idptest.Alert(body))
	}

	resp, body = b.Get(w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { r.IssueInstant = w.Clock.Now() }), ""))
	start(t, b, resp, body)
	w.Clock.Advance(31 * time.Minute)
	b.Login("alice", ssoPassword) // the session idled out meanwhile
	resp, body = b.Get("/saml/sso/continue")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(idptest.Alert(body), "expired or was already used") {
		t.Fatalf("continuing after 31 minutes: %d %q", resp.StatusCode, idptest.Alert(body))
	}

	// Without any rg_sso cookie.
	resp, body = w.Browser(t).Get("/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, "/login?next=%2Fsaml%2Fsso%2Fcontinue")
	b2 := w.Browser(t)
	b2.Login("alice", ssoPassword)
	if resp, body = b2.Get("/saml/sso/continue"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("continue without a request: %d\n%s", resp.StatusCode, body)
	}
	for _, e := range w.AuditOf(t, "assertion") {
		if e != "alice ok" {
			t.Errorf("audit: %q", e)
		}
	}
}

// deflated is the Redirect-binding encoding of raw XML.
func deflated(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(raw)
	fw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestBadSignInRequestsGetA400PageNamingTheProblem(t *testing.T) {
	w := newSSOWeb(t, false)
	unknown := newTestSP(t, w, "https://unknown.example.com/saml/metadata", "https://unknown.example.com/saml/acs", false)
	ssoURL := w.Srv.URL + "/saml/sso"

	big := strings.Repeat("A", 100<<10)
	xmlOf := func(r *saml.AuthnRequest) []byte {
		doc := etree.NewDocument()
		doc.SetRoot(r.Element())
		raw, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	bomb := xmlOf(w.authnRequest(t, w.sp, saml.HTTPRedirectBinding))
	bomb = bytes.Replace(bomb, []byte("<samlp:NameIDPolicy"), append(append([]byte("<!--"), bytes.Repeat([]byte("x"), 200<<10)...), []byte("--><samlp:NameIDPolicy")...), 1)
	noIssuer := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { r.Issuer = nil })

	cases := []struct {
		name   string
		method string
		target string     // path and query for GET
		form   url.Values // for POST
		frag   string
	}{
		{"an unknown SP", "GET", w.redirectPath(t, w.authnRequest(t, unknown, saml.HTTPRedirectBinding), ""), nil,
			"unknown service provider https://unknown.example.com/saml/metadata"},
		{"an ACS URL that is not in the metadata", "GET", w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding,
			func(r *saml.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.example.com/saml/acs" }), ""), nil,
			"cannot find assertion consumer service"},
		{"an ACS chosen by index that takes another binding", "GET", w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding,
			func(r *saml.AuthnRequest) { r.AssertionConsumerServiceURL, r.AssertionConsumerServiceIndex = "", "2" }), ""), nil,
			"takes the HTTP-Artifact binding"},
		{"a response binding other than POST", "GET", w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding,
			func(r *saml.AuthnRequest) { r.ProtocolBinding = saml.HTTPArtifactBinding }), ""), nil,
			"answers only with HTTP-POST"},
		{"a request for another IdP", "GET", "/saml/sso?" + url.Values{"SAMLRequest": {deflated(t, xmlOf(w.authnRequest(t, w.sp, saml.HTTPRedirectBinding,
			func(r *saml.AuthnRequest) { r.Destination = "https://other-idp.example.com/sso" })))}}.Encode(), nil,
			`expected destination to be "` + ssoURL + `"`},
		{"a request older than 90 seconds", "GET", w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding,
			func(r *saml.AuthnRequest) { r.IssueInstant = w.Clock.Now().Add(-2 * time.Minute) }), ""), nil,
			"request expired"},
		{"a request without an Issuer", "GET", "/saml/sso?" + url.Values{"SAMLRequest": {deflated(t, xmlOf(noIssuer))}}.Encode(), nil,
			"names no Issuer"},
		{"no SAMLRequest", "GET", "/saml/sso", nil, "carries no SAMLRequest"},
		{"a SAMLRequest that is not base64", "GET", "/saml/sso?SAMLRequest=" + url.QueryEscape("*** not base64 ***"), nil, "not base64"},
		{"a SAMLRequest that is not DEFLATE", "GET", "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("plain text"))), nil,
			"cannot be decompressed"},
		{"a SAMLRequest that is not an AuthnRequest", "GET", "/saml/sso?" + url.Values{"SAMLRequest": {deflated(t, []byte("<html/>"))}}.Encode(), nil,
			"not a SAML 2.0 AuthnRequest"},
		{"a query string of 100 KiB", "GET", "/saml/sso?SAMLRequest=" + big, nil, "query string is over 16 KiB"},
		{"a SAMLRequest of 100 KiB", "POST", "", url.Values{"SAMLRequest": {big}}, "SAMLRequest is over 64 KiB"},
		{"a small SAMLRequest that inflates to 200 KiB", "GET", "/saml/sso?" + url.Values{"SAMLRequest": {deflated(t, bomb)}}.Encode(), nil,
			"decompresses to over 64 KiB"},
		{"a RelayState over 2 KiB", "POST", "", postForm(t, w.authnRequest(t, w.sp, saml.HTTPPostBinding), strings.Repeat("r", 3000)), "RelayState is longer"},
		{"PUT", "PUT", "/saml/sso", nil, "not allowed"},
	}
	for _, tc := range cases {
		b := w.Browser(t)
		var resp *http.Response
		var body string
		if tc.method == "POST" {
			resp, body = b.Do(http.MethodPost, "/saml/sso", tc.form)
		} else {
			resp, body = b.Do(tc.method, tc.target, nil)
		}
		want := http.StatusBadRequest
		if tc.method == "PUT" {
			want = http.StatusMethodNotAllowed
		}
		if resp.StatusCode != want || !strings.Contains(idptest.Alert(body)+body, tc.frag) || strings.Contains(body, "goroutine") {
			t.Errorf("%s: %d %q; want %d naming %q", tc.name, resp.StatusCode, idptest.Alert(body), want, tc.frag)
		}
		if tc.method != "PUT" && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: Content-Type %q; want an HTML page", tc.name, resp.Header.Get("Content-Type"))
		}
		if ssoSetCookie(resp) != "" {
			t.Errorf("%s: a refused request set rg_sso", tc.name)
		}
	}
	w.noAssertionIssued(t)
}

func TestAnSPRemovedWhileItsUserSignsInGetsNoAssertion(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	resp, body := b.Get(w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding), ""))
	start(t, b, resp, body)
	if err := w.Store.DeleteServiceProvider(context.Background(), testSPEntityID); err != nil {
		t.Fatal(err)
	}
	b.Login("alice", ssoPassword)
	resp, body = b.Get("/saml/sso/continue")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(idptest.Alert(body), "no longer registered") || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("continue: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	if events := w.AuditOf(t, "assertion"); len(events) != 1 || !strings.HasPrefix(events[0], "alice refused: ") {
		t.Fatalf("audit: %v", events)
	}
}

func TestAFloodOfSSORequestsKeepsABoundedNumberPending(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	audit0, _ := w.Rows(t)
	const n = 150
	statuses := map[int]int{}
	for range n {
		resp, _ := b.Get(w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding), ""))
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusSeeOther] != 20 || statuses[http.StatusTooManyRequests] != n-20 {
		t.Errorf("statuses %v; want 20 requests kept and the rest refused", statuses)
	}
	if audit, _ := w.Rows(t); audit-audit0 > 1 {
		t.Errorf("%d SSO requests wrote %d audit events; want at most the rate limit's one", n, audit-audit0)
	}
	// Exactly 20 are pending for the address: a 21st is refused under a cap of 20, kept under 21.
	now := w.Clock.Now()
	probe := func(i int) *store.PendingRequest {
		return &store.PendingRequest{HandleHash: []byte(fmt.Sprintf("probe-%d-0123456789abcdef", i)), SPEntityID: testSPEntityID,
			RequestID: fmt.Sprintf("probe-%d", i), ACSURL: testSPACS, CreatedAt: now, ExpiresAt: now.Add(time.Minute), ClientAddr: "127.0.0.1"}
	}
	ctx := context.Background()
	if ok, err := w.Store.SavePendingRequestCapped(ctx, probe(1), 20); ok || err != nil {
		t.Fatalf("fewer than 20 pending: %v %v", ok, err)
	}
	if ok, err := w.Store.SavePendingRequestCapped(ctx, probe(2), 21); !ok || err != nil {
		t.Fatalf("more than 20 pending: %v %v", ok, err)
	}
}
