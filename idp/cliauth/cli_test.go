package cliauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// cliRequest is one rolegate login's browser flow: its listener, state and PKCE verifier.
type cliRequest struct {
	redirect, state, verifier string
	extra                     url.Values
}

func newCLIRequest() *cliRequest {
	return &cliRequest{redirect: "http://127.0.0.1:53682/cb", state: "state-0123456789abcdef",
		verifier: "verifier-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEF"}
}

func (r *cliRequest) query() url.Values {
	sum := sha256.Sum256([]byte(r.verifier))
	q := url.Values{"client_id": {"rolegate-cli"}, "redirect_uri": {r.redirect}, "state": {r.state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	for k, v := range r.extra {
		q[k] = v
	}
	return q
}

func (r *cliRequest) path() string { return "/cli/authorize?" + r.query().Encode() }

// confirm answers the confirmation page with decision and choice, and returns the redirect.
func (r *cliRequest) confirm(t *testing.T, b *idptest.Browser, decision, choice string) (*http.Response, string) {
	t.Helper()
	form := r.query()
	form.Set("decision", decision)
	form.Set("choice", choice)
	return b.Post(r.path(), "/cli/authorize", form)
}

// code confirms as the person would and returns the code the listener receives.
func (r *cliRequest) code(t *testing.T, b *idptest.Browser, choice string) string {
	t.Helper()
	resp, body := r.confirm(t, b, "approve", choice)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Scheme+"://"+loc.Host+loc.Path != r.redirect {
		t.Fatalf("confirm: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if loc.Query().Get("state") != r.state || loc.Query().Get("code") == "" {
		t.Fatalf("the redirect %s does not carry the state and a code", loc)
	}
	return loc.Query().Get("code")
}

type tokenAnswer struct {
	SAMLResponse string   `json:"saml_response"`
	ACS          string   `json:"acs"`
	Account      string   `json:"account"`
	Roles        []string `json:"roles"`
	Session      *struct {
		Token, ID string
		Expires   time.Time
	} `json:"cli_session"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// exchange posts the code to /cli/token as the command line does: with no cookies; extra are
// more fields of the form, in pairs.
func (w *awsWeb) exchange(t *testing.T, code, verifier, redirect string, extra ...string) (int, tokenAnswer) {
	t.Helper()
	return w.tokenPost(t, "/cli/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"rolegate-cli"}, "code": {code},
		"code_verifier": {verifier}, "redirect_uri": {redirect}}, extra...)
}

// tokenPost posts form, with the extra fields, to a token endpoint and reads its JSON answer.
func (w *awsWeb) tokenPost(t *testing.T, path string, form url.Values, extra ...string) (int, tokenAnswer) {
	t.Helper()
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	resp, err := http.PostForm(w.Srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s: %d, not JSON: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, a
}

func TestCLIBrowserFlowHandsTheListenerACodeWorthOneResponse(t *testing.T) {
	w := newAWSWeb(t)
	b := w.Browser(t)
	r := newCLIRequest()
	r.extra = url.Values{"account": {"prod"}}

	// Signed out: to the sign-in page, coming back to the same request.
	resp, body := b.Get(r.path())
	idptest.WantRedirect(t, resp, body, "/login?"+url.Values{"next": {r.path()}}.Encode())
	b.Login("alice", idptest.GoodPassword)
	resp, body = b.Get(r.path())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `value="111122223333 Admin"`) ||
		!strings.Contains(body, `value="111122223333 ReadOnly"`) || strings.Contains(body, "Auditor") {
		t.Fatalf("the confirmation page: %d\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:53682;") {
		t.Errorf("the page's CSP does not let its form go on to the listener: %s", csp)
	}
	code := r.code(t, b, "111122223333 Admin")

	status, a := w.exchange(t, code, r.verifier, r.redirect)
	if status != http.StatusOK || a.Account != "111122223333" || len(a.Roles) != 1 || !strings.HasSuffix(a.Roles[0], ":role/Admin") {
		t.Fatalf("exchange: %d %+v", status, a)
	}
	raw, err := base64.StdEncoding.DecodeString(a.SAMLResponse)
	if err != nil {
		t.Fatal(err)
	}
	if v := assertions.InspectAWS(raw, w.Expect(t, a.ACS)); !v.Accepted {
		t.Fatalf("AWS would refuse the Response: %v", v.Problems)
	}

	// The code is spent: a second exchange, even with the right verifier, gets nothing.
	if status, a := w.exchange(t, code, r.verifier, r.redirect); status != http.StatusBadRequest || a.Error != "invalid_grant" {
		t.Fatalf("a replayed code: %d %+v", status, a)
	}
	if got := strings.Join(w.AuditOf(t, "cli.authorize"), "|"); got != "alice ok" {
		t.Errorf("authorize audit %q", got)
	}
	if got := w.AuditOf(t, "cli.token"); len(got) != 1 || !strings.HasPrefix(got[0], " refused: ") {
		t.Errorf("token audit %q", got)
	}
	if got := w.AuditOf(t, "assertion"); len(got) != 1 || got[0] != "alice ok" {
		t.Errorf("assertion audit %q", got)
	}
}

func TestCLIBrowserFlowRefusesAStolenCodeWithoutItsVerifierOrListener(t *testing.T) {
	w := newAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	r := newCLIRequest()
	for _, tc := range []struct {
		name               string
		verifier, redirect string
		wait               time.Duration
	}{
		{"an attacker who read the code but not the verifier", "attacker-guess-0123456789abcdefghijklmnopqrstuvwxyz", r.redirect, 0},
		{"the code sent back from another listener", r.verifier, "http://127.0.0.1:4444/cb", 0},
		{"the code after its minute", r.verifier, r.redirect, 61 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := r.code(t, b, "111122223333 Admin")
			w.Clock.Advance(tc.wait)
			if status, a := w.exchange(t, code, tc.verifier, tc.redirect); status != http.StatusBadRequest || a.Error != "invalid_grant" {
				t.Fatalf("%d %+v", status, a)
			}
			// The wrong try spent it: the right verifier now fails too.
			if status, _ := w.exchange(t, code, r.verifier, r.redirect); status != http.StatusBadRequest {
				t.Fatalf("the code outlived a wrong exchange: %d", status)
			}
		})
	}
	if got := w.AuditOf(t, "assertion"); len(got) != 0 {
		t.Errorf("assertions issued: %q", got)
	}
}

func TestCLIAuthorizeRefusesARedirectOffThisMachineBeforeSignIn(t *testing.T) {
	w := newAWSWeb(t)
	for _, redirect := range []string{
		"http://localhost:53682/cb", // a name: DNS or a hosts file decides where it goes
		"http://evil.example:53682/cb",
		"https://evil.example/cb",
		"https://127.0.0.1:53682/cb",
		"http://127.0.0.2:53682/cb",
		"http://0x7f000001:53682/cb",
		"http://127.0.0.1/cb",
		"http://127.0.0.1:0/cb",
		"http://127.0.0.1:53682@evil.example/cb",
		"http://user@127.0.0.1:53682/cb",
		"http://127.0.0.1:53682/cb#frag",
		"http://127.0.0.1:53682/cb?next=https://evil.example",
		"http://[::ffff:127.0.0.1]:53682/cb",
		"//127.0.0.1:53682/cb",
		"",
	} {
		t.Run(redirect, func(t *testing.T) {
			r := newCLIRequest()
			r.redirect = redirect
			resp, body := w.Browser(t).Get(r.path())
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "redirect_uri must be") {
				t.Fatalf("%d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
		})
	}
	// The legitimate listeners, IPv4 and IPv6, go on to the sign-in.
	for _, redirect := range []string{"http://127.0.0.1:53682/cb", "http://[::1]:53682/callback"} {
		r := newCLIRequest()
		r.redirect = redirect
		if resp, _ := w.Browser(t).Get(r.path()); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: %d", redirect, resp.StatusCode)
		}
	}
	// A signed-in person is refused the same way, and nothing is confirmed.
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	r := newCLIRequest()
	r.redirect = "http://evil.example/cb"
	if resp, _ := b.Get(r.path()); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	for _, bad := range []url.Values{{"code_challenge_method": {"plain"}}, {"state": {"short"}}, {"client_id": {"other"}},
		{"code_challenge": {"not-a-challenge"}}} {
		r := newCLIRequest()
		r.extra = bad
		if resp, _ := b.Get(r.path()); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %d", bad, resp.StatusCode)
		}
	}
}

func TestCLIConfirmRefusesForgedAndUngrantedAnswers(t *testing.T) {
	w := newAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	r := newCLIRequest()

	// Another site's form: no CSRF token.
	form := r.query()
	form.Set("decision", "approve")
	form.Set("choice", "111122223333 Admin")
	if resp, _ := b.Do(http.MethodPost, "/cli/authorize", form, "Origin", "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site confirm: %d", resp.StatusCode)
	}
	// A role the page never offered, and one of an account alice holds nothing in.
	for _, choice := range []string{"111122223333 Owner", "999999999999 Admin", ""} {
		if resp, _ := r.confirm(t, b, "approve", choice); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("choice %q: %d", choice, resp.StatusCode)
		}
	}
	// Mallory holds nothing: refused on the page, before any code.
	m := w.Browser(t)
	m.Login("mallory", idptest.GoodPassword)
	if resp, body := m.Get(r.path()); resp.StatusCode != http.StatusForbidden {
		t.Errorf("ungranted user: %d\n%s", resp.StatusCode, body)
	}
	// Cancel tells the listener so, with the state.
	resp, body := r.confirm(t, b, "deny", "111122223333 Admin")
	idptest.WantRedirect(t, resp, body, r.redirect+"?error=access_denied&state="+r.state)
	if got := strings.Join(w.AuditOf(t, "cli.authorize"), "|"); !strings.Contains(got, "alice denied") || strings.Contains(got, "alice ok") {
		t.Errorf("authorize audit %q", got)
	}
}

func TestCLIBrowserFlowRefusesAOneTimePasswordSession(t *testing.T) {
	w := newAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	w.Update(t, "alice", func(u *store.User) { u.MustChangePassword, u.PasswordExpiresAt = true, w.Clock.Now().Add(time.Hour) })
	r := newCLIRequest()
	if resp, _ := b.Get(r.path()); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/account/password") {
		t.Fatalf("GET with a one-time password: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := r.query()
	form.Set("decision", "approve")
	form.Set("choice", "111122223333 Admin")
	form.Set("csrf_token", b.Token("/account/password"))
	if resp, _ := b.Do(http.MethodPost, "/cli/authorize", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with a one-time password: %d", resp.StatusCode)
	}
}

func TestCLIBrowserFlowAsksForTheSecondFactorAnAccountRequires(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	r := newCLIRequest()
	resp, body := r.confirm(t, b, "approve", "111122223333 Admin")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/mfa?next=%2Fcli%2Fauthorize") {
		t.Fatalf("a password-only confirm for an MFA account: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	// The account that does not require it still works with the password alone.
	code := r.code(t, b, "444455556666 Auditor")
	if status, a := w.exchange(t, code, r.verifier, r.redirect); status != http.StatusOK {
		t.Fatalf("gov: %d %+v", status, a)
	}
}

func TestCLIBrowserFlowWithASecondFactorGoesBackToTheConfirmation(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	secret, _ := w.Enrolled(t, "alice")
	b := w.Browser(t)
	r := newCLIRequest()
	// Signed out, the sign-in form carries the request on, and so does the second step.
	resp, body := b.Login("alice", idptest.GoodPassword, "next", r.path())
	idptest.WantRedirect(t, resp, body, "/login/mfa?"+url.Values{"next": {r.path()}}.Encode())
	resp, body = b.Post("/login/mfa", "/login/mfa", url.Values{"code": {mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)},
		"next": {r.path()}})
	idptest.WantRedirect(t, resp, body, r.path())
	// With the factor, the account that requires one is given at once, and says so.
	code := r.code(t, b, "111122223333 Admin")
	status, a := w.exchange(t, code, r.verifier, r.redirect)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %+v", status, a)
	}
	raw, _ := base64.StdEncoding.DecodeString(a.SAMLResponse)
	if v := assertions.InspectAWS(raw, w.Expect(t, a.ACS)); !v.Accepted || v.AuthnContext != assertions.ContextMFA {
		t.Fatalf("accepted %v, AuthnContext %s: %v", v.Accepted, v.AuthnContext, v.Problems)
	}
}
