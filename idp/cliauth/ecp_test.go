package cliauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// asSaml2aws extracts the Response as saml2aws does: the first //saml2p:Response (etree matches
// the literal prefix), written out again as a document of its own.
func asSaml2aws(t *testing.T, body string) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(body); err != nil {
		t.Fatal(err)
	}
	st := doc.Root().FindElement("//saml2p:StatusCode")
	if st == nil || st.SelectAttrValue("Value", "") != assertions.StatusSuccess {
		t.Fatalf("no saml2p:StatusCode Success:\n%s", body)
	}
	resp := doc.Root().FindElement("//saml2p:Response")
	if resp == nil {
		t.Fatalf("no saml2p:Response:\n%s", body)
	}
	doc.SetRoot(resp)
	out, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	// saml2aws hands STS the base64 of this; decoding it again must give the same document.
	raw, _ := base64.StdEncoding.DecodeString(base64.StdEncoding.EncodeToString([]byte(out)))
	return raw
}

func TestECPAnswersSaml2awsWithAnUnsolicitedSignedResponseAWSWouldAccept(t *testing.T) {
	for _, c := range []struct {
		name    string
		call    idptest.ECPCall
		account string
	}{
		{"a plain body, the account in the URL", idptest.ECPCall{Path: "/saml/ecp?account=prod"}, "prod"},
		{"a chunked body, as saml2aws sends it", idptest.ECPCall{Path: "/saml/ecp?account=prod", Chunked: true}, "prod"},
		{"the account in the header", idptest.ECPCall{Hdr: []string{"X-Rolegate-Account", "111122223333"}}, "prod"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAWSWeb(t)
			c.call.User, c.call.PW, c.call.Body = "alice", "correct horse battery", w.ECPBody()
			resp, body := w.ECP(t, c.call)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
				t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromString(body); err != nil {
				t.Fatal(err)
			}
			h := doc.FindElement("/Envelope/Header/Response")
			if h == nil || h.NamespaceURI() != "urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" || h.SelectAttrValue("AssertionConsumerServiceURL", "") != idptest.SigninACS ||
				h.SelectAttrValue("soap11:mustUnderstand", "") != "1" {
				t.Fatalf("no ecp:Response header with the ACS:\n%s", body)
			}
			raw := asSaml2aws(t, body)
			if bytes.ContainsAny(raw, "\r") || strings.Contains(string(raw), "InResponseTo") {
				t.Fatalf("a carriage return or an InResponseTo in the Response:\n%s", raw)
			}
			v := assertions.InspectAWS(raw, w.Expect(t, idptest.SigninACS))
			if !v.Accepted || !v.ResponseSigned {
				t.Fatalf("AWS would refuse: %v", v.Problems)
			}
			if len(v.Roles) != 2 || v.SessionName != "alice" || v.AuthnContext != assertions.ContextPassword {
				t.Fatalf("verdict %+v", v)
			}
			// xmlsec1, an implementation apart from Rolegate's, verifies both signatures of the
			// Response as the client cut it out and wrote it again.
			cur, err := w.Ring.Current(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, xpath := range []string{samltest.AssertionSignature, samltest.ResponseSignature} {
				if err := samltest.VerifyXMLSec(t, raw, cur.Cert, xpath); err != nil {
					t.Fatal(err)
				}
			}
			if got := w.AuditOf(t, "assertion"); len(got) != 1 || got[0] != "alice ok" {
				t.Fatalf("audit: %v", got)
			}
		})
	}
}

func TestECPRefusesWhatItMustWithAClearFaultAndAnAuditRecord(t *testing.T) {
	ok := idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery"}
	for _, c := range []struct {
		name   string
		mod    func(w *awsWeb, call *idptest.ECPCall)
		status int
		says   string
		audit  string // "type user result" expected among the audit records, when set
	}{
		{"no credentials", func(w *awsWeb, call *idptest.ECPCall) { call.User = "" }, 401, "HTTP Basic", ""},
		{"a wrong password", func(w *awsWeb, call *idptest.ECPCall) { call.PW = "wrong" }, 401, "<faultstring>Wrong username or password.</faultstring>", "login alice bad_credentials"},
		{"an unknown user", func(w *awsWeb, call *idptest.ECPCall) { call.User = "nobody" }, 401, "<faultstring>Wrong username or password.</faultstring>", "login nobody bad_credentials"},
		{"a disabled user", func(w *awsWeb, call *idptest.ECPCall) {
			w.Update(t, "alice", func(u *store.User) { u.Disabled = true })
		}, 401, "<faultstring>Wrong username or password.</faultstring>", "login alice disabled"},
		{"a pending one-time password", func(w *awsWeb, call *idptest.ECPCall) {
			w.Update(t, "alice", func(u *store.User) { u.MustChangePassword = true })
		},
			403, "one-time password", "assertion alice refused"},
		{"an expired one-time password", func(w *awsWeb, call *idptest.ECPCall) {
			w.Update(t, "alice", func(u *store.User) { u.MustChangePassword, u.PasswordExpiresAt = true, w.Clock.Now().Add(-time.Minute) })
		}, 401, "expired", "login alice expired"},
		{"an account where nothing is granted", func(w *awsWeb, call *idptest.ECPCall) { call.Path = "/saml/ecp?account=nosuch" }, 403, "may not sign in", "assertion alice refused"},
		{"mallory asking for prod", func(w *awsWeb, call *idptest.ECPCall) { call.User = "mallory" }, 403, "may not sign in", "assertion mallory refused"},
		{"the query and the header naming different accounts", func(w *awsWeb, call *idptest.ECPCall) { call.Hdr = []string{"X-Rolegate-Account", "gov"} }, 400, "differ", ""},
		{"an ACS of another partition", func(w *awsWeb, call *idptest.ECPCall) {
			call.Path = "/saml/ecp?account=gov"
		}, 400, "not a sign-in endpoint of partition aws-us-gov", "assertion alice refused"},
		{"an ACS elsewhere", func(w *awsWeb, call *idptest.ECPCall) {
			call.Body = idptest.SAML2AWSBody("x1", w.Clock.Now(), "https://evil.example/saml", "urn:amazon:webservices")
		}, 400, "not a sign-in endpoint", "assertion alice refused"},
		{"another service provider's Issuer", func(w *awsWeb, call *idptest.ECPCall) {
			call.Body = idptest.SAML2AWSBody("x1", w.Clock.Now(), idptest.SigninACS, "https://sp.example/metadata")
		}, 400, "must name AWS", ""},
		{"an IssueInstant an hour ahead", func(w *awsWeb, call *idptest.ECPCall) {
			call.Body = idptest.SAML2AWSBody("x1", w.Clock.Now().Add(time.Hour), idptest.SigninACS, "urn:amazon:webservices")
		}, 400, "in the future", ""},
		{"an IssueInstant an hour old", func(w *awsWeb, call *idptest.ECPCall) {
			call.Body = idptest.SAML2AWSBody("x1", w.Clock.Now().Add(-time.Hour), idptest.SigninACS, "urn:amazon:webservices")
		}, 400, "ago", ""},
		{"malformed XML", func(w *awsWeb, call *idptest.ECPCall) {
			call.Body = "<S:Envelope xmlns:S='http://schemas.xmlsoap.org/soap/envelope/'><S:Body>"
		}, 400, "XML", ""},
		{"XML that is no SOAP envelope", func(w *awsWeb, call *idptest.ECPCall) {
			call.Body = `<AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:protocol"/>`
		}, 400, "SOAP 1.1", ""},
		{"an entity bomb", func(w *awsWeb, call *idptest.ECPCall) {
			call.Body = `<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>`
		}, 400, "", ""},
		{"an oversized body", func(w *awsWeb, call *idptest.ECPCall) { call.Body = strings.Repeat(" ", 40<<10) + w.ECPBody() }, 413, "over the limit", ""},
		{"an oversized chunked body", func(w *awsWeb, call *idptest.ECPCall) {
			call.Body, call.Chunked = strings.Repeat(" ", 200<<10)+w.ECPBody(), true
		}, 413, "over the limit", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAWSWeb(t)
			call := ok
			call.Body = w.ECPBody()
			c.mod(w, &call)
			resp, body := w.ECP(t, call)
			if resp.StatusCode != c.status || !strings.Contains(body, "<faultstring>") || !strings.Contains(body, c.says) {
				t.Fatalf("%d, want %d saying %q:\n%s", resp.StatusCode, c.status, c.says, body)
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
			if got := w.AuditOf(t, "assertion"); len(got) > 0 && got[len(got)-1] == "alice ok" {
				t.Fatalf("an assertion was issued: %v", got)
			}
			if c.audit != "" {
				typ, rest, _ := strings.Cut(c.audit, " ")
				if !containsPrefix(w.AuditOf(t, typ), rest) {
					t.Fatalf("no %q in the audit log: %v", c.audit, w.AuditOf(t, typ))
				}
			}
		})
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestECPWantsTheAuthenticatorCodeOnceAndNeverARecoveryCode(t *testing.T) {
	w := newAWSWeb(t)
	secret, recovery := w.Enrolled(t, "alice")
	call := idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery", Body: w.ECPBody()}
	code := mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)

	resp, body := w.ECP(t, call)
	if resp.StatusCode != 401 || !strings.Contains(body, "X-Rolegate-OTP") || !containsPrefix(w.AuditOf(t, "mfa"), "alice missing_code") {
		t.Fatalf("without a code: %d %v\n%s", resp.StatusCode, w.AuditOf(t, "mfa"), body)
	}
	call.Hdr = []string{"X-Rolegate-OTP", recovery[0]}
	if resp, body = w.ECP(t, call); resp.StatusCode != 401 || !strings.Contains(body, "recovery code is not accepted") {
		t.Fatalf("a recovery code: %d\n%s", resp.StatusCode, body)
	}
	call.Hdr = []string{"X-Rolegate-OTP", "000000"}
	if resp, body = w.ECP(t, call); resp.StatusCode != 401 || !strings.Contains(body, "wrong") {
		t.Fatalf("saml2aws's default passcode: %d\n%s", resp.StatusCode, body)
	}
	// saml2aws --mfa passcode --mfa-token CODE sends the Duo header.
	call.Hdr = []string{"X-Shibboleth-Duo-Factor", "passcode", "X-Shibboleth-Duo-Passcode", code}
	resp, body = w.ECP(t, call)
	if resp.StatusCode != 200 {
		t.Fatalf("the right code: %d\n%s", resp.StatusCode, body)
	}
	if v := assertions.InspectAWS(asSaml2aws(t, body), w.Expect(t, idptest.SigninACS)); !v.Accepted || v.AuthnContext != assertions.ContextMFA {
		t.Fatalf("verdict %+v", v)
	}
	call.Hdr = []string{"X-Rolegate-OTP", code}
	if resp, body = w.ECP(t, call); resp.StatusCode != 401 || !strings.Contains(body, "used already") || !containsPrefix(w.AuditOf(t, "mfa"), "alice replayed") {
		t.Fatalf("the same code again: %d\n%s", resp.StatusCode, body)
	}
}

func TestECPCountsAttemptsBeforeThePasswordIsChecked(t *testing.T) {
	w := newAWSWeb(t)
	call := idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "guess", Body: w.ECPBody()}
	var resp *http.Response
	var body string
	for i := 0; i < 10; i++ {
		if resp, body = w.ECP(t, call); resp.StatusCode == 429 {
			break
		}
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many failed attempts") {
		t.Fatalf("guessing is not throttled: %d\n%s", resp.StatusCode, body)
	}
	// While it waits, even the right password is not checked: a guess cannot tell it was right.
	call.PW = "correct horse battery"
	if resp, body = w.ECP(t, call); resp.StatusCode != 429 {
		t.Fatalf("the right password while throttled: %d\n%s", resp.StatusCode, body)
	}
	if !containsPrefix(w.AuditOf(t, "throttle.lock"), "alice locked") {
		t.Fatalf("no lock event: %v", w.AuditOf(t, "throttle.lock"))
	}
}

func TestECPWithoutAnAccountListsEveryRoleWhoseSessionAttributesAgree(t *testing.T) {
	w := newAWSWeb(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// stage is set up like prod (source identity, the same tag): its roles join prod's. sandbox has
	// no tag rule: with prod's tag its session would carry a tag its settings do not give, so it
	// stays out. gov is another partition: its ACS is not the one asked for.
	w.addStage(t)
	must(w.Store.CreateAccount(ctx, &store.Account{ID: "123412341234", Alias: "sandbox", ProviderName: "Rolegate", Partition: store.PartitionAWS,
		SourceIdentitySource: store.FromUsername}))
	must(w.Store.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "sandbox", Role: "Admin", SessionDuration: 2 * time.Hour}))
	// prod's grants: Admin for 2 h (alice) and ReadOnly (devs): prod's own Response lasts 2 h; so does stage's.

	resp, body := w.ECP(t, idptest.ECPCall{User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != 200 {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	v := assertions.InspectAWS(asSaml2aws(t, body), w.Expect(t, idptest.SigninACS))
	var roles []string
	for _, r := range v.Roles {
		roles = append(roles, r.RoleARN)
	}
	want := "arn:aws:iam::111122223333:role/Admin arn:aws:iam::111122223333:role/ReadOnly arn:aws:iam::777788889999:role/Deployer"
	if !v.Accepted || strings.Join(roles, " ") != want || len(v.Tags) != 1 || v.SourceIdentity != "alice" {
		t.Fatalf("roles %v, verdict %+v", roles, v)
	}
	omitted := resp.Header.Get("X-Rolegate-Omitted-Accounts")
	if !strings.Contains(omitted, "sandbox (123412341234)") || !strings.Contains(omitted, "gov (444455556666)") || strings.Contains(omitted, "stage") {
		t.Fatalf("omitted: %q", omitted)
	}
	// Asked for alone, sandbox signs in with its own settings.
	resp, body = w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=sandbox", User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != 200 {
		t.Fatalf("sandbox alone: %d\n%s", resp.StatusCode, body)
	}
	if v := assertions.InspectAWS(asSaml2aws(t, body), w.Expect(t, idptest.SigninACS)); !v.Accepted || len(v.Tags) != 0 || len(v.Roles) != 1 {
		t.Fatalf("sandbox alone: %+v", v)
	}
}

func TestECPRefusesAPasswordOnlySignInToAnAccountThatRequiresMFA(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	resp, body := w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != 403 || !strings.Contains(body, "requires a second factor") || !containsPrefix(w.AuditOf(t, "assertion"), "alice refused") {
		t.Fatalf("%d %v\n%s", resp.StatusCode, w.AuditOf(t, "assertion"), body)
	}
	// Without an account, prod stays out and gov (its own ACS asked for) comes in alone.
	body2 := idptest.SAML2AWSBody("u-1", w.Clock.Now(), "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml", "urn:amazon:webservices:govcloud")
	resp, body = w.ECP(t, idptest.ECPCall{User: "alice", PW: "correct horse battery", Body: body2})
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("X-Rolegate-Omitted-Accounts"), "requires a second factor") {
		t.Fatalf("%d %q\n%s", resp.StatusCode, resp.Header.Get("X-Rolegate-Omitted-Accounts"), body)
	}
	v := assertions.InspectAWS(asSaml2aws(t, body), w.Expect(t, "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml"))
	if !v.Accepted || len(v.Roles) != 1 || v.Roles[0].RoleARN != "arn:aws-us-gov:iam::444455556666:role/Auditor" {
		t.Fatalf("%+v", v)
	}
}

func TestECPCountsWrongCodesAndACorrectPasswordDoesNotResetThem(t *testing.T) {
	w := newAWSWeb(t)
	secret, _ := w.Enrolled(t, "alice")
	call := idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery", Body: w.ECPBody(),
		Hdr: []string{"X-Rolegate-OTP", "000000"}}
	var resp *http.Response
	var body string
	for i := 0; i < 10; i++ {
		if resp, body = w.ECP(t, call); resp.StatusCode == 429 {
			break
		}
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("guessing codes with the right password is not throttled: %d\n%s", resp.StatusCode, body)
	}
	// Each guess came with the right password, which clears only the password's counters: the
	// right code now waits too.
	call.Hdr = []string{"X-Rolegate-OTP", mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)}
	if resp, body = w.ECP(t, call); resp.StatusCode != 429 {
		t.Fatalf("the right code while throttled: %d\n%s", resp.StatusCode, body)
	}
	// Once the wait is over, it signs in.
	w.Clock.Advance(20 * time.Minute)
	call.Body = w.ECPBody()
	call.Hdr = []string{"X-Rolegate-OTP", mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)}
	if resp, body = w.ECP(t, call); resp.StatusCode != 200 {
		t.Fatalf("after the wait: %d\n%s", resp.StatusCode, body)
	}
}

func TestECPOverTheRateLimitGetsASOAPFaultAndNoWork(t *testing.T) {
	w := newAWSWebWith(t, func(cfg *idp.Config) { cfg.RateBurst, cfg.RateEvery = 2, time.Minute })
	call := idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "wrong", Body: w.ECPBody()}
	for i := 0; i < 2; i++ {
		w.ECP(t, call)
	}
	resp, body := w.ECP(t, call)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "<faultstring>Too many requests") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	if got := w.AuditOf(t, "login"); len(got) != 2 {
		t.Fatalf("the password was checked over the rate: %v", got)
	}
}

// addStage adds the account stage, set up like prod (source identity from the user name, the
// transitive tag team), where alice is Deployer for 2 hours, as she is Admin in prod.
func (w *awsWeb) addStage(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, err := range []error{
		w.Store.CreateAccount(ctx, &store.Account{ID: "777788889999", Alias: "stage", ProviderName: "Rolegate", Partition: store.PartitionAWS,
			SourceIdentitySource: store.FromUsername}),
		w.Store.CreateTagRule(ctx, &store.TagRule{AccountID: "stage", Key: "team", FromAttr: "team", Transitive: true}),
		w.Store.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "stage", Role: "Deployer", SessionDuration: 2 * time.Hour}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}
