package idp_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

func TestEnrollingTOTPInTheBrowserMakesItTheSecondStepOfEverySignIn(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	invite := w.Invite(t, "alice", time.Hour)
	b := w.Browser(t)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
	if got := w.AuthnContext(t, b, "prod"); got != assertions.ContextPassword {
		t.Fatalf("before MFA, AuthnContext %s", got)
	}
	before := b.Cookie("rg_session")

	// A wrong first code does not confirm the app, nor spend the invite.
	resp, body := b.Post(idptest.MFASettings+"?invite="+invite, idptest.MFASettings+"/totp", url.Values{"invite": {invite}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /account/mfa/totp: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.Do(http.MethodPost, idptest.MFASettings+"/totp/confirm", url.Values{"csrf_token": {idptest.CSRFRE.FindStringSubmatch(body)[1]},
		"code": {"000000"}, "invite": {invite}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(idptest.Alert(body), "not right") {
		t.Fatalf("wrong first code: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	secret, codes := b.EnrollTOTP(w.Clock.Now(), invite)
	if b.Cookie("rg_session") == before {
		t.Error("the session kept its token when it gained a second factor")
	}
	if got := w.AuthnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("right after enrollment, AuthnContext %s; want MFA", got)
	}
	if got := w.AuditOf(t, "mfa.enroll"); strings.Join(got, "|") != "alice wrong_code|alice ok" {
		t.Errorf("enrollment audit %q", got)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}

	// Sign out; the password alone now leads only to the second step.
	b.Post("/", "/logout", nil)
	resp, body = b.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, resp, body, "/login/mfa")
	for _, path := range []string{"/", "/aws/signin?account=gov", idptest.MFASettings, "/account/password"} {
		resp, body := b.Get(path)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/mfa") {
			t.Errorf("GET %s with the password alone: %d to %q", path, resp.StatusCode, resp.Header.Get("Location"))
			_ = body
		}
	}

	// The code used to enroll is spent: replaying it in the same window is refused.
	enrollCode := mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)
	resp, body = b.Code(enrollCode)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(idptest.Alert(body), "used already") {
		t.Fatalf("replayed code: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	w.Clock.Advance(mfa.Period)
	resp, body = b.Code(mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits))
	idptest.WantRedirect(t, resp, body, "/")
	if got := w.AuthnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("after password and code, AuthnContext %s", got)
	}
	// The first "ok" is the enrollment itself, which served as the second step of that session.
	if got := w.AuditOf(t, "mfa"); strings.Join(got, "|") != "alice ok|alice replayed|alice ok" {
		t.Errorf("mfa audit %q", got)
	}
}

func first(resp *http.Response, _ string) *http.Response { return resp }

func TestCodesOneStepOffAreAcceptedAndTwoStepsOffAreNot(t *testing.T) {
	for _, c := range []struct {
		name   string
		offset int64
		ok     bool
	}{
		{"two steps behind", -2, false},
		{"one step behind", -1, true},
		{"one step ahead", 1, true},
		{"two steps ahead", 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := idptest.NewAWSWeb(t)
			secret, _ := w.Enrolled(t, "alice")
			b := w.Browser(t)
			b.Login("alice", idptest.GoodPassword)
			resp, body := b.Code(mfa.Code(secret, mfa.Step(w.Clock.Now())+c.offset, mfa.Digits))
			if c.ok {
				idptest.WantRedirect(t, resp, body, "/")
			} else if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("got %d; want 401", resp.StatusCode)
			}
		})
	}
}

func TestWrongCodesAreThrottledAndSigningInAgainDoesNotResetTheCount(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	secret, _ := w.Enrolled(t, "alice")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	for i := range 5 {
		if resp, _ := b.Code("000000"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i+1, resp.StatusCode)
		}
		// A correct password, on a fresh browser, clears the password's counter, never the code's.
		b = w.Browser(t)
		b.Login("alice", idptest.GoodPassword)
	}
	good := mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)
	resp, body := b.Code(good)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth attempt, with the right code: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	w.Clock.Advance(15 * time.Minute)
	resp, body = b.Code(mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits))
	idptest.WantRedirect(t, resp, body, "/")
	got := strings.Join(w.AuditOf(t, "mfa"), "|")
	if got != strings.Repeat("alice wrong_code|", 5)+"alice ok" {
		t.Errorf("audit %q", got)
	}
	if got := w.AuditOf(t, "throttle.lock"); strings.Join(got, ",") != "alice locked" {
		t.Errorf("lock events %q", got)
	}
}

func TestARecoveryCodeStandsInForTheFactorOnceAndIsAudited(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	_, codes := w.Enrolled(t, "alice")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	resp, body := b.Code(strings.ToUpper(codes[3]))
	idptest.WantRedirect(t, resp, body, "/")
	if got := w.AuthnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("AuthnContext after a recovery code: %s", got)
	}
	events, err := w.Store.ListAudit(context.Background(), store.AuditFilter{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var used *store.AuditEvent
	for _, e := range events {
		if e.Type == "mfa.recovery" {
			used = e
		}
	}
	if used == nil || used.Result != "ok" || used.Details["remaining"] != "9" {
		t.Fatalf("recovery audit %+v", used)
	}

	b.Post("/", "/logout", nil)
	b.Login("alice", idptest.GoodPassword)
	if resp, body := b.Code(codes[3]); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a spent recovery code: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	idptest.WantRedirect(t, first(b.Code(codes[4])), "", "/")
}

func TestAnAccountThatRequiresMFAStepsUpAPasswordOnlySession(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	ctx := context.Background()
	if _, err := w.Store.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	// The admin opened self-enrolment for prod's users, as for a rollout of its requirement.
	w.OpenWindow(t, "prod", 48*time.Hour)
	b := w.Browser(t)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
	if _, body := b.Get("/"); !strings.Contains(body, `<span class="badge"`) {
		t.Error("the portal does not mark the account that needs MFA")
	}
	// Another account serves the password-only session, and says so.
	if got := w.AuthnContext(t, b, "gov"); got != assertions.ContextPassword {
		t.Errorf("gov AuthnContext %s", got)
	}

	target := "/aws/signin?account=prod&role=Admin"
	resp, body := b.Get(target)
	idptest.WantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape(target))
	if got := w.AuditOf(t, "assertion"); len(got) != 1 {
		t.Fatalf("assertions so far %q: only gov's", got)
	}
	// With no factor, the second step is to set one up; that done, the sign-in goes on.
	resp, body = b.Get(resp.Header.Get("Location"))
	idptest.WantRedirect(t, resp, body, "/account/mfa?next="+url.QueryEscape(target))
	resp, body = b.Get(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Set up a second factor to go on") ||
		!strings.Contains(body, "Self-enrolment is open until "+w.Clock.Now().Add(48*time.Hour).Format("2 Jan 2006 15:04 MST")) {
		t.Fatalf("enrollment page: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.EnrollGoingOn(w.Clock.Now(), target)
	if !strings.Contains(body, `href="`+html.EscapeString(target)+`" id="codes-saved"`) {
		t.Fatalf("the recovery codes page does not go on to the sign-in: %d\n%s", resp.StatusCode, body)
	}
	if got := w.AuthnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("prod AuthnContext after step-up %s", got)
	}

	// Someone with no role in prod gets the same 403 as for an account that does not exist: the
	// requirement does not give away that prod is there.
	m2 := w.Browser(t)
	m2.Login("mallory", idptest.GoodPassword)
	for _, account := range []string{"prod", "nosuch"} {
		if resp, _ := m2.Get("/aws/signin?account=" + account); resp.StatusCode != http.StatusForbidden {
			t.Errorf("mallory, account %s: %d; want 403", account, resp.StatusCode)
		}
	}
}

func TestRequiredMFASendsAUserWithoutAFactorToEnrollmentBeforeAnything(t *testing.T) {
	w := idptest.NewAWSWebWith(t, func(cfg *idp.Config) { cfg.RequireMFA = true })
	w.OpenWindow(t, "", time.Hour)
	b := w.Browser(t)
	resp, body := b.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, resp, body, "/login/mfa")
	resp, body = b.Get("/aws/signin?account=gov")
	idptest.WantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape("/aws/signin?account=gov"))
	resp, body = b.Get("/login/mfa")
	idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	if got := w.AuditOf(t, "assertion"); len(got) != 0 {
		t.Fatalf("assertions issued before enrollment: %q", got)
	}
	b.EnrollTOTP(w.Clock.Now())
	if got := w.AuthnContext(t, b, "gov"); got != assertions.ContextMFA {
		t.Errorf("AuthnContext %s", got)
	}
	// The last factor cannot go while every sign-in needs one.
	_, body = b.Get(idptest.MFASettings)
	id := regexp.MustCompile(`name="factor" value="(\d+)"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no factor on the page:\n%s", body)
	}
	resp, body = b.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {id[1]}})
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("removing the last factor: %d %q", resp.StatusCode, idptest.Alert(body))
	}
}

func TestAPasswordAloneCannotChangeTheFactors(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	w.Enrolled(t, "alice")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	alice, err := w.Store.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	factors, err := w.Store.ListMFAFactors(context.Background(), alice.ID)
	if err != nil || len(factors) != 1 {
		t.Fatalf("factors %v %v", factors, err)
	}
	tok := b.Token("/login/mfa")
	for _, path := range []string{"/remove", "/totp", "/recovery"} {
		resp, _ := b.Do(http.MethodPost, idptest.MFASettings+path, url.Values{"csrf_token": {tok}, "factor": {"1"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/mfa") {
			t.Errorf("POST %s%s with the password alone: %d to %q", idptest.MFASettings, path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, body := b.Do(http.MethodPost, idptest.MFASettings+"/webauthn/begin", url.Values{"csrf_token": {tok}})
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
		t.Errorf("registering a key with the password alone: %d %s", resp.StatusCode, body)
	}
	after, err := w.Store.ListMFAFactors(context.Background(), alice.ID)
	if err != nil || len(after) != 1 || after[0].ID != factors[0].ID {
		t.Fatalf("factors changed: %v %v", after, err)
	}
	left, _ := w.Store.CountRecoveryCodes(context.Background(), alice.ID)
	if left != 10 {
		t.Errorf("%d recovery codes left; want 10", left)
	}
}

func TestRemovingTheLastFactorDropsTheRecoveryCodes(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	w.OpenWindow(t, "", time.Hour)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	b.EnrollTOTP(w.Clock.Now())
	_, body := b.Get(idptest.MFASettings)
	id := regexp.MustCompile(`name="factor" value="(\d+)"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no factor on the page:\n%s", body)
	}
	resp, body := b.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {id[1]}})
	idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	alice, _ := w.Store.GetUser(context.Background(), "alice")
	if left, _ := w.Store.CountRecoveryCodes(context.Background(), alice.ID); left != 0 {
		t.Errorf("%d recovery codes outlived the last factor", left)
	}
	if got := w.AuditOf(t, "mfa.remove"); len(got) != 1 || got[0] != "alice ok" {
		t.Errorf("audit %q", got)
	}
	// And the next sign-in needs only the password again.
	b.Post("/", "/logout", nil)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
}

func TestSecondFactorFormsNeedTheirTokenAndBoundTheirInput(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	secret, _ := w.Enrolled(t, "alice")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	good := mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)
	if resp, _ := b.Do(http.MethodPost, "/login/mfa", url.Values{"code": {good}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	tok := b.Token("/login/mfa")
	if resp, _ := b.Do(http.MethodPost, "/login/mfa", url.Values{"csrf_token": {tok}, "code": {good}},
		"Origin", "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another origin: %d", resp.StatusCode)
	}
	if resp, _ := b.Do(http.MethodPost, "/login/mfa", url.Values{"csrf_token": {tok}, "code": {strings.Repeat("1", 65)}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a 65-byte code: %d", resp.StatusCode)
	}
	resp, body := b.Do(http.MethodPost, "/login/mfa/webauthn", url.Values{"csrf_token": {tok}, "credential": {`{"id":"x"}`}})
	if resp.StatusCode != http.StatusNotFound {
		// The test server's base URL is an IP address, which cannot be a WebAuthn RP ID.
		t.Errorf("a security key on an IP-address base URL: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	// None of that spent the code.
	idptest.WantRedirect(t, first(b.Do(http.MethodPost, "/login/mfa", url.Values{"csrf_token": {tok}, "code": {good}})), "", "/")
}

func TestNoOneRemovesAnotherUsersFactorOrAMalformedOne(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	w.OpenWindow(t, "", time.Hour)
	w.Enrolled(t, "mallory")
	mallory, _ := w.Store.GetUser(context.Background(), "mallory")
	theirs, err := w.Store.ListMFAFactors(context.Background(), mallory.ID)
	if err != nil || len(theirs) != 1 {
		t.Fatalf("mallory's factors %v %v", theirs, err)
	}
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	b.EnrollTOTP(w.Clock.Now())
	for _, c := range []struct {
		factor string
		status int
	}{
		{strconv.FormatInt(theirs[0].ID, 10), http.StatusNotFound},
		{"", http.StatusBadRequest},
		{"-1", http.StatusBadRequest},
		{"1e3", http.StatusBadRequest},
		{"99999999999999999999", http.StatusBadRequest},
	} {
		if resp, body := b.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {c.factor}}); resp.StatusCode != c.status {
			t.Errorf("removing factor %q: %d %q; want %d", c.factor, resp.StatusCode, idptest.Alert(body), c.status)
		}
	}
	if after, _ := w.Store.ListMFAFactors(context.Background(), mallory.ID); len(after) != 1 {
		t.Errorf("mallory's factors after alice's attempts: %v", after)
	}
	if got := w.AuditOf(t, "mfa.remove"); len(got) != 0 {
		t.Errorf("removals audited: %q", got)
	}
}

func TestTheSecondStepGoesOnlyToPagesOfThisSiteAndTakesACodeWithSpaces(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	secret, _ := w.Enrolled(t, "alice")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	code := mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)
	resp, body := b.Post("/login/mfa", "/login/mfa", url.Values{"code": {" " + code[:3] + " " + code[3:] + " "}, "next": {"//evil.example/x"}})
	idptest.WantRedirect(t, resp, body, "/")
	// Once the session has its factor, the page sends it on, again only within this site.
	resp, body = b.Get("/login/mfa?next=" + url.QueryEscape("https://evil.example/"))
	idptest.WantRedirect(t, resp, body, "/")
	resp, body = b.Get("/login/mfa?next=" + url.QueryEscape("/aws/signin?account=prod"))
	idptest.WantRedirect(t, resp, body, "/aws/signin?account=prod")
}
