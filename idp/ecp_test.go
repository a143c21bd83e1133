package idp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/idp"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// saml2awsBody is the SOAP request saml2aws's ShibbolethECP provider sends (its template,
// byte for byte): a bare UUID for the ID, the local time with its offset, a padded Issuer.
func saml2awsBody(id string, at time.Time, acs, issuer string) string {
	return `
<S:Envelope 
    xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"
    xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" 
    xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp">
    <S:Body> 
        <saml2p:AuthnRequest
		ID="` + id + `" 
		ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS"
		AssertionConsumerServiceURL="` + acs + `"
		IssueInstant="` + at.Format(time.RFC3339) + `"
		Version="2.0">
			<saml2:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">
				` + issuer + `
			</saml2:Issuer>
		</saml2p:AuthnRequest>       
     </S:Body> 
</S:Envelope>`
}

const signinACS = "https://signin.aws.amazon.com/saml"

// ecpBody is saml2aws's request, issued now in UTC+10.
func (w *awsWeb) ecpBody() string {
	return saml2awsBody("36eab3be-da04-41d0-90a4-cf710ba49564", w.clock.Now().In(time.FixedZone("AEST", 10*3600)), signinACS, "urn:amazon:webservices")
}

// ecpCall is one ECP request: Basic credentials (none when user is ""), a body sent chunked when
// chunked, and header pairs.
type ecpCall struct {
	path, user, pw, body string
	chunked              bool
	hdr                  []string
}

func (w *awsWeb) ecp(t *testing.T, call ecpCall) (*http.Response, string) {
	t.Helper()
	var body io.Reader = strings.NewReader(call.body)
	if call.chunked {
		body = io.MultiReader(strings.NewReader(call.body)) // no length: Transfer-Encoding chunked
	}
	path := call.path
	if path == "" {
		path = "/saml/ecp"
	}
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	if call.user != "" {
		req.SetBasicAuth(call.user, call.pw)
	}
	for i := 0; i+1 < len(call.hdr); i += 2 {
		req.Header.Set(call.hdr[i], call.hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if call.chunked && len(resp.Request.TransferEncoding) == 0 && req.ContentLength > 0 {
		t.Fatal("the request was not sent chunked")
	}
	return resp, string(b)
}

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
		call    ecpCall
		account string
	}{
		{"a plain body, the account in the URL", ecpCall{path: "/saml/ecp?account=prod"}, "prod"},
		{"a chunked body, as saml2aws sends it", ecpCall{path: "/saml/ecp?account=prod", chunked: true}, "prod"},
		{"the account in the header", ecpCall{hdr: []string{"X-Rolegate-Account", "111122223333"}}, "prod"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAWSWeb(t)
			c.call.user, c.call.pw, c.call.body = "alice", "correct horse battery", w.ecpBody()
			resp, body := w.ecp(t, c.call)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
				t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromString(body); err != nil {
				t.Fatal(err)
			}
			h := doc.FindElement("/Envelope/Header/Response")
			if h == nil || h.NamespaceURI() != "urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" || h.SelectAttrValue("AssertionConsumerServiceURL", "") != signinACS ||
				h.SelectAttrValue("soap11:mustUnderstand", "") != "1" {
				t.Fatalf("no ecp:Response header with the ACS:\n%s", body)
			}
			raw := asSaml2aws(t, body)
			if bytes.ContainsAny(raw, "\r") || strings.Contains(string(raw), "InResponseTo") {
				t.Fatalf("a carriage return or an InResponseTo in the Response:\n%s", raw)
			}
			v := assertions.InspectAWS(raw, w.expect(t, signinACS))
			if !v.Accepted || !v.ResponseSigned {
				t.Fatalf("AWS would refuse: %v", v.Problems)
			}
			if len(v.Roles) != 2 || v.SessionName != "alice" || v.AuthnContext != assertions.ContextPassword {
				t.Fatalf("verdict %+v", v)
			}
			// xmlsec1, an implementation apart from Rolegate's, verifies both signatures of the
			// Response as the client cut it out and wrote it again.
			cur, err := w.ring.Current(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, xpath := range []string{samltest.AssertionSignature, samltest.ResponseSignature} {
				if err := samltest.VerifyXMLSec(t, raw, cur.Cert, xpath); err != nil {
					t.Fatal(err)
				}
			}
			if got := w.auditOf(t, "assertion"); len(got) != 1 || got[0] != "alice ok" {
				t.Fatalf("audit: %v", got)
			}
		})
	}
}

func TestECPRefusesWhatItMustWithAClearFaultAndAnAuditRecord(t *testing.T) {
	ok := ecpCall{path: "/saml/ecp?account=prod", user: "alice", pw: "correct horse battery"}
	for _, c := range []struct {
		name   string
		mod    func(w *awsWeb, call *ecpCall)
		status int
		says   string
		audit  string // "type user result" expected among the audit records, when set
	}{
		{"no credentials", func(w *awsWeb, call *ecpCall) { call.user = "" }, 401, "HTTP Basic", ""},
		{"a wrong password", func(w *awsWeb, call *ecpCall) { call.pw = "wrong" }, 401, "<faultstring>Wrong username or password.</faultstring>", "login alice bad_credentials"},
		{"an unknown user", func(w *awsWeb, call *ecpCall) { call.user = "nobody" }, 401, "<faultstring>Wrong username or password.</faultstring>", "login nobody bad_credentials"},
		{"a disabled user", func(w *awsWeb, call *ecpCall) { w.update(t, "alice", func(u *store.User) { u.Disabled = true }) }, 401, "<faultstring>Wrong username or password.</faultstring>", "login alice disabled"},
		{"a pending one-time password", func(w *awsWeb, call *ecpCall) {
			w.update(t, "alice", func(u *store.User) { u.MustChangePassword = true })
		},
			403, "one-time password", "assertion alice refused"},
		{"an expired one-time password", func(w *awsWeb, call *ecpCall) {
			w.update(t, "alice", func(u *store.User) { u.MustChangePassword, u.PasswordExpiresAt = true, w.clock.Now().Add(-time.Minute) })
		}, 401, "expired", "login alice expired"},
		{"an account where nothing is granted", func(w *awsWeb, call *ecpCall) { call.path = "/saml/ecp?account=nosuch" }, 403, "may not sign in", "assertion alice refused"},
		{"mallory asking for prod", func(w *awsWeb, call *ecpCall) { call.user = "mallory" }, 403, "may not sign in", "assertion mallory refused"},
		{"the query and the header naming different accounts", func(w *awsWeb, call *ecpCall) { call.hdr = []string{"X-Rolegate-Account", "gov"} }, 400, "differ", ""},
		{"an ACS of another partition", func(w *awsWeb, call *ecpCall) {
			call.path = "/saml/ecp?account=gov"
		}, 400, "not a sign-in endpoint of partition aws-us-gov", "assertion alice refused"},
		{"an ACS elsewhere", func(w *awsWeb, call *ecpCall) {
			call.body = saml2awsBody("x1", w.clock.Now(), "https://evil.example/saml", "urn:amazon:webservices")
		}, 400, "not a sign-in endpoint", "assertion alice refused"},
		{"another service provider's Issuer", func(w *awsWeb, call *ecpCall) {
			call.body = saml2awsBody("x1", w.clock.Now(), signinACS, "https://sp.example/metadata")
		}, 400, "must name AWS", ""},
		{"an IssueInstant an hour ahead", func(w *awsWeb, call *ecpCall) {
			call.body = saml2awsBody("x1", w.clock.Now().Add(time.Hour), signinACS, "urn:amazon:webservices")
		}, 400, "in the future", ""},
		{"an IssueInstant an hour old", func(w *awsWeb, call *ecpCall) {
			call.body = saml2awsBody("x1", w.clock.Now().Add(-time.Hour), signinACS, "urn:amazon:webservices")
		}, 400, "ago", ""},
		{"malformed XML", func(w *awsWeb, call *ecpCall) {
			call.body = "<S:Envelope xmlns:S='http://schemas.xmlsoap.org/soap/envelope/'><S:Body>"
		}, 400, "XML", ""},
		{"XML that is no SOAP envelope", func(w *awsWeb, call *ecpCall) {
			call.body = `<AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:protocol"/>`
		}, 400, "SOAP 1.1", ""},
		{"an entity bomb", func(w *awsWeb, call *ecpCall) {
			call.body = `<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>`
		}, 400, "", ""},
		{"an oversized body", func(w *awsWeb, call *ecpCall) { call.body = strings.Repeat(" ", 40<<10) + w.ecpBody() }, 413, "over the limit", ""},
		{"an oversized chunked body", func(w *awsWeb, call *ecpCall) {
			call.body, call.chunked = strings.Repeat(" ", 200<<10)+w.ecpBody(), true
		}, 413, "over the limit", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAWSWeb(t)
			call := ok
			call.body = w.ecpBody()
			c.mod(w, &call)
			resp, body := w.ecp(t, call)
			if resp.StatusCode != c.status || !strings.Contains(body, "<faultstring>") || !strings.Contains(body, c.says) {
				t.Fatalf("%d, want %d saying %q:\n%s", resp.StatusCode, c.status, c.says, body)
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
			if got := w.auditOf(t, "assertion"); len(got) > 0 && got[len(got)-1] == "alice ok" {
				t.Fatalf("an assertion was issued: %v", got)
			}
			if c.audit != "" {
				typ, rest, _ := strings.Cut(c.audit, " ")
				if !containsPrefix(w.auditOf(t, typ), rest) {
					t.Fatalf("no %q in the audit log: %v", c.audit, w.auditOf(t, typ))
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

// update changes a user in the store.
func (w *awsWeb) update(t *testing.T, name string, mod func(*store.User)) {
	t.Helper()
	if _, err := w.store.UpdateUser(context.Background(), name, func(u *store.User) error { mod(u); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestECPWantsTheAuthenticatorCodeOnceAndNeverARecoveryCode(t *testing.T) {
	w := newAWSWeb(t)
	secret, recovery := w.enrolled(t, "alice")
	call := ecpCall{path: "/saml/ecp?account=prod", user: "alice", pw: "correct horse battery", body: w.ecpBody()}
	code := mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)

	resp, body := w.ecp(t, call)
	if resp.StatusCode != 401 || !strings.Contains(body, "X-Rolegate-OTP") || !containsPrefix(w.auditOf(t, "mfa"), "alice missing_code") {
		t.Fatalf("without a code: %d %v\n%s", resp.StatusCode, w.auditOf(t, "mfa"), body)
	}
	call.hdr = []string{"X-Rolegate-OTP", recovery[0]}
	if resp, body = w.ecp(t, call); resp.StatusCode != 401 || !strings.Contains(body, "recovery code is not accepted") {
		t.Fatalf("a recovery code: %d\n%s", resp.StatusCode, body)
	}
	call.hdr = []string{"X-Rolegate-OTP", "000000"}
	if resp, body = w.ecp(t, call); resp.StatusCode != 401 || !strings.Contains(body, "wrong") {
		t.Fatalf("saml2aws's default passcode: %d\n%s", resp.StatusCode, body)
	}
	// saml2aws --mfa passcode --mfa-token CODE sends the Duo header.
	call.hdr = []string{"X-Shibboleth-Duo-Factor", "passcode", "X-Shibboleth-Duo-Passcode", code}
	resp, body = w.ecp(t, call)
	if resp.StatusCode != 200 {
		t.Fatalf("the right code: %d\n%s", resp.StatusCode, body)
	}
	if v := assertions.InspectAWS(asSaml2aws(t, body), w.expect(t, signinACS)); !v.Accepted || v.AuthnContext != assertions.ContextMFA {
		t.Fatalf("verdict %+v", v)
	}
	call.hdr = []string{"X-Rolegate-OTP", code}
	if resp, body = w.ecp(t, call); resp.StatusCode != 401 || !strings.Contains(body, "used already") || !containsPrefix(w.auditOf(t, "mfa"), "alice replayed") {
		t.Fatalf("the same code again: %d\n%s", resp.StatusCode, body)
	}
}

func TestECPCountsAttemptsBeforeThePasswordIsChecked(t *testing.T) {
	w := newAWSWeb(t)
	call := ecpCall{path: "/saml/ecp?account=prod", user: "alice", pw: "guess", body: w.ecpBody()}
	var resp *http.Response
	var body string
	for i := 0; i < 10; i++ {
		if resp, body = w.ecp(t, call); resp.StatusCode == 429 {
			break
		}
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many failed attempts") {
		t.Fatalf("guessing is not throttled: %d\n%s", resp.StatusCode, body)
	}
	// While it waits, even the right password is not checked: a guess cannot tell it was right.
	call.pw = "correct horse battery"
	if resp, body = w.ecp(t, call); resp.StatusCode != 429 {
		t.Fatalf("the right password while throttled: %d\n%s", resp.StatusCode, body)
	}
	if !containsPrefix(w.auditOf(t, "throttle.lock"), "alice locked") {
		t.Fatalf("no lock event: %v", w.auditOf(t, "throttle.lock"))
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
	must(w.store.CreateAccount(ctx, &store.Account{ID: "123412341234", Alias: "sandbox", ProviderName: "Rolegate", Partition: store.PartitionAWS,
		SourceIdentitySource: store.FromUsername}))
	must(w.store.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "sandbox", Role: "Admin", SessionDuration: 2 * time.Hour}))
	// prod's grants: Admin for 2 h (alice) and ReadOnly (devs): prod's own Response lasts 2 h; so does stage's.

	resp, body := w.ecp(t, ecpCall{user: "alice", pw: "correct horse battery", body: w.ecpBody()})
	if resp.StatusCode != 200 {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	v := assertions.InspectAWS(asSaml2aws(t, body), w.expect(t, signinACS))
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
	resp, body = w.ecp(t, ecpCall{path: "/saml/ecp?account=sandbox", user: "alice", pw: "correct horse battery", body: w.ecpBody()})
	if resp.StatusCode != 200 {
		t.Fatalf("sandbox alone: %d\n%s", resp.StatusCode, body)
	}
	if v := assertions.InspectAWS(asSaml2aws(t, body), w.expect(t, signinACS)); !v.Accepted || len(v.Tags) != 0 || len(v.Roles) != 1 {
		t.Fatalf("sandbox alone: %+v", v)
	}
}

func TestECPRefusesAPasswordOnlySignInToAnAccountThatRequiresMFA(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	resp, body := w.ecp(t, ecpCall{path: "/saml/ecp?account=prod", user: "alice", pw: "correct horse battery", body: w.ecpBody()})
	if resp.StatusCode != 403 || !strings.Contains(body, "requires a second factor") || !containsPrefix(w.auditOf(t, "assertion"), "alice refused") {
		t.Fatalf("%d %v\n%s", resp.StatusCode, w.auditOf(t, "assertion"), body)
	}
	// Without an account, prod stays out and gov (its own ACS asked for) comes in alone.
	body2 := saml2awsBody("u-1", w.clock.Now(), "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml", "urn:amazon:webservices:govcloud")
	resp, body = w.ecp(t, ecpCall{user: "alice", pw: "correct horse battery", body: body2})
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("X-Rolegate-Omitted-Accounts"), "requires a second factor") {
		t.Fatalf("%d %q\n%s", resp.StatusCode, resp.Header.Get("X-Rolegate-Omitted-Accounts"), body)
	}
	v := assertions.InspectAWS(asSaml2aws(t, body), w.expect(t, "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml"))
	if !v.Accepted || len(v.Roles) != 1 || v.Roles[0].RoleARN != "arn:aws-us-gov:iam::444455556666:role/Auditor" {
		t.Fatalf("%+v", v)
	}
}

func TestECPCountsWrongCodesAndACorrectPasswordDoesNotResetThem(t *testing.T) {
	w := newAWSWeb(t)
	secret, _ := w.enrolled(t, "alice")
	call := ecpCall{path: "/saml/ecp?account=prod", user: "alice", pw: "correct horse battery", body: w.ecpBody(),
		hdr: []string{"X-Rolegate-OTP", "000000"}}
	var resp *http.Response
	var body string
	for i := 0; i < 10; i++ {
		if resp, body = w.ecp(t, call); resp.StatusCode == 429 {
			break
		}
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("guessing codes with the right password is not throttled: %d\n%s", resp.StatusCode, body)
	}
	// Each guess came with the right password, which clears only the password's counters: the
	// right code now waits too.
	call.hdr = []string{"X-Rolegate-OTP", mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)}
	if resp, body = w.ecp(t, call); resp.StatusCode != 429 {
		t.Fatalf("the right code while throttled: %d\n%s", resp.StatusCode, body)
	}
	// Once the wait is over, it signs in.
	w.clock.Advance(20 * time.Minute)
	call.body = w.ecpBody()
	call.hdr = []string{"X-Rolegate-OTP", mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)}
	if resp, body = w.ecp(t, call); resp.StatusCode != 200 {
		t.Fatalf("after the wait: %d\n%s", resp.StatusCode, body)
	}
}

func TestECPOverTheRateLimitGetsASOAPFaultAndNoWork(t *testing.T) {
	w := newAWSWebWith(t, func(cfg *idp.Config) { cfg.RateBurst, cfg.RateEvery = 2, time.Minute })
	call := ecpCall{path: "/saml/ecp?account=prod", user: "alice", pw: "wrong", body: w.ecpBody()}
	for i := 0; i < 2; i++ {
		w.ecp(t, call)
	}
	resp, body := w.ecp(t, call)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "<faultstring>Too many requests") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	if got := w.auditOf(t, "login"); len(got) != 2 {
		t.Fatalf("the password was checked over the rate: %v", got)
	}
}

// addStage adds the account stage, set up like prod (source identity from the user name, the
// transitive tag team), where alice is Deployer for 2 hours, as she is Admin in prod.
func (w *awsWeb) addStage(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, err := range []error{
		w.store.CreateAccount(ctx, &store.Account{ID: "777788889999", Alias: "stage", ProviderName: "Rolegate", Partition: store.PartitionAWS,
			SourceIdentitySource: store.FromUsername}),
		w.store.CreateTagRule(ctx, &store.TagRule{AccountID: "stage", Key: "team", FromAttr: "team", Transitive: true}),
		w.store.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "stage", Role: "Deployer", SessionDuration: 2 * time.Hour}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}
