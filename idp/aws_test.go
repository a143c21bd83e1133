package idp_test

import (
	"context"
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/mfa"
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
	p = signInPost(t, b, "/aws/signin?account=gov&region=us-gov-west-1")
	if p.action != "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml" {
		t.Fatalf("the account's own region asked for: %s", p.action)
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
		{"a role not granted", alice, "/aws/signin?account=prod&role=Root", 403, "you may not sign in with that link"},
		{"an account with no grant for the user", mallory, "/aws/signin?account=prod", 403, "you may not sign in with that link"},
		{"an account that does not exist, answered alike", alice, "/aws/signin?account=999999999999", 403, "you may not sign in with that link"},
		{"no account", alice, "/aws/signin", 400, "names no account"},
		{"a RelayState off the console", alice, "/aws/signin?account=prod&relay_state=https%3A%2F%2Fevil.example%2F", 400, "RelayState"},
		{"a RelayState of another partition", alice, "/aws/signin?account=gov&relay_state=https%3A%2F%2Fconsole.aws.amazon.com%2F", 400, "RelayState"},
		{"a region of another partition", alice, "/aws/signin?account=prod&region=cn-north-1", 400, "not in partition"},
		{"a region that is not a region", alice, "/aws/signin?account=prod&region=evil.com%2F", 400, "invalid region"},
		{"a region other than the account's, which its trust policies do not name", alice, "/aws/signin?account=prod&region=eu-west-1", 400,
			"signs in at https://signin.aws.amazon.com/saml only"},
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
	resp, body := b.get(b.portalLink("111122223333", "Admin"))
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

var portalLinkRE = regexp.MustCompile(`href="(/aws/signin\?[^"]*)"`)

// portalLink returns the portal's link to account (an ID) with role ("" for all roles).
func (b *browser) portalLink(account, role string) string {
	b.t.Helper()
	_, body := b.get("/")
	for _, m := range portalLinkRE.FindAllStringSubmatch(body, -1) {
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err == nil && u.Query().Get("account") == account && u.Query().Get("role") == role {
			return u.String()
		}
	}
	b.t.Fatalf("the portal has no link to account %s role %q:\n%s", account, role, body)
	return ""
}

// autoPosts reports whether an aws_post page submits itself, and whether it asks for a click.
func autoPosts(body string) (auto, asks bool) {
	return strings.Contains(body, "<script nonce="), strings.Contains(body, "did not come from your accounts page")
}

func TestOnlyAClickOnThisSessionsPortalSignsInAtOnce(t *testing.T) {
	w := newAWSWeb(t)
	w.openWindow(t, "", time.Hour) // alice may add her first factor with her password
	b := w.browser(t)
	b.login("alice", "correct horse battery")
	link := b.portalLink("111122223333", "Admin")
	other := w.browser(t)
	other.login("alice", "correct horse battery")
	othersLink := other.portalLink("111122223333", "Admin")
	readOnly := b.portalLink("111122223333", "ReadOnly")
	u, _ := url.Parse(readOnly)
	q := u.Query()
	q.Set("role", "Admin") // ReadOnly's token on the Admin link
	moved := "/aws/signin?" + q.Encode()
	q = u.Query()
	q.Set("relay_state", "https://console.aws.amazon.com/iam/home") // a place the portal did not link to
	relayed := "/aws/signin?" + q.Encode()
	for _, tc := range []struct {
		name, path, site string
		auto             bool
	}{
		{"the portal's link, clicked on the portal", link, "same-origin", true},
		{"the portal's link, from a client that sends no Sec-Fetch-Site", link, "", true},
		{"the portal's link, followed from another site", link, "cross-site", false},
		{"the portal's link, followed from a sibling site", link, "same-site", false},
		{"the portal's link, typed or bookmarked", link, "none", false},
		{"a bare link, even from this site", "/aws/signin?account=prod&role=Admin", "same-origin", false},
		{"a bare link from another site", "/aws/signin?account=prod&role=Admin", "cross-site", false},
		{"another session's portal link", othersLink, "same-origin", false},
		{"one role's token on another role's link", moved, "same-origin", false},
		{"a portal token with a RelayState added", relayed, "same-origin", false},
		{"a forged token", "/aws/signin?account=111122223333&role=Admin&portal_token=AAAA", "same-origin", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := b.do(http.MethodGet, tc.path, nil, "Sec-Fetch-Site", tc.site)
			auto, asks := autoPosts(body)
			if resp.StatusCode != 200 || auto != tc.auto || asks == tc.auto || !strings.Contains(body, `name="SAMLResponse"`) {
				t.Fatalf("status %d, submits itself %v, asks for a click %v; want submits itself %v\n%s", resp.StatusCode, auto, asks, tc.auto, body)
			}
			if !tc.auto && !strings.Contains(body, "Continue to AWS account prod") {
				t.Errorf("the page waiting for a click does not name the account on its button:\n%s", body)
			}
		})
	}
}

func TestANextLinkThroughTheSignInFormWaitsForAClick(t *testing.T) {
	w := newAWSWeb(t)
	b := w.browser(t)
	// A page elsewhere sends the signed-out victim to sign in, with next set to a sign-in link.
	target := "/aws/signin?account=prod&role=Admin&relay_state=" + url.QueryEscape("https://console.aws.amazon.com/iam/home")
	resp, body := b.login("alice", "correct horse battery", "next", target)
	wantRedirect(t, resp, body, target)
	resp, body = b.do(http.MethodGet, target, nil, "Sec-Fetch-Site", "same-origin") // the redirect comes from this site
	if auto, asks := autoPosts(body); resp.StatusCode != 200 || auto || !asks {
		t.Fatalf("status %d, submits itself %v, asks for a click %v:\n%s", resp.StatusCode, auto, asks, body)
	}
}

func TestANextLinkThroughTheSecondStepWaitsForAClick(t *testing.T) {
	w := newAWSWeb(t)
	b := w.browser(t)
	b.login("alice", "correct horse battery")
	secret, _ := b.enrollTOTP(w.clock.Now(), w.invite(t, "alice", time.Hour))
	w.clock.Advance(time.Minute)
	victim := w.browser(t)
	target := "/aws/signin?account=prod&role=Admin"
	resp, body := victim.login("alice", "correct horse battery", "next", target)
	wantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape(target))
	resp, body = victim.post("/login/mfa?next="+url.QueryEscape(target), "/login/mfa",
		url.Values{"code": {mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)}, "next": {target}})
	wantRedirect(t, resp, body, target)
	resp, body = victim.do(http.MethodGet, target, nil, "Sec-Fetch-Site", "same-origin")
	if auto, asks := autoPosts(body); resp.StatusCode != 200 || auto || !asks {
		t.Fatalf("status %d, submits itself %v, asks for a click %v:\n%s", resp.StatusCode, auto, asks, body)
	}
}

func TestAPortalClickThatStepsUpStillSignsInAtOnceButABareLinkDoesNot(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	w.openWindow(t, "", time.Hour) // alice may add her first factor with her password
	b := w.browser(t)
	b.login("alice", "correct horse battery")
	link := b.portalLink("111122223333", "Admin")
	// The click steps up: alice has no factor, so she sets one up, and her session gets a new token.
	resp, body := b.do(http.MethodGet, link, nil, "Sec-Fetch-Site", "same-origin")
	wantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape(link))
	_, body = b.enrollGoingOn(w.clock.Now(), link)
	goOn := regexp.MustCompile(`href="([^"]*)" id="codes-saved"`).FindStringSubmatch(body)
	if goOn == nil {
		t.Fatalf("the recovery codes page does not go on:\n%s", body)
	}
	carried := html.UnescapeString(goOn[1])
	if carried == link || !strings.HasPrefix(carried, "/aws/signin?") {
		t.Fatalf("the recovery page goes on to %q; want the portal link re-issued for the renewed session", carried)
	}
	for _, tc := range []struct {
		name, path string
		auto       bool
	}{
		{"the portal link, carried through the step", carried, true},
		{"the portal link as it was before the step (its session is gone)", link, false},
		{"a bare link after the same step", "/aws/signin?account=prod&role=Admin", false},
	} {
		resp, body := b.do(http.MethodGet, tc.path, nil, "Sec-Fetch-Site", "same-origin")
		if auto, asks := autoPosts(body); resp.StatusCode != 200 || auto != tc.auto || asks == tc.auto {
			t.Errorf("%s: status %d, submits itself %v, asks %v; want submits itself %v", tc.name, resp.StatusCode, auto, asks, tc.auto)
		}
	}
}
