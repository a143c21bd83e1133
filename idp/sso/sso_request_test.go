package sso_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// Attacks on what an AuthnRequest asks for and how it is signed.

const (
	nsProtocol   = "urn:oasis:names:tc:SAML:2.0:protocol"
	statusPrefix = "urn:oasis:names:tc:SAML:2.0:status:"
	reauthPath   = "/login?next=%2Fsaml%2Fsso%2Fcontinue&reauth=1"
	mfaStepUp    = "/login/mfa?next=%2Fsaml%2Fsso%2Fcontinue"
)

// signingSP registers a crewjam SP with a key; with promise its metadata says
// AuthnRequestsSigned="true", with require it is registered with --require-signed-requests. It
// signs its requests (RSA-SHA256) until a test clears its SignatureMethod.
func (w *ssoWeb) signingSP(t *testing.T, entityID string, promise, require bool) *saml.ServiceProvider {
	t.Helper()
	sp := newTestSP(t, w, entityID, testSPACS, true)
	sp.SignatureMethod = dsig.RSASHA256SignatureMethod // so its metadata publishes its signing key
	ed := sp.Metadata()
	*ed.SPSSODescriptors[0].AuthnRequestsSigned = promise
	md, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Store.CreateServiceProvider(context.Background(),
		&store.ServiceProvider{EntityID: entityID, Metadata: md, RequireSignedRequests: require}); err != nil {
		t.Fatal(err)
	}
	return sp
}

// signedRequest is a fresh request from sp, changed by mod and then signed by sp (the POST binding
// carries the signature inside; the Redirect binding signs the query instead).
func (w *ssoWeb) signedRequest(t *testing.T, sp *saml.ServiceProvider, binding string, mod ...func(*saml.AuthnRequest)) *saml.AuthnRequest {
	t.Helper()
	req := w.authnRequest(t, sp, binding, mod...)
	if binding == saml.HTTPPostBinding && sp.SignatureMethod != "" {
		req.Signature = nil
		if err := sp.SignAuthnRequest(req); err != nil {
			t.Fatal(err)
		}
	}
	return req
}

// redirectOf is the HTTP-Redirect binding of req as sp sends it (query-signed when sp signs).
func redirectOf(t *testing.T, sp *saml.ServiceProvider, req *saml.AuthnRequest, relay string) string {
	t.Helper()
	u, err := req.Redirect(relay, sp)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func xmlOf(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	raw, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// answer is a Response that carries only a status.
type answer struct {
	top, second string
	inResponse  string
}

// statusAnswer reads a page that posts a Response without an assertion to the test SP, and checks
// that the IdP's key signed it.
func (w *ssoWeb) statusAnswer(t *testing.T, resp *http.Response, body string) answer {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("want an auto-POST page at once, got %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), idptest.Alert(body))
	}
	p := autoPost(t, resp, body)
	if p.Action != testSPACS {
		t.Fatalf("the status goes to %q", p.Action)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(p.Response); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	if root.FindElement("//Assertion") != nil || root.FindElement("//EncryptedAssertion") != nil {
		t.Fatalf("a status Response carries an assertion:\n%s", p.Response)
	}
	a := answer{inResponse: root.SelectAttrValue("InResponseTo", "")}
	if sc := root.FindElement("./Status/StatusCode"); sc != nil {
		a.top = strings.TrimPrefix(sc.SelectAttrValue("Value", ""), statusPrefix)
		if sc2 := sc.FindElement("./StatusCode"); sc2 != nil {
			a.second = strings.TrimPrefix(sc2.SelectAttrValue("Value", ""), statusPrefix)
		}
	}
	cur, err := w.Ring.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := samltest.VerifyXMLSec(t, []byte(p.Response), cur.Cert, samltest.ResponseSignature); err != nil {
		t.Fatal(err)
	}
	if c := ssoSetCookie(resp); c != "" && !strings.Contains(c, "Max-Age=0") {
		t.Errorf("a status Response left a pending handle in rg_sso: %s", c)
	}
	return a
}

// refused expects a 400 page naming frag, no pending request and no Response.
func refused(t *testing.T, name string, resp *http.Response, body, frag string) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(idptest.Alert(body), frag) || strings.Contains(body, "SAMLResponse") ||
		ssoSetCookie(resp) != "" {
		t.Errorf("%s: %d %q; want 400 naming %q", name, resp.StatusCode, idptest.Alert(body), frag)
	}
}

// secondStep goes to /saml/sso/continue, is sent to the second-factor page, answers it with the
// authenticator app's code a minute later, and returns what /saml/sso/continue then answers.
func (w *ssoWeb) secondStep(t *testing.T, b *idptest.Browser, secret []byte) (*http.Response, string) {
	t.Helper()
	resp, body := b.Get("/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, mfaStepUp)
	w.Clock.Advance(time.Minute)
	resp, body = b.Post(mfaStepUp, "/login/mfa", url.Values{"code": {mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)}, "next": {"/saml/sso/continue"}})
	idptest.WantRedirect(t, resp, body, "/saml/sso/continue")
	return b.Get("/saml/sso/continue")
}

// forcedRequest sends a ForceAuthn request, issued now on the server's clock, from b to /saml/sso.
func (w *ssoWeb) forcedRequest(t *testing.T, b *idptest.Browser) *saml.AuthnRequest {
	t.Helper()
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { yes := true; r.ForceAuthn, r.IssueInstant = &yes, w.Clock.Now() })
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	return req
}

func classOf(a *saml.Assertion) string {
	return a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value
}

func TestForceAuthnAsksForThePasswordAgainDespiteALiveSession(t *testing.T) {
	w := newSSOWeb(t, false)
	w.Clock.Advance(-10 * time.Minute) // so that the SP, on the real clock, sees a fresh Response at the end
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	first := w.Clock.Now()
	w.Clock.Advance(8 * time.Minute)
	req := w.forcedRequest(t, b)
	var resp *http.Response
	var body string

	// The live session is not enough, however often the browser comes back.
	for range 2 {
		resp, body = b.Get("/saml/sso/continue")
		idptest.WantRedirect(t, resp, body, reauthPath)
	}
	resp, body = b.Get(reauthPath)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "asks you to sign in again") || !strings.Contains(body, `name="password"`) {
		t.Fatalf("the forced sign-in page: %d\n%s", resp.StatusCode, body)
	}
	// A wrong password gets nothing.
	form := url.Values{"csrf_token": {idptest.CSRFRE.FindStringSubmatch(body)[1]}, "username": {"alice"}, "password": {"wrong"}, "next": {"/saml/sso/continue"}}
	if resp, _ = b.Do(http.MethodPost, "/login", form); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", resp.StatusCode)
	}
	resp, body = b.Get("/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, reauthPath)

	w.Clock.Advance(2 * time.Minute)
	again := w.Clock.Now()
	form.Set("password", ssoPassword)
	form.Set("csrf_token", b.Token(reauthPath))
	resp, body = b.Do(http.MethodPost, "/login", form)
	idptest.WantRedirect(t, resp, body, "/saml/sso/continue")
	resp, body = b.Get("/saml/sso/continue")
	a := w.accept(t, w.sp, ssoPost(t, resp, body), req.ID)
	if got := a.AuthnStatements[0].AuthnInstant; !got.Equal(again) || got.Equal(first) {
		t.Fatalf("AuthnInstant %v; want the new sign-in at %v, not the first at %v", got, again, first)
	}

	// Without ForceAuthn the same session answers at once, with the time it signed in.
	req = w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { r.IssueInstant = w.Clock.Now() })
	resp, body = b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	resp, body = b.Get("/saml/sso/continue")
	if a := w.accept(t, w.sp, ssoPost(t, resp, body), req.ID); !a.AuthnStatements[0].AuthnInstant.Equal(again) {
		t.Fatalf("AuthnInstant %v; want %v", a.AuthnStatements[0].AuthnInstant, again)
	}
}

func TestForceAuthnAsksForTheSecondFactorAgainToo(t *testing.T) {
	w := newSSOWeb(t, false)
	w.Clock.Advance(-4 * time.Minute) // the SP checks the Response on the real clock
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	secret, _ := b.EnrollTOTP(w.Clock.Now(), w.Invite(t, "alice", time.Hour))
	w.Clock.Advance(2 * time.Minute)
	req := w.forcedRequest(t, b)
	resp, body := b.Get("/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, reauthPath)
	w.Clock.Advance(time.Minute)
	resp, body = b.Post(reauthPath, "/login", url.Values{"username": {"alice"}, "password": {ssoPassword}, "next": {"/saml/sso/continue"}})
	idptest.WantRedirect(t, resp, body, mfaStepUp)
	resp, body = w.secondStep(t, b, secret)
	a := w.accept(t, w.sp, ssoPost(t, resp, body), req.ID)
	if classOf(a) != assertions.ContextMFA || !a.AuthnStatements[0].AuthnInstant.Equal(w.Clock.Now()) {
		t.Fatalf("class %q at %v; want MFA at %v", classOf(a), a.AuthnStatements[0].AuthnInstant, w.Clock.Now())
	}
}

func TestIsPassiveWithoutAUsableSessionAnswersNoPassiveAtOnce(t *testing.T) {
	w := newSSOWeb(t, false)
	passive := func(r *saml.AuthnRequest) { yes := true; r.IsPassive = &yes }
	mfa := func(r *saml.AuthnRequest) {
		r.RequestedAuthnContext = &saml.RequestedAuthnContext{AuthnContextClassRefs: []string{assertions.ContextMFA}}
	}
	force := func(r *saml.AuthnRequest) { yes := true; r.ForceAuthn = &yes }
	signedIn := w.Browser(t)
	signedIn.Login("alice", ssoPassword)
	cases := []struct {
		name string
		b    *idptest.Browser
		mod  []func(*saml.AuthnRequest)
	}{
		{"nobody signed in", w.Browser(t), nil},
		{"a session, but ForceAuthn", signedIn, []func(*saml.AuthnRequest){force}},
		{"a password session, but MFA requested", signedIn, []func(*saml.AuthnRequest){mfa}},
	}
	for _, tc := range cases {
		req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, append(tc.mod, passive)...)
		resp, body := tc.b.Get(w.redirectPath(t, req, "keep-me"))
		if strings.Contains(body, `name="password"`) || strings.Contains(body, `name="code"`) {
			t.Fatalf("%s: a page that asks something:\n%s", tc.name, body)
		}
		a := w.statusAnswer(t, resp, body)
		if a.top != "Responder" || a.second != "NoPassive" || a.inResponse != req.ID {
			t.Errorf("%s: status %s/%s in response to %q; want Responder/NoPassive to %q", tc.name, a.top, a.second, a.inResponse, req.ID)
		}
		if p := autoPost(t, resp, body); p.Relay != "keep-me" {
			t.Errorf("%s: RelayState %q", tc.name, p.Relay)
		}
	}
	got := w.AuditOf(t, "sso.request")
	if slices.Sort(got); !slices.Equal(got, []string{" answered NoPassive", "alice answered NoPassive", "alice answered NoPassive"}) {
		t.Errorf("audit %q", got)
	}
	w.noAssertionIssued(t)
}

func TestIsPassiveWithASessionAnswersWithAnAssertionAtOnce(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { yes := true; r.IsPassive = &yes })
	resp, body := b.Get(w.redirectPath(t, req, "rs"))
	p := autoPost(t, resp, body)
	a := w.accept(t, w.sp, p, req.ID)
	if a.Subject.NameID.Value != w.nameID(t, w.alice, w.sp.EntityID) || p.Relay != "rs" || classOf(a) != assertions.ContextPassword {
		t.Fatalf("NameID %q, RelayState %q, class %q", a.Subject.NameID.Value, p.Relay, classOf(a))
	}
	// It was answered; sending it again is a replay.
	resp, body = b.Get(w.redirectPath(t, req, "rs"))
	refused(t, "the passive request again", resp, body, "already used")
}

// An SP's RelayState is the SP's to choose and is written into the post page: markup in it stays
// text in the form's value, and the SP gets it back byte for byte.
func TestAHostileRelayStateIsWrittenAsTextAndReturnedIntact(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	const relay = `"'><script>alert(1)</script><b x=y>&amp;+%zz é javascript:x`
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { yes := true; r.IsPassive = &yes })
	resp, body := b.Get(w.redirectPath(t, req, relay))
	p := autoPost(t, resp, body)
	if p.Relay != relay {
		t.Fatalf("RelayState came back as %q; want %q", p.Relay, relay)
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b x=") || strings.Count(body, "<script") != 1 {
		t.Fatalf("the RelayState's markup reached the page:\n%s", body)
	}
	w.accept(t, w.sp, p, req.ID)
}

func TestRequestedAuthnContextIsAnsweredWithWhatWasDone(t *testing.T) {
	w := newSSOWeb(t, false)
	const (
		ppt      = assertions.ContextPassword
		mfa      = assertions.ContextMFA
		password = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
		x509     = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
	)
	cases := []struct {
		name       string
		comparison string
		classes    []string
		want       string // the class asserted to a password session, "step-up", or "NoAuthnContext"
	}{
		{"exact PasswordProtectedTransport", "exact", []string{ppt}, ppt},
		{"no comparison means exact", "", []string{ppt}, ppt},
		{"exact MFA steps up", "exact", []string{mfa}, "step-up"},
		{"minimum Password gives the password sign-in", "minimum", []string{password}, ppt},
		{"minimum MFA steps up", "minimum", []string{mfa}, "step-up"},
		{"better PasswordProtectedTransport steps up", "better", []string{ppt}, "step-up"},
		{"maximum MFA takes the password sign-in", "maximum", []string{mfa}, ppt},
		{"either of two classes takes the one done", "exact", []string{mfa, ppt}, ppt},
		{"exact Password is never produced", "exact", []string{password}, "NoAuthnContext"},
		{"an X.509 sign-in is never produced", "exact", []string{x509}, "NoAuthnContext"},
		{"an unknown class cannot be ranked", "minimum", []string{"urn:example:retina-scan"}, "NoAuthnContext"},
		{"better MFA is beyond Rolegate", "better", []string{mfa}, "NoAuthnContext"},
		{"maximum Password is below Rolegate", "maximum", []string{password}, "NoAuthnContext"},
	}
	for _, tc := range cases {
		b := w.Browser(t)
		b.Login("alice", ssoPassword)
		req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) {
			r.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: tc.comparison, AuthnContextClassRefs: tc.classes}
		})
		resp, body := b.Get(w.redirectPath(t, req, ""))
		if tc.want == "NoAuthnContext" {
			if a := w.statusAnswer(t, resp, body); a.top != "Responder" || a.second != "NoAuthnContext" || a.inResponse != req.ID {
				t.Errorf("%s: status %s/%s to %q", tc.name, a.top, a.second, a.inResponse)
			}
			continue
		}
		start(t, b, resp, body)
		resp, body = b.Get("/saml/sso/continue")
		if tc.want == "step-up" {
			idptest.WantRedirect(t, resp, body, mfaStepUp)
			continue
		}
		if got := classOf(w.accept(t, w.sp, ssoPost(t, resp, body), req.ID)); got != tc.want {
			t.Errorf("%s: class %q; want %q", tc.name, got, tc.want)
		}
	}

	// An unknown Comparison is the SP's mistake: a page names it.
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) {
		r.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: "roughly", AuthnContextClassRefs: []string{ppt}}
	})
	resp, body := w.Browser(t).Get(w.redirectPath(t, req, ""))
	refused(t, "an unknown comparison", resp, body, `Comparison "roughly"`)
}

func TestRequestedMFAStepsUpAPasswordSessionThroughTheSecondFactor(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) {
		r.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: "minimum", AuthnContextClassRefs: []string{assertions.ContextMFA}}
	})
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	resp, body = b.Get("/saml/sso/continue")
	idptest.WantRedirect(t, resp, body, mfaStepUp)
	// Alice has no second factor yet: she sets one up, which counts as the second step.
	resp, body = b.Get(mfaStepUp)
	idptest.WantRedirect(t, resp, body, "/account/mfa?next=%2Fsaml%2Fsso%2Fcontinue")
	b.EnrollTOTP(w.Clock.Now(), w.Invite(t, "alice", time.Hour))
	resp, body = b.Get("/saml/sso/continue")
	if got := classOf(w.accept(t, w.sp, ssoPost(t, resp, body), req.ID)); got != assertions.ContextMFA {
		t.Fatalf("class %q after the step-up; want %q", got, assertions.ContextMFA)
	}
}

func TestRequestIDsThatAreNotNCNamesAreRefused(t *testing.T) {
	w := newSSOWeb(t, false)
	good := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding)
	raw := string(xmlOf(t, good.Element()))
	for name, id := range map[string]string{
		"a carriage return": "id-a&#13;b",
		"a tab":             "id-a&#9;b",
		"a line feed":       "id-a&#10;b",
		"a colon":           "id:abc",
		"a leading digit":   "1abc",
		"a leading hyphen":  "-abc",
		"a space":           "id abc",
		"a quote":           "id&quot;abc",
	} {
		bad := strings.Replace(raw, `ID="`+good.ID+`"`, `ID="`+id+`"`, 1)
		if bad == raw {
			t.Fatal("the request's ID was not replaced")
		}
		b := w.Browser(t)
		b.Login("alice", ssoPassword)
		resp, body := b.Get("/saml/sso?" + url.Values{"SAMLRequest": {deflated(t, []byte(bad))}}.Encode())
		refused(t, name, resp, body, "is not an XML NCName")
	}
	if events := w.AuditOf(t, "sso.request"); len(events) != 8 || events[0] != " refused" || events[7] != " refused" {
		t.Errorf("audit %q", events)
	}
	// Letters from other scripts, digits after the first, '.', '-' and '_' are fine.
	ok := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { r.ID = "_Ωmega-1.2_x" })
	resp, body := w.Browser(t).Get(w.redirectPath(t, ok, ""))
	idptest.WantRedirect(t, resp, body, "/saml/sso/continue")
}

func TestIssueInstantsInTheFutureAreRefused(t *testing.T) {
	w := newSSOWeb(t, false)
	for _, tc := range []struct {
		ahead time.Duration
		ok    bool
	}{{10 * time.Minute, false}, {2 * time.Minute, false}, {91 * time.Second, false}, {90 * time.Second, true}, {30 * time.Second, true}} {
		req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { r.IssueInstant = w.Clock.Now().Add(tc.ahead) })
		resp, body := w.Browser(t).Get(w.redirectPath(t, req, ""))
		if tc.ok {
			idptest.WantRedirect(t, resp, body, "/saml/sso/continue")
		} else {
			refused(t, tc.ahead.String()+" ahead", resp, body, "more than 90 s in the future")
		}
	}
}

func TestUnsignedRequestsFromSPsThatMustSignAreRefused(t *testing.T) {
	w := newSSOWeb(t, false)
	promised := w.signingSP(t, "https://sp.example.com/promised", true, false)
	registered := w.signingSP(t, "https://sp.example.com/registered", false, true)
	for _, tc := range []struct {
		name string
		sp   *saml.ServiceProvider
		frag string
	}{
		{"an SP whose metadata says AuthnRequestsSigned", promised, `its metadata says AuthnRequestsSigned="true"`},
		{"an SP registered with --require-signed-requests", registered, "registered with --require-signed-requests"},
	} {
		method := tc.sp.SignatureMethod
		tc.sp.SignatureMethod = ""
		b := w.Browser(t)
		b.Login("alice", ssoPassword)
		resp, body := b.Get(redirectOf(t, tc.sp, w.authnRequest(t, tc.sp, saml.HTTPRedirectBinding), ""))
		refused(t, tc.name+" (Redirect)", resp, body, tc.frag)
		resp, body = b.Do(http.MethodPost, "/saml/sso", postForm(t, w.authnRequest(t, tc.sp, saml.HTTPPostBinding), ""))
		refused(t, tc.name+" (POST)", resp, body, tc.frag)
		// An empty signature is no signature: a bare Signature= or SigAlg= must not pass as one.
		bare := redirectOf(t, tc.sp, w.authnRequest(t, tc.sp, saml.HTTPRedirectBinding), "")
		for _, extra := range []string{"&Signature=", "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod) + "&Signature="} {
			resp, body = b.Get(bare + extra)
			refused(t, tc.name+" (Redirect with "+extra+")", resp, body, "")
		}
		form := postForm(t, w.authnRequest(t, tc.sp, saml.HTTPPostBinding), "")
		form.Set("SigAlg", dsig.RSASHA256SignatureMethod)
		resp, body = b.Do(http.MethodPost, "/saml/sso", form)
		refused(t, tc.name+" (POST with a SigAlg and no signature)", resp, body, "")

		// Signed, both bindings go through.
		tc.sp.SignatureMethod = method
		req := w.signedRequest(t, tc.sp, saml.HTTPRedirectBinding)
		resp, body = b.Get(redirectOf(t, tc.sp, req, "state-1"))
		start(t, b, resp, body)
		resp, body = b.Get("/saml/sso/continue")
		p := ssoPost(t, resp, body)
		if a := w.accept(t, tc.sp, p, req.ID); a.Subject.NameID.Value != w.nameID(t, w.alice, tc.sp.EntityID) || p.Relay != "state-1" {
			t.Fatalf("%s: signed Redirect request: NameID %q, RelayState %q", tc.name, a.Subject.NameID.Value, p.Relay)
		}
		req = w.signedRequest(t, tc.sp, saml.HTTPPostBinding)
		if req.Signature == nil {
			t.Fatal("the POST request is not signed")
		}
		resp, body = b.Do(http.MethodPost, "/saml/sso", postForm(t, req, "state-2"))
		start(t, b, resp, body)
		resp, body = b.Get("/saml/sso/continue")
		p = ssoPost(t, resp, body)
		if a := w.accept(t, tc.sp, p, req.ID); a.Subject.NameID.Value != w.nameID(t, w.alice, tc.sp.EntityID) || p.Relay != "state-2" {
			t.Fatalf("%s: signed POST request: NameID %q, RelayState %q", tc.name, a.Subject.NameID.Value, p.Relay)
		}
	}
	// The flag lifted, the registered SP may send unsigned requests again.
	if _, err := w.Store.UpdateServiceProvider(context.Background(), registered.EntityID, func(sp *store.ServiceProvider) error {
		sp.RequireSignedRequests = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	registered.SignatureMethod = ""
	resp, body := w.Browser(t).Get(redirectOf(t, registered, w.authnRequest(t, registered, saml.HTTPRedirectBinding), ""))
	idptest.WantRedirect(t, resp, body, "/saml/sso/continue")
}

func TestForgedRequestSignaturesAreRefused(t *testing.T) {
	w := newSSOWeb(t, false)
	const id = "https://sp.example.com/signer"
	sp := w.signingSP(t, id, true, false)
	// Mallory has her own key and claims to be the same SP.
	impostor := newTestSP(t, w, id, testSPACS, true)
	impostor.SignatureMethod = dsig.RSASHA256SignatureMethod

	query := func(r *saml.AuthnRequest, relay string) url.Values {
		t.Helper()
		u, err := url.Parse(redirectOf(t, sp, r, relay))
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}
	rawQuery := func(r *saml.AuthnRequest, relay string) string {
		u, _ := url.Parse(redirectOf(t, sp, r, relay))
		return u.RawQuery
	}
	flip := func(sig string) string {
		b, _ := base64.StdEncoding.DecodeString(sig)
		b[len(b)/2] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	// signedXML is the XML of a POST request sp signed, for tampering.
	signedXML := func() []byte { return xmlOf(t, w.signedRequest(t, sp, saml.HTTPPostBinding).Element()) }
	post := func(raw []byte) url.Values {
		return url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"rs"}}
	}
	sha1SP := newTestSP(t, w, id, testSPACS, false)
	sha1SP.Key, sha1SP.Certificate = sp.Key, sp.Certificate
	sha1SP.SignatureMethod = dsig.RSASHA1SignatureMethod

	cases := []struct {
		name   string
		target string     // GET
		form   url.Values // POST
		frag   string
	}{
		{"Redirect: a tampered signature", func() string {
			q := query(w.signedRequest(t, sp, saml.HTTPRedirectBinding), "rs")
			q.Set("Signature", flip(q.Get("Signature")))
			return "/saml/sso?" + q.Encode()
		}(), nil, "signature was refused"},
		{"Redirect: a signature by another key", redirectOf(t, impostor, w.signedRequest(t, impostor, saml.HTTPRedirectBinding), "rs"), nil,
			"signature was refused"},
		{"Redirect: the RelayState changed after signing", func() string {
			return "/saml/sso?" + strings.Replace(rawQuery(w.signedRequest(t, sp, saml.HTTPRedirectBinding), "good"), "RelayState=good", "RelayState=evil", 1)
		}(), nil, "signature was refused"},
		{"Redirect: the RelayState added after signing", func() string {
			return "/saml/sso?" + rawQuery(w.signedRequest(t, sp, saml.HTTPRedirectBinding), "") + "&RelayState=evil"
		}(), nil, "signature was refused"},
		{"Redirect: another request under the signature", func() string {
			q := query(w.signedRequest(t, sp, saml.HTTPRedirectBinding), "rs")
			other := query(w.signedRequest(t, sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { r.AssertionConsumerServiceIndex = "1" }), "rs")
			q.Set("SAMLRequest", other.Get("SAMLRequest"))
			return "/saml/sso?" + q.Encode()
		}(), nil, "signature was refused"},
		{"Redirect: a second SAMLRequest beside the signed one", func() string {
			return "/saml/sso?" + rawQuery(w.signedRequest(t, sp, saml.HTTPRedirectBinding), "rs") + "&SAMLRequest=" +
				url.QueryEscape(query(w.signedRequest(t, sp, saml.HTTPRedirectBinding), "").Get("SAMLRequest"))
		}(), nil, "appears more than once"},
		{"Redirect: signed with SHA-1", redirectOf(t, sha1SP, w.signedRequest(t, sha1SP, saml.HTTPRedirectBinding), "rs"), nil, "SHA-1"},
		{"POST: a tampered signature value", "", post(func() []byte {
			raw := signedXML()
			i := bytes.Index(raw, []byte("SignatureValue>")) + len("SignatureValue>") + 10
			raw[i] ^= 1
			if raw[i] == '<' || raw[i] == '=' {
				raw[i] = 'A'
			}
			return raw
		}()), "signature was refused"},
		{"POST: the ACS changed after signing", "", post(bytes.Replace(signedXML(), []byte(`AssertionConsumerServiceURL="`+testSPACS+`"`),
			[]byte(`AssertionConsumerServiceURL="https://evil.example.com/acs"`), 1)), "signature was refused"},
		{"POST: a signature by another key", "", postForm(t, w.signedRequest(t, impostor, saml.HTTPPostBinding), "rs"), "signature was refused"},
		{"POST: the ID moved away from the signed element", "", post(func() []byte {
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(signedXML()); err != nil {
				t.Fatal(err)
			}
			root := doc.Root()
			signedID := root.SelectAttrValue("ID", "")
			// An unsigned request takes the root; the signed one, whole, hides in its Extensions.
			evil := w.authnRequest(t, sp, saml.HTTPPostBinding, func(r *saml.AuthnRequest) { r.ID = signedID })
			evil.Signature = nil
			wrapper := evil.Element()
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(root.Copy())
			wrapper.InsertChildAt(1, ext)
			if sig := root.FindElement("./Signature"); sig != nil {
				wrapper.InsertChildAt(1, sig.Copy()) // and the signature beside the unsigned content
			}
			return xmlOf(t, wrapper)
		}()), "signature was refused"},
		{"POST: a second, unsigned AuthnRequest inside the signed one", "", post(func() []byte {
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(signedXML()); err != nil {
				t.Fatal(err)
			}
			evil := w.authnRequest(t, sp, saml.HTTPPostBinding, func(r *saml.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.example.com/acs" })
			evil.Signature = nil
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(evil.Element())
			doc.Root().AddChild(ext)
			return xmlOf(t, doc.Root())
		}()), "signature was refused"},
		{"POST: a signature whose reference is not the request", "", post(bytes.Replace(signedXML(), []byte(`URI="#`), []byte(`URI="#x`), 1)),
			"signature was refused"},
	}
	for _, tc := range cases {
		b := w.Browser(t)
		b.Login("alice", ssoPassword)
		var resp *http.Response
		var body string
		if tc.form != nil {
			resp, body = b.Do(http.MethodPost, "/saml/sso", tc.form)
		} else {
			resp, body = b.Get(tc.target)
		}
		refused(t, tc.name, resp, body, tc.frag)
	}
	w.noAssertionIssued(t)
	if got := w.AuditOf(t, "sso.request"); len(got) != len(cases) {
		t.Errorf("%d refusals audited; want %d", len(got), len(cases))
	}

	// The same SP's genuine requests pass.
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	req := w.signedRequest(t, sp, saml.HTTPPostBinding)
	resp, body := b.Do(http.MethodPost, "/saml/sso", postForm(t, req, "rs"))
	start(t, b, resp, body)
}

func TestForceAuthnIsNotMetByASecondFactorAlone(t *testing.T) {
	w := newSSOWeb(t, false)
	setup := w.Browser(t)
	setup.Login("alice", ssoPassword)
	secret, _ := setup.EnrollTOTP(w.Clock.Now(), w.Invite(t, "alice", time.Hour))

	// Someone holds a session that got past the password before the request came, and can give
	// the second factor (a stolen session of a half-finished sign-in, say): not a fresh sign-in.
	b := w.Browser(t)
	resp, body := b.Login("alice", ssoPassword)
	idptest.WantRedirect(t, resp, body, "/login/mfa")
	w.Clock.Advance(time.Minute)
	w.forcedRequest(t, b)
	resp, body = w.secondStep(t, b, secret)
	idptest.WantRedirect(t, resp, body, reauthPath)
	if got := w.AuditOf(t, "assertion"); len(got) != 0 {
		t.Fatalf("assertions issued: %q", got)
	}
}
