package idp_test

import (
	"context"
	"encoding/base32"
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
	"rolegate/idp/mfa"
	"rolegate/store"
)

var (
	secretRE   = regexp.MustCompile(`<code class="secret" id="totp-secret">([^<]*)</code>`)
	qrRE       = regexp.MustCompile(`<img class="qr" src="data:image/png;base64,[A-Za-z0-9+/=&#;]{100,}"`)
	recoveryRE = regexp.MustCompile(`<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>`)
)

// post sends a form with the CSRF token of the page at from.
func (b *browser) post(from, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.token(from))
	return b.do(http.MethodPost, path, form)
}

// enrollTOTP sets up an authenticator app through /account/mfa as a person would: it reads the
// secret off the page, answers with the current code, and returns the secret and the recovery codes.
// A first factor takes an invite's code (or an open window, with invite ""); the forms carry it on.
func (b *browser) enrollTOTP(now time.Time, invite ...string) ([]byte, []string) {
	b.t.Helper()
	from, form := mfaSettings, url.Values{}
	if len(invite) > 0 && invite[0] != "" {
		from += "?invite=" + url.QueryEscape(invite[0])
		form.Set("invite", invite[0])
	}
	resp, body := b.post(from, mfaSettings+"/totp", form)
	m := secretRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !qrRE.MatchString(body) {
		b.t.Fatalf("starting TOTP enrollment: %d, no secret or QR code:\n%s", resp.StatusCode, body)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(html.UnescapeString(m[1]), " ", ""))
	if err != nil {
		b.t.Fatalf("the secret on the page: %v", err)
	}
	form.Set("csrf_token", csrfRE.FindStringSubmatch(body)[1])
	form.Set("code", mfa.Code(secret, mfa.Step(now), mfa.Digits))
	resp, body = b.do(http.MethodPost, mfaSettings+"/totp/confirm", form)
	var codes []string
	for _, c := range recoveryRE.FindAllStringSubmatch(body, -1) {
		codes = append(codes, c[1])
	}
	if resp.StatusCode != http.StatusOK || len(codes) != mfa.RecoveryCodes {
		b.t.Fatalf("confirming TOTP: %d with %d recovery codes:\n%s", resp.StatusCode, len(codes), body)
	}
	return secret, codes
}

const mfaSettings = "/account/mfa"

// invite issues an enrolment invite for name as `rolegate user mfa invite` does, and returns its code.
func (w *web) invite(t *testing.T, name string, ttl time.Duration) string {
	t.Helper()
	ctx := context.Background()
	u, err := w.store.GetUser(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	code, hash, err := mfa.NewInvite()
	if err != nil {
		t.Fatal(err)
	}
	now := w.clock.Now()
	if err := w.store.CreateEnrolInvite(ctx, &store.EnrolInvite{UserID: u.ID, CodeHash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		t.Fatal(err)
	}
	return code
}

// openWindow opens self-enrolment for every user (account "") or an account's users until d from now.
func (w *web) openWindow(t *testing.T, account string, d time.Duration) {
	t.Helper()
	now := w.clock.Now()
	if err := w.store.SetEnrolWindow(context.Background(), &store.EnrolWindow{AccountID: account, OpenedAt: now, EndsAt: now.Add(d)}); err != nil {
		t.Fatal(err)
	}
}

// enrollGoingOn is enrollTOTP started from a page that goes on to next afterwards; it returns
// the answer to the confirmation, the recovery codes page.
func (b *browser) enrollGoingOn(now time.Time, next string) (*http.Response, string) {
	b.t.Helper()
	_, body := b.post(mfaSettings+"?next="+url.QueryEscape(next), mfaSettings+"/totp", url.Values{"next": {next}})
	m := secretRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no secret:\n%s", body)
	}
	secret, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	return b.do(http.MethodPost, mfaSettings+"/totp/confirm", url.Values{"csrf_token": {csrfRE.FindStringSubmatch(body)[1]},
		"next": {next}, "code": {mfa.Code(secret, mfa.Step(now), mfa.Digits)}})
}

// code submits a second-factor code on /login/mfa.
func (b *browser) code(code string) (*http.Response, string) {
	b.t.Helper()
	return b.post("/login/mfa", "/login/mfa", url.Values{"code": {code}})
}

// authnContext is the AuthnContextClassRef of the assertion for a sign-in to account.
func (w *awsWeb) authnContext(t *testing.T, b *browser, account string) string {
	t.Helper()
	p := signInPost(t, b, "/aws/signin?account="+account)
	v := assertions.InspectAWS([]byte(p.response), w.expect(t, p.action))
	if !v.Accepted {
		t.Fatalf("AWS would refuse: %v", v.Problems)
	}
	return v.AuthnContext
}

func TestEnrollingTOTPInTheBrowserMakesItTheSecondStepOfEverySignIn(t *testing.T) {
	w := newAWSWeb(t)
	invite := w.invite(t, "alice", time.Hour)
	b := w.browser(t)
	wantRedirect(t, first(b.login("alice", goodPassword)), "", "/")
	if got := w.authnContext(t, b, "prod"); got != assertions.ContextPassword {
		t.Fatalf("before MFA, AuthnContext %s", got)
	}
	before := b.cookie("rg_session")

	// A wrong first code does not confirm the app, nor spend the invite.
	resp, body := b.post(mfaSettings+"?invite="+invite, mfaSettings+"/totp", url.Values{"invite": {invite}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /account/mfa/totp: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.do(http.MethodPost, mfaSettings+"/totp/confirm", url.Values{"csrf_token": {csrfRE.FindStringSubmatch(body)[1]},
		"code": {"000000"}, "invite": {invite}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(alert(body), "not right") {
		t.Fatalf("wrong first code: %d %q", resp.StatusCode, alert(body))
	}
	secret, codes := b.enrollTOTP(w.clock.Now(), invite)
	if b.cookie("rg_session") == before {
		t.Error("the session kept its token when it gained a second factor")
	}
	if got := w.authnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("right after enrollment, AuthnContext %s; want MFA", got)
	}
	if got := w.auditOf(t, "mfa.enroll"); strings.Join(got, "|") != "alice wrong_code|alice ok" {
		t.Errorf("enrollment audit %q", got)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}

	// Sign out; the password alone now leads only to the second step.
	b.post("/", "/logout", nil)
	resp, body = b.login("alice", goodPassword)
	wantRedirect(t, resp, body, "/login/mfa")
	for _, path := range []string{"/", "/aws/signin?account=gov", mfaSettings, "/account/password"} {
		resp, body := b.get(path)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/mfa") {
			t.Errorf("GET %s with the password alone: %d to %q", path, resp.StatusCode, resp.Header.Get("Location"))
			_ = body
		}
	}

	// The code used to enroll is spent: replaying it in the same window is refused.
	enrollCode := mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)
	resp, body = b.code(enrollCode)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(alert(body), "used already") {
		t.Fatalf("replayed code: %d %q", resp.StatusCode, alert(body))
	}
	w.clock.Advance(mfa.Period)
	resp, body = b.code(mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits))
	wantRedirect(t, resp, body, "/")
	if got := w.authnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("after password and code, AuthnContext %s", got)
	}
	// The first "ok" is the enrollment itself, which served as the second step of that session.
	if got := w.auditOf(t, "mfa"); strings.Join(got, "|") != "alice ok|alice replayed|alice ok" {
		t.Errorf("mfa audit %q", got)
	}
}

func first(resp *http.Response, _ string) *http.Response { return resp }

// enrolled gives name a confirmed TOTP factor and recovery codes straight in the store, as
// `rolegate user mfa enroll` does, and returns the secret and the codes.
func (w *awsWeb) enrolled(t *testing.T, name string) ([]byte, []string) {
	t.Helper()
	ctx := context.Background()
	u, err := w.store.GetUser(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := mfa.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := mfa.SealSecret(w.kek, u.Subject, secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.CreateMFAFactor(ctx, &store.MFAFactor{UserID: u.ID, Kind: store.FactorTOTP, Name: mfa.TOTPName,
		Secret: sealed, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	codes, hashes, err := mfa.NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.ReplaceRecoveryCodes(ctx, u.ID, hashes, w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return secret, codes
}

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
			w := newAWSWeb(t)
			secret, _ := w.enrolled(t, "alice")
			b := w.browser(t)
			b.login("alice", goodPassword)
			resp, body := b.code(mfa.Code(secret, mfa.Step(w.clock.Now())+c.offset, mfa.Digits))
			if c.ok {
				wantRedirect(t, resp, body, "/")
			} else if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("got %d; want 401", resp.StatusCode)
			}
		})
	}
}

func TestWrongCodesAreThrottledAndSigningInAgainDoesNotResetTheCount(t *testing.T) {
	w := newAWSWeb(t)
	secret, _ := w.enrolled(t, "alice")
	b := w.browser(t)
	b.login("alice", goodPassword)
	for i := range 5 {
		if resp, _ := b.code("000000"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i+1, resp.StatusCode)
		}
		// A correct password, on a fresh browser, clears the password's counter, never the code's.
		b = w.browser(t)
		b.login("alice", goodPassword)
	}
	good := mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)
	resp, body := b.code(good)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth attempt, with the right code: %d %q", resp.StatusCode, alert(body))
	}
	w.clock.Advance(15 * time.Minute)
	resp, body = b.code(mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits))
	wantRedirect(t, resp, body, "/")
	got := strings.Join(w.auditOf(t, "mfa"), "|")
	if got != strings.Repeat("alice wrong_code|", 5)+"alice ok" {
		t.Errorf("audit %q", got)
	}
	if got := w.auditOf(t, "throttle.lock"); strings.Join(got, ",") != "alice locked" {
		t.Errorf("lock events %q", got)
	}
}

func TestARecoveryCodeStandsInForTheFactorOnceAndIsAudited(t *testing.T) {
	w := newAWSWeb(t)
	_, codes := w.enrolled(t, "alice")
	b := w.browser(t)
	b.login("alice", goodPassword)
	resp, body := b.code(strings.ToUpper(codes[3]))
	wantRedirect(t, resp, body, "/")
	if got := w.authnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("AuthnContext after a recovery code: %s", got)
	}
	events, err := w.store.ListAudit(context.Background(), store.AuditFilter{User: "alice"})
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

	b.post("/", "/logout", nil)
	b.login("alice", goodPassword)
	if resp, body := b.code(codes[3]); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a spent recovery code: %d %q", resp.StatusCode, alert(body))
	}
	wantRedirect(t, first(b.code(codes[4])), "", "/")
}

func TestAnAccountThatRequiresMFAStepsUpAPasswordOnlySession(t *testing.T) {
	w := newAWSWeb(t)
	ctx := context.Background()
	if _, err := w.store.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	// The admin opened self-enrolment for prod's users, as for a rollout of its requirement.
	w.openWindow(t, "prod", 48*time.Hour)
	b := w.browser(t)
	wantRedirect(t, first(b.login("alice", goodPassword)), "", "/")
	if _, body := b.get("/"); !strings.Contains(body, `<span class="badge"`) {
		t.Error("the portal does not mark the account that needs MFA")
	}
	// Another account serves the password-only session, and says so.
	if got := w.authnContext(t, b, "gov"); got != assertions.ContextPassword {
		t.Errorf("gov AuthnContext %s", got)
	}

	target := "/aws/signin?account=prod&role=Admin"
	resp, body := b.get(target)
	wantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape(target))
	if got := w.auditOf(t, "assertion"); len(got) != 1 {
		t.Fatalf("assertions so far %q: only gov's", got)
	}
	// With no factor, the second step is to set one up; that done, the sign-in goes on.
	resp, body = b.get(resp.Header.Get("Location"))
	wantRedirect(t, resp, body, "/account/mfa?next="+url.QueryEscape(target))
	resp, body = b.get(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Set up a second factor to go on") ||
		!strings.Contains(body, "Self-enrolment is open until "+w.clock.Now().Add(48*time.Hour).Format("2 Jan 2006 15:04 MST")) {
		t.Fatalf("enrollment page: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.enrollGoingOn(w.clock.Now(), target)
	if !strings.Contains(body, `href="`+html.EscapeString(target)+`" id="codes-saved"`) {
		t.Fatalf("the recovery codes page does not go on to the sign-in: %d\n%s", resp.StatusCode, body)
	}
	if got := w.authnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("prod AuthnContext after step-up %s", got)
	}

	// Someone with no role in prod gets the same 403 as for an account that does not exist: the
	// requirement does not give away that prod is there.
	m2 := w.browser(t)
	m2.login("mallory", goodPassword)
	for _, account := range []string{"prod", "nosuch"} {
		if resp, _ := m2.get("/aws/signin?account=" + account); resp.StatusCode != http.StatusForbidden {
			t.Errorf("mallory, account %s: %d; want 403", account, resp.StatusCode)
		}
	}
}

func TestRequiredMFASendsAUserWithoutAFactorToEnrollmentBeforeAnything(t *testing.T) {
	w := newAWSWebWith(t, func(cfg *idp.Config) { cfg.RequireMFA = true })
	w.openWindow(t, "", time.Hour)
	b := w.browser(t)
	resp, body := b.login("alice", goodPassword)
	wantRedirect(t, resp, body, "/login/mfa")
	resp, body = b.get("/aws/signin?account=gov")
	wantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape("/aws/signin?account=gov"))
	resp, body = b.get("/login/mfa")
	wantRedirect(t, resp, body, mfaSettings)
	if got := w.auditOf(t, "assertion"); len(got) != 0 {
		t.Fatalf("assertions issued before enrollment: %q", got)
	}
	b.enrollTOTP(w.clock.Now())
	if got := w.authnContext(t, b, "gov"); got != assertions.ContextMFA {
		t.Errorf("AuthnContext %s", got)
	}
	// The last factor cannot go while every sign-in needs one.
	_, body = b.get(mfaSettings)
	id := regexp.MustCompile(`name="factor" value="(\d+)"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no factor on the page:\n%s", body)
	}
	resp, body = b.post(mfaSettings, mfaSettings+"/remove", url.Values{"factor": {id[1]}})
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("removing the last factor: %d %q", resp.StatusCode, alert(body))
	}
}

func TestAPasswordAloneCannotChangeTheFactors(t *testing.T) {
	w := newAWSWeb(t)
	w.enrolled(t, "alice")
	b := w.browser(t)
	b.login("alice", goodPassword)
	alice, err := w.store.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	factors, err := w.store.ListMFAFactors(context.Background(), alice.ID)
	if err != nil || len(factors) != 1 {
		t.Fatalf("factors %v %v", factors, err)
	}
	tok := b.token("/login/mfa")
	for _, path := range []string{"/remove", "/totp", "/recovery"} {
		resp, _ := b.do(http.MethodPost, mfaSettings+path, url.Values{"csrf_token": {tok}, "factor": {"1"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/mfa") {
			t.Errorf("POST %s%s with the password alone: %d to %q", mfaSettings, path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, body := b.do(http.MethodPost, mfaSettings+"/webauthn/begin", url.Values{"csrf_token": {tok}})
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
		t.Errorf("registering a key with the password alone: %d %s", resp.StatusCode, body)
	}
	after, err := w.store.ListMFAFactors(context.Background(), alice.ID)
	if err != nil || len(after) != 1 || after[0].ID != factors[0].ID {
		t.Fatalf("factors changed: %v %v", after, err)
	}
	left, _ := w.store.CountRecoveryCodes(context.Background(), alice.ID)
	if left != 10 {
		t.Errorf("%d recovery codes left; want 10", left)
	}
}

func TestRemovingTheLastFactorDropsTheRecoveryCodes(t *testing.T) {
	w := newAWSWeb(t)
	w.openWindow(t, "", time.Hour)
	b := w.browser(t)
	b.login("alice", goodPassword)
	b.enrollTOTP(w.clock.Now())
	_, body := b.get(mfaSettings)
	id := regexp.MustCompile(`name="factor" value="(\d+)"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no factor on the page:\n%s", body)
	}
	resp, body := b.post(mfaSettings, mfaSettings+"/remove", url.Values{"factor": {id[1]}})
	wantRedirect(t, resp, body, mfaSettings)
	alice, _ := w.store.GetUser(context.Background(), "alice")
	if left, _ := w.store.CountRecoveryCodes(context.Background(), alice.ID); left != 0 {
		t.Errorf("%d recovery codes outlived the last factor", left)
	}
	if got := w.auditOf(t, "mfa.remove"); len(got) != 1 || got[0] != "alice ok" {
		t.Errorf("audit %q", got)
	}
	// And the next sign-in needs only the password again.
	b.post("/", "/logout", nil)
	wantRedirect(t, first(b.login("alice", goodPassword)), "", "/")
}

func TestSecondFactorFormsNeedTheirTokenAndBoundTheirInput(t *testing.T) {
	w := newAWSWeb(t)
	secret, _ := w.enrolled(t, "alice")
	b := w.browser(t)
	b.login("alice", goodPassword)
	good := mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)
	if resp, _ := b.do(http.MethodPost, "/login/mfa", url.Values{"code": {good}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	tok := b.token("/login/mfa")
	if resp, _ := b.do(http.MethodPost, "/login/mfa", url.Values{"csrf_token": {tok}, "code": {good}},
		"Origin", "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another origin: %d", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodPost, "/login/mfa", url.Values{"csrf_token": {tok}, "code": {strings.Repeat("1", 65)}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a 65-byte code: %d", resp.StatusCode)
	}
	resp, body := b.do(http.MethodPost, "/login/mfa/webauthn", url.Values{"csrf_token": {tok}, "credential": {`{"id":"x"}`}})
	if resp.StatusCode != http.StatusNotFound {
		// The test server's base URL is an IP address, which cannot be a WebAuthn RP ID.
		t.Errorf("a security key on an IP-address base URL: %d %q", resp.StatusCode, alert(body))
	}
	// None of that spent the code.
	wantRedirect(t, first(b.do(http.MethodPost, "/login/mfa", url.Values{"csrf_token": {tok}, "code": {good}})), "", "/")
}

func TestNoOneRemovesAnotherUsersFactorOrAMalformedOne(t *testing.T) {
	w := newAWSWeb(t)
	w.openWindow(t, "", time.Hour)
	w.enrolled(t, "mallory")
	mallory, _ := w.store.GetUser(context.Background(), "mallory")
	theirs, err := w.store.ListMFAFactors(context.Background(), mallory.ID)
	if err != nil || len(theirs) != 1 {
		t.Fatalf("mallory's factors %v %v", theirs, err)
	}
	b := w.browser(t)
	b.login("alice", goodPassword)
	b.enrollTOTP(w.clock.Now())
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
		if resp, body := b.post(mfaSettings, mfaSettings+"/remove", url.Values{"factor": {c.factor}}); resp.StatusCode != c.status {
			t.Errorf("removing factor %q: %d %q; want %d", c.factor, resp.StatusCode, alert(body), c.status)
		}
	}
	if after, _ := w.store.ListMFAFactors(context.Background(), mallory.ID); len(after) != 1 {
		t.Errorf("mallory's factors after alice's attempts: %v", after)
	}
	if got := w.auditOf(t, "mfa.remove"); len(got) != 0 {
		t.Errorf("removals audited: %q", got)
	}
}

func TestTheSecondStepGoesOnlyToPagesOfThisSiteAndTakesACodeWithSpaces(t *testing.T) {
	w := newAWSWeb(t)
	secret, _ := w.enrolled(t, "alice")
	b := w.browser(t)
	b.login("alice", goodPassword)
	code := mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)
	resp, body := b.post("/login/mfa", "/login/mfa", url.Values{"code": {" " + code[:3] + " " + code[3:] + " "}, "next": {"//evil.example/x"}})
	wantRedirect(t, resp, body, "/")
	// Once the session has its factor, the page sends it on, again only within this site.
	resp, body = b.get("/login/mfa?next=" + url.QueryEscape("https://evil.example/"))
	wantRedirect(t, resp, body, "/")
	resp, body = b.get("/login/mfa?next=" + url.QueryEscape("/aws/signin?account=prod"))
	wantRedirect(t, resp, body, "/aws/signin?account=prod")
}
