package idp_test

import (
	"context"
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/store"
)

// awsWeb is a web fixture with signing keys and AWS data: alice is in devs, which has ReadOnly in
// prod; alice herself has Admin there; prod has a tag rule; gov is a GovCloud account.
type awsWeb struct {
	*web
	ring *certs.Keyring
	kek  *certs.KEK
}

func newAWSWeb(t *testing.T, demo ...string) *awsWeb {
	t.Helper()
	return newAWSWebWith(t, func(cfg *idp.Config) { cfg.DemoAccounts = demo })
}

// newAWSWebWith is newAWSWeb with settings changed by mod.
func newAWSWebWith(t *testing.T, mod func(*idp.Config)) *awsWeb {
	t.Helper()
	ctx := context.Background()
	st := testStore(t)
	w := &awsWeb{web: &web{store: st, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, hasher: newHasher()}}
	w.ring = testRing(t, st, w.clock.Now)
	var h http.Handler
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { h.ServeHTTP(rw, r) }))
	t.Cleanup(w.srv.Close)
	w.kek = testKEK(t)
	cfg := idp.Config{BaseURL: w.srv.URL, Hasher: w.hasher, Now: w.clock.Now, Secrets: w.kek}
	mod(&cfg)
	h = idp.New(cfg, st, w.ring, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()

	w.addUser(t, "alice", "correct horse battery", func(u *store.User) {
		u.Email, u.Attributes = "alice@example.com", map[string]string{"team": "platform"}
	})
	w.addUser(t, "mallory", "correct horse battery")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateGroup(ctx, &store.Group{Name: "devs"}))
	must(st.AddGroupMember(ctx, "devs", "alice"))
	must(st.CreateAccount(ctx, &store.Account{ID: "111122223333", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS,
		SourceIdentitySource: store.FromUsername}))
	must(st.CreateAccount(ctx, &store.Account{ID: "444455556666", Alias: "gov", ProviderName: "Rolegate", Partition: store.PartitionGovCloud,
		Region: "us-gov-west-1"}))
	must(st.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: "prod", Role: "ReadOnly"}))
	must(st.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "prod", Role: "Admin", SessionDuration: 2 * time.Hour}))
	must(st.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "gov", Role: "Auditor"}))
	must(st.CreateTagRule(ctx, &store.TagRule{AccountID: "prod", Key: "team", FromAttr: "team", Transitive: true}))
	return w
}

var (
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)" id="aws-form">`)
	samlRE   = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
	relayRE  = regexp.MustCompile(`name="RelayState" value="([^"]*)"`)
)

// post is what the auto-POST page would send.
type post struct{ action, response, relay string }

func signInPost(t *testing.T, b *browser, path string) post {
	t.Helper()
	resp, body := b.get(path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
	}
	a, s := actionRE.FindStringSubmatch(body), samlRE.FindStringSubmatch(body)
	if a == nil || s == nil {
		t.Fatalf("GET %s: no auto-POST form:\n%s", path, body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(s[1]))
	if err != nil {
		t.Fatal(err)
	}
	p := post{action: html.UnescapeString(a[1]), response: string(raw)}
	if r := relayRE.FindStringSubmatch(body); r != nil {
		p.relay = html.UnescapeString(r[1])
	}
	return p
}

func (w *awsWeb) expect(t *testing.T, acs string) assertions.Expect {
	t.Helper()
	keys, err := w.ring.Published(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := assertions.Expect{EntityID: w.srv.URL + "/saml/metadata", ACS: acs, Now: time.Now()}
	for _, k := range keys {
		e.Certs = append(e.Certs, k.Cert)
	}
	return e
}

func TestSignInToAWSPostsASignedResponseThatAWSWouldAccept(t *testing.T) {
	w := newAWSWeb(t)
	b := w.browser(t)
	b.login("alice", "correct horse battery")
	const acs = "https://signin.aws.amazon.com/saml"
	relay := "https://us-east-2.console.aws.amazon.com/ec2/home?region=us-east-2"
	p := signInPost(t, b, "/aws/signin?account=prod&role=Admin&relay_state="+strings.ReplaceAll(relay, "?", "%3F"))
	if p.action != acs || p.relay != relay {
		t.Fatalf("form posts to %q with RelayState %q", p.action, p.relay)
	}
	v := assertions.InspectAWS([]byte(p.response), w.expect(t, acs))
	if !v.Accepted {
		t.Fatalf("AWS would refuse: %v", v.Problems)
	}
	if len(v.Roles) != 1 || v.Roles[0].RoleARN != "arn:aws:iam::111122223333:role/Admin" || v.SessionName != "alice" ||
		v.SourceIdentity != "alice" || len(v.Tags) != 1 || !v.Tags[0].Transitive || v.SessionDuration > 2*time.Hour {
		t.Fatalf("verdict %+v", v)
	}
	cur, err := w.ring.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, xpath := range []string{samltest.AssertionSignature, samltest.ResponseSignature} {
		if err := samltest.VerifyXMLSec(t, []byte(p.response), cur.Cert, xpath); err != nil {
			t.Fatal(err)
		}
	}
	events := w.auditOf(t, "assertion")
	if len(events) != 1 || events[0] != "alice ok" {
		t.Fatalf("audit: %v", events)
	}
}

func TestEveryGrantedRoleAndThePartitionsEndpoint(t *testing.T) {
	w := newAWSWeb(t)
	b := w.browser(t)
	b.login("alice", "correct horse battery")
	p := signInPost(t, b, "/aws/signin?account=111122223333")
	v := assertions.InspectAWS([]byte(p.response), w.expect(t, "https://signin.aws.amazon.com/saml"))
	if !v.Accepted || len(v.Roles) != 2 {
		t.Fatalf("all roles: %v %+v", v.Problems, v.Roles)
	}
	p = signInPost(t, b, "/aws/signin?account=prod&role=ReadOnly&region=eu-west-1")
	if p.action != "https://eu-west-1.signin.aws.amazon.com/saml" {
		t.Fatalf("regional endpoint: %s", p.action)
	}
	p = signInPost(t, b, "/aws/signin?account=gov")
	v = assertions.InspectAWS([]byte(p.response), w.expect(t, "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml"))
	if !v.Accepted || p.action != "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml" ||
		v.Roles[0].RoleARN != "arn:aws-us-gov:iam::444455556666:role/Auditor" {
		t.Fatalf("GovCloud: %s %v %+v", p.action, v.Problems, v.Roles)
	}
}

func TestSignInRefusesWhatIsNotGrantedOrNotSafe(t *testing.T) {
	w := newAWSWeb(t)
	alice, mallory := w.browser(t), w.browser(t)
	alice.login("alice", "correct horse battery")
	mallory.login("mallory", "correct horse battery")
	for _, tc := range []struct {
		name   string
		b      *browser
		path   string
		status int
		says   string
	}{
		{"a role not granted", alice, "/aws/signin?account=prod&role=Root", 403, "not granted role"},
		{"an account with no grant for the user", mallory, "/aws/signin?account=prod", 403, "not granted any role"},
		{"an account that does not exist, answered alike", alice, "/aws/signin?account=999999999999", 403, "not granted any role"},
		{"no account", alice, "/aws/signin", 400, "names no account"},
		{"a RelayState off the console", alice, "/aws/signin?account=prod&relay_state=https%3A%2F%2Fevil.example%2F", 400, "RelayState"},
		{"a RelayState of another partition", alice, "/aws/signin?account=gov&relay_state=https%3A%2F%2Fconsole.aws.amazon.com%2F", 400, "RelayState"},
		{"a region of another partition", alice, "/aws/signin?account=prod&region=cn-north-1", 400, "not in partition"},
		{"a region that is not a region", alice, "/aws/signin?account=prod&region=evil.com%2F", 400, "invalid region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.b.get(tc.path)
			if resp.StatusCode != tc.status || !strings.Contains(html.UnescapeString(body), tc.says) || strings.Contains(body, "SAMLResponse") {
				t.Fatalf("%d, want %d saying %q:\n%s", resp.StatusCode, tc.status, tc.says, body)
			}
		})
	}
	var refused int
	for _, e := range w.auditOf(t, "assertion") {
		if strings.Contains(e, "refused") {
			refused++
		}
	}
	if refused < 6 {
		t.Fatalf("refusals are audited: %v", w.auditOf(t, "assertion"))
	}
}

func TestSignInNeedsASessionAndComesBackAfterLogin(t *testing.T) {
	w := newAWSWeb(t)
	b := w.browser(t)
	resp, body := b.get("/aws/signin?account=prod&role=Admin")
	wantRedirect(t, resp, body, "/login?next=%2Faws%2Fsignin%3Faccount%3Dprod%26role%3DAdmin")
	resp, body = b.login("alice", "correct horse battery", "next", "/aws/signin?account=prod&role=Admin")
	wantRedirect(t, resp, body, "/aws/signin?account=prod&role=Admin")
}

func TestTheAutoPostPageAllowsOnlyTheACSAndTheNoncedScript(t *testing.T) {
	w := newAWSWeb(t)
	b := w.browser(t)
	b.login("alice", "correct horse battery")
	resp, body := b.get("/aws/signin?account=prod&role=Admin")
	csp := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`script-src 'nonce-([^']+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(csp, "form-action 'self' https://signin.aws.amazon.com;") || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q", csp)
	}
	if !strings.Contains(body, `<script nonce="`+m[1]+`">`) || !strings.Contains(body, "<noscript>") {
		t.Fatalf("the page needs the nonced script and a noscript button:\n%s", body)
	}
}

func TestTheDemoCheckerSaysWhatAWSWouldDo(t *testing.T) {
	w := newAWSWeb(t, "111122223333")
	b := w.browser(t)
	b.login("alice", "correct horse battery")
	p := signInPost(t, b, "/aws/signin?account=prod&role=Admin")
	if p.action != w.srv.URL+"/debug/aws-signin" {
		t.Fatalf("demo account posts to %s", p.action)
	}
	resp, body := b.do(http.MethodPost, "/debug/aws-signin", map[string][]string{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(p.response))}})
	if resp.StatusCode != 200 || !strings.Contains(body, "AWS would sign you in") || !strings.Contains(body, "arn:aws:iam::111122223333:role/Admin") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	tampered := strings.Replace(p.response, "role/Admin", "role/Admim", 1)
	resp, body = b.do(http.MethodPost, "/debug/aws-signin", map[string][]string{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(tampered))}})
	if resp.StatusCode != 422 || !strings.Contains(body, "AWS would refuse") || !strings.Contains(body, "does not verify") {
		t.Fatalf("tampered: %d\n%s", resp.StatusCode, body)
	}
	// Outside demo mode the checker does not exist.
	plain := newAWSWeb(t)
	if resp, _ := plain.browser(t).do(http.MethodPost, "/debug/aws-signin", nil); resp.StatusCode != 404 && resp.StatusCode != 405 {
		t.Fatalf("checker outside demo mode: %d", resp.StatusCode)
	}
}

func TestASignInLinkFromAnotherSiteWaitsForAClick(t *testing.T) {
	w := newAWSWeb(t)
	b := w.browser(t)
	b.login("alice", "correct horse battery")
	for _, tc := range []struct {
		site    string
		confirm bool
	}{{"", false}, {"same-origin", false}, {"none", false}, {"cross-site", true}, {"same-site", true}} {
		resp, body := b.get("/aws/signin?account=prod&role=Admin")
		if tc.site != "" {
			resp, body = b.do(http.MethodGet, "/aws/signin?account=prod&role=Admin", nil, "Sec-Fetch-Site", tc.site)
		}
		auto := strings.Contains(body, "<script nonce=")
		asks := strings.Contains(body, "You followed a link from another site")
		if resp.StatusCode != 200 || auto == tc.confirm || asks != tc.confirm || !strings.Contains(body, `name="SAMLResponse"`) {
			t.Errorf("Sec-Fetch-Site %q: status %d, auto-submit %v, asks %v", tc.site, resp.StatusCode, auto, asks)
		}
	}
}
