package idp_test

import (
	"context"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

func TestSignInToAWSPostsASignedResponseThatAWSWouldAccept(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	const acs = "https://signin.aws.amazon.com/saml"
	relay := "https://us-east-2.console.aws.amazon.com/ec2/home?region=us-east-2"
	p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin&relay_state="+strings.ReplaceAll(relay, "?", "%3F"))
	if p.Action != acs || p.Relay != relay {
		t.Fatalf("form posts to %q with RelayState %q", p.Action, p.Relay)
	}
	v := assertions.InspectAWS([]byte(p.Response), w.Expect(t, acs))
	if !v.Accepted {
		t.Fatalf("AWS would refuse: %v", v.Problems)
	}
	if len(v.Roles) != 1 || v.Roles[0].RoleARN != "arn:aws:iam::111122223333:role/Admin" || v.SessionName != "alice" ||
		v.SourceIdentity != "alice" || len(v.Tags) != 1 || !v.Tags[0].Transitive || v.SessionDuration > 2*time.Hour {
		t.Fatalf("verdict %+v", v)
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
	events := w.AuditOf(t, "assertion")
	if len(events) != 1 || events[0] != "alice ok" {
		t.Fatalf("audit: %v", events)
	}
}

func TestEveryGrantedRoleAndThePartitionsEndpoint(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	p := idptest.SignInPost(t, b, "/aws/signin?account=111122223333")
	v := assertions.InspectAWS([]byte(p.Response), w.Expect(t, "https://signin.aws.amazon.com/saml"))
	if !v.Accepted || len(v.Roles) != 2 {
		t.Fatalf("all roles: %v %+v", v.Problems, v.Roles)
	}
	p = idptest.SignInPost(t, b, "/aws/signin?account=prod&role=ReadOnly&region=eu-west-1")
	if p.Action != "https://eu-west-1.signin.aws.amazon.com/saml" {
		t.Fatalf("regional endpoint: %s", p.Action)
	}
	p = idptest.SignInPost(t, b, "/aws/signin?account=gov")
	v = assertions.InspectAWS([]byte(p.Response), w.Expect(t, "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml"))
	if !v.Accepted || p.Action != "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml" ||
		v.Roles[0].RoleARN != "arn:aws-us-gov:iam::444455556666:role/Auditor" {
		t.Fatalf("GovCloud: %s %v %+v", p.Action, v.Problems, v.Roles)
	}
}

func TestSignInRefusesWhatIsNotGrantedOrNotSafe(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	alice, mallory := w.Browser(t), w.Browser(t)
	alice.Login("alice", "correct horse battery")
	mallory.Login("mallory", "correct horse battery")
	for _, tc := range []struct {
		name   string
		b      *idptest.Browser
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.b.Get(tc.path)
			if resp.StatusCode != tc.status || !strings.Contains(html.UnescapeString(body), tc.says) || strings.Contains(body, "SAMLResponse") {
				t.Fatalf("%d, want %d saying %q:\n%s", resp.StatusCode, tc.status, tc.says, body)
			}
		})
	}
	var refused int
	for _, e := range w.AuditOf(t, "assertion") {
		if strings.Contains(e, "refused") {
			refused++
		}
	}
	if refused < 6 {
		t.Fatalf("refusals are audited: %v", w.AuditOf(t, "assertion"))
	}
}

func TestSignInNeedsASessionAndComesBackAfterLogin(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	resp, body := b.Get("/aws/signin?account=prod&role=Admin")
	idptest.WantRedirect(t, resp, body, "/login?next=%2Faws%2Fsignin%3Faccount%3Dprod%26role%3DAdmin")
	resp, body = b.Login("alice", "correct horse battery", "next", "/aws/signin?account=prod&role=Admin")
	idptest.WantRedirect(t, resp, body, "/aws/signin?account=prod&role=Admin")
}

func TestTheAutoPostPageAllowsOnlyTheACSAndTheNoncedScript(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	resp, body := b.Get(b.PortalLink("111122223333", "Admin"))
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
	w := idptest.NewAWSWeb(t, "111122223333")
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
	if p.Action != w.Srv.URL+"/debug/aws-signin" {
		t.Fatalf("demo account posts to %s", p.Action)
	}
	resp, body := b.Do(http.MethodPost, "/debug/aws-signin", map[string][]string{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(p.Response))}})
	if resp.StatusCode != 200 || !strings.Contains(body, "AWS would sign you in") || !strings.Contains(body, "arn:aws:iam::111122223333:role/Admin") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	tampered := strings.Replace(p.Response, "role/Admin", "role/Admim", 1)
	resp, body = b.Do(http.MethodPost, "/debug/aws-signin", map[string][]string{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(tampered))}})
	if resp.StatusCode != 422 || !strings.Contains(body, "AWS would refuse") || !strings.Contains(body, "does not verify") {
		t.Fatalf("tampered: %d\n%s", resp.StatusCode, body)
	}
	// Outside demo mode the checker does not exist.
	plain := idptest.NewAWSWeb(t)
	if resp, _ := plain.Browser(t).Do(http.MethodPost, "/debug/aws-signin", nil); resp.StatusCode != 404 && resp.StatusCode != 405 {
		t.Fatalf("checker outside demo mode: %d", resp.StatusCode)
	}
}

// autoPosts reports whether an aws_post page submits itself, and whether it asks for a click.
func autoPosts(body string) (auto, asks bool) {
	return strings.Contains(body, "<script nonce="), strings.Contains(body, "did not come from your accounts page")
}

func TestOnlyAClickOnThisSessionsPortalSignsInAtOnce(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	w.OpenWindow(t, "", time.Hour) // alice may add her first factor with her password
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	link := b.PortalLink("111122223333", "Admin")
	other := w.Browser(t)
	other.Login("alice", "correct horse battery")
	othersLink := other.PortalLink("111122223333", "Admin")
	readOnly := b.PortalLink("111122223333", "ReadOnly")
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
			resp, body := b.Do(http.MethodGet, tc.path, nil, "Sec-Fetch-Site", tc.site)
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
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	// A page elsewhere sends the signed-out victim to sign in, with next set to a sign-in link.
	target := "/aws/signin?account=prod&role=Admin&relay_state=" + url.QueryEscape("https://console.aws.amazon.com/iam/home")
	resp, body := b.Login("alice", "correct horse battery", "next", target)
	idptest.WantRedirect(t, resp, body, target)
	resp, body = b.Do(http.MethodGet, target, nil, "Sec-Fetch-Site", "same-origin") // the redirect comes from this site
	if auto, asks := autoPosts(body); resp.StatusCode != 200 || auto || !asks {
		t.Fatalf("status %d, submits itself %v, asks for a click %v:\n%s", resp.StatusCode, auto, asks, body)
	}
}

func TestANextLinkThroughTheSecondStepWaitsForAClick(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	secret, _ := b.EnrollTOTP(w.Clock.Now(), w.Invite(t, "alice", time.Hour))
	w.Clock.Advance(time.Minute)
	victim := w.Browser(t)
	target := "/aws/signin?account=prod&role=Admin"
	resp, body := victim.Login("alice", "correct horse battery", "next", target)
	idptest.WantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape(target))
	resp, body = victim.Post("/login/mfa?next="+url.QueryEscape(target), "/login/mfa",
		url.Values{"code": {mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)}, "next": {target}})
	idptest.WantRedirect(t, resp, body, target)
	resp, body = victim.Do(http.MethodGet, target, nil, "Sec-Fetch-Site", "same-origin")
	if auto, asks := autoPosts(body); resp.StatusCode != 200 || auto || !asks {
		t.Fatalf("status %d, submits itself %v, asks for a click %v:\n%s", resp.StatusCode, auto, asks, body)
	}
}

func TestAPortalClickThatStepsUpStillSignsInAtOnceButABareLinkDoesNot(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	w.OpenWindow(t, "", time.Hour) // alice may add her first factor with her password
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	link := b.PortalLink("111122223333", "Admin")
	// The click steps up: alice has no factor, so she sets one up, and her session gets a new token.
	resp, body := b.Do(http.MethodGet, link, nil, "Sec-Fetch-Site", "same-origin")
	idptest.WantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape(link))
	_, body = b.EnrollGoingOn(w.Clock.Now(), link)
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
		resp, body := b.Do(http.MethodGet, tc.path, nil, "Sec-Fetch-Site", "same-origin")
		if auto, asks := autoPosts(body); resp.StatusCode != 200 || auto != tc.auto || asks == tc.auto {
			t.Errorf("%s: status %d, submits itself %v, asks %v; want submits itself %v", tc.name, resp.StatusCode, auto, asks, tc.auto)
		}
	}
}
