package idp_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/idp"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// pageToken is the CSRF token on any page the signed-in browser gets, whatever its status.
func (b *browser) pageToken(path string) string {
	b.t.Helper()
	_, body := b.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("GET %s: no csrf_token in:\n%s", path, body)
	}
	return html.UnescapeString(m[1])
}

// factorsOf is what the store keeps of name's factors, confirmed or not.
func (w *web) factorsOf(t *testing.T, name string) []*store.MFAFactor {
	t.Helper()
	u, err := w.store.GetUser(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := w.store.ListMFAFactors(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// wantWhomToAsk fails unless the page refuses a first factor with the words that say whom to ask.
func wantWhomToAsk(t *testing.T, what string, resp *http.Response, body, user string) {
	t.Helper()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(html.UnescapeString(body), "ask them to run `rolegate user mfa invite "+user+"`") {
		t.Fatalf("%s: %d; want 403 saying whom to ask:\n%s", what, resp.StatusCode, body)
	}
}

// The takeover: someone who holds an unenrolled user's password enrols their own authenticator.
func TestAPasswordAloneCannotEnrolAFirstFactor(t *testing.T) {
	w := newKeyWeb(t)
	ctx := context.Background()
	if err := w.store.CloseEnrolWindow(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	attacker := w.browser(t)
	wantRedirect(t, first(attacker.login("alice", goodPassword)), "", "/")
	tok := attacker.pageToken("/")

	resp, body := attacker.get(mfaSettings)
	wantWhomToAsk(t, "GET /account/mfa", resp, body, "alice")
	if strings.Contains(body, `action="/account/mfa/totp"`) || strings.Contains(body, `data-webauthn="register"`) {
		t.Fatalf("the refusal offers enrolment forms:\n%s", body)
	}
	resp, body = attacker.do(http.MethodPost, mfaSettings+"/totp", url.Values{"csrf_token": {tok}})
	wantWhomToAsk(t, "starting an app", resp, body, "alice")
	resp, body = attacker.do(http.MethodPost, mfaSettings+"/totp/confirm", url.Values{"csrf_token": {tok}, "code": {"123456"}})
	wantWhomToAsk(t, "confirming an app", resp, body, "alice")
	resp, body = w.send(attacker, "/", keyRegisterBegin, url.Values{})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "rolegate user mfa invite alice") {
		t.Fatalf("beginning a key: %d %s", resp.StatusCode, body)
	}
	k := newSoftKey(t)
	forged := k.create(t, ceremony{typ: "webauthn.create", origin: w.origin, rpID: "localhost", challenge: b64url.EncodeToString([]byte("guess")),
		user: []byte("x")})
	resp, body = w.send(attacker, "/", keyRegister, url.Values{"name": {"Mine"}, "credential": {forged}})
	wantWhomToAsk(t, "registering a key", resp, body, "alice")
	// A made-up invite is no better.
	madeUp, _, _ := mfa.NewInvite()
	resp, body = attacker.do(http.MethodPost, mfaSettings+"/totp", url.Values{"csrf_token": {tok}, "invite": {madeUp}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(alert(body), "wrong, used") {
		t.Fatalf("a made-up invite: %d %q", resp.StatusCode, alert(body))
	}

	if fs := w.factorsOf(t, "alice"); len(fs) != 0 {
		t.Fatalf("the attacker stored factors: %+v", fs)
	}
	// No MFA assertion: prod sends the session to enrolment, which refuses it.
	resp, body = attacker.get("/aws/signin?account=prod")
	wantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape("/aws/signin?account=prod"))
	resp, body = attacker.get(resp.Header.Get("Location"))
	resp, body = attacker.get(resp.Header.Get("Location"))
	wantWhomToAsk(t, "the step-up", resp, body, "alice")
	if got := w.auditOf(t, "assertion"); len(got) != 0 {
		t.Fatalf("assertions issued: %q", got)
	}
	if got := w.authnContext(t, attacker, "gov"); got != assertions.ContextPassword {
		t.Fatalf("gov AuthnContext %s; want password only", got)
	}
	if got := strings.Join(w.auditOf(t, "mfa.enroll"), "|"); got != "alice no_invite|alice no_invite|alice no_invite" {
		t.Errorf("enrol audit %q; want each attempt refused as no_invite", got)
	}
	if got := w.auditOf(t, "mfa.invite"); len(got) != 1 || got[0] != "alice wrong_code" {
		t.Errorf("invite audit %q", got)
	}
	// The real user sees the attempts on the portal once enrolled.
	invite := w.invite(t, "alice", time.Hour)
	real := w.browser(t)
	real.login("alice", goodPassword)
	real.enrollTOTP(w.clock.Now(), invite)
	_, body = real.get("/")
	if !strings.Contains(body, "Refused: adding a first factor without an enrolment code") || !strings.Contains(body, "Refused: a wrong enrolment code") ||
		!strings.Contains(body, "Added Authenticator app") {
		t.Errorf("the portal does not show the factor changes:\n%s", body)
	}
}

func TestAnInviteWorksOnceForItsUserUntilItExpires(t *testing.T) {
	w := newAWSWebWith(t, func(cfg *idp.Config) { cfg.RequireMFA = true })
	ctx := context.Background()
	theirs := w.invite(t, "mallory", time.Hour)
	stale := w.invite(t, "alice", time.Hour)
	invite := w.invite(t, "alice", 2*time.Hour) // replaces the first

	// The link, followed before signing in, comes back to itself after the password.
	b := w.browser(t)
	link := mfaSettings + "?invite=" + url.QueryEscape(invite)
	resp, body := b.get(link)
	wantRedirect(t, resp, body, "/login?next="+url.QueryEscape(link))
	resp, body = b.login("alice", goodPassword, "next", link)
	resp, body = b.get(resp.Header.Get("Location"))
	wantRedirect(t, resp, body, link)

	for _, c := range []struct{ name, code string }{
		{"another user's invite", theirs},
		{"a replaced invite", stale},
		{"a mangled invite", invite[:len(invite)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(invite, "a")]},
	} {
		resp, body := b.get(mfaSettings + "?invite=" + url.QueryEscape(c.code))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(alert(body), "wrong, used") {
			t.Errorf("%s: %d %q; want 403", c.name, resp.StatusCode, alert(body))
		}
	}
	resp, body = b.get(link)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your enrolment code is accepted") {
		t.Fatalf("the invite's page: %d\n%s", resp.StatusCode, body)
	}
	b.enrollTOTP(w.clock.Now(), invite)
	if got := w.authnContext(t, b, "gov"); got != assertions.ContextMFA {
		t.Errorf("after enrolling with the invite, AuthnContext %s", got)
	}
	es, err := w.store.ListAudit(ctx, store.AuditFilter{Types: []string{"mfa.enroll"}})
	if err != nil || len(es) != 1 || es[0].Result != "ok" || es[0].Details["via"] != "invite" {
		t.Fatalf("enrol audit %+v %v; want one ok via invite", es, err)
	}

	// Spent: after a reset the same code adds nothing.
	alice, _ := w.store.GetUser(ctx, "alice")
	if _, err := w.store.ResetMFA(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	b2 := w.browser(t)
	b2.login("alice", goodPassword)
	resp, body = b2.get(link)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a spent invite: %d %q", resp.StatusCode, alert(body))
	}
	resp, _ = b2.do(http.MethodPost, mfaSettings+"/totp", url.Values{"csrf_token": {b2.pageToken(mfaSettings)}, "invite": {invite}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("starting an app with a spent invite: %d", resp.StatusCode)
	}

	// Expired: refused from its end on, and nothing is stored.
	late := w.invite(t, "alice", 10*time.Minute)
	w.clock.Advance(10 * time.Minute)
	resp, body = b2.get(mfaSettings + "?invite=" + url.QueryEscape(late))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an expired invite: %d %q", resp.StatusCode, alert(body))
	}
	if fs := w.factorsOf(t, "alice"); len(fs) != 0 {
		t.Fatalf("factors after refused invites: %+v", fs)
	}
}

// Two tabs (or the user and someone else) redeem one invite at the same moment.
func TestAnInviteRedeemedTwiceAtOnceAddsOneFactor(t *testing.T) {
	w, st := newRacingKeyWeb(t)
	invite := w.invite(t, "alice", time.Hour)
	var forms []url.Values
	var bs []*browser
	for i := range 2 {
		b := w.browser(t)
		b.login("alice", goodPassword)
		from := mfaSettings + "?invite=" + url.QueryEscape(invite)
		c := w.begin(t, b, from, keyRegisterBegin, url.Values{"invite": {invite}})
		forms = append(forms, url.Values{"csrf_token": {b.token(from)}, "invite": {invite}, "name": {"Key " + string(rune('A'+i))},
			"credential": {newSoftKey(t).create(t, c)}})
		bs = append(bs, b)
	}
	st.arm(2) // both pass the handlers' checks; the store lets one in
	results := make([]string, 2)
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			resp, _ := b.do(http.MethodPost, keyRegister, forms[i], "Origin", w.origin)
			results[i] = strconv.Itoa(resp.StatusCode) + " " + resp.Header.Get("Location")
		})
	}
	wg.Wait()
	slices.Sort(results)
	if results[0] != "200 " || results[1] != "403 " {
		t.Errorf("results %q; want one 200 and one 403", results)
	}
	if keys := w.keys(t, "alice"); len(keys) != 1 {
		t.Fatalf("%d keys after two redemptions of one invite; want 1", len(keys))
	}
}

func TestWrongInviteCodesAreCountedPerUser(t *testing.T) {
	w := newAWSWeb(t)
	invite := w.invite(t, "alice", time.Hour)
	b := w.browser(t)
	b.login("alice", goodPassword)
	// Another site can navigate alice's browser to invite links as often as it likes: those GETs
	// are refused, but spend none of her attempts and write nothing.
	for range 12 {
		wrong, _, _ := mfa.NewInvite()
		if resp, _ := b.do(http.MethodGet, mfaSettings+"?invite="+wrong, nil, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a wrong code by GET: %d", resp.StatusCode)
		}
	}
	if got := append(w.auditOf(t, "mfa.invite"), w.auditOf(t, "throttle.lock")...); len(got) != 0 {
		t.Fatalf("GETs with wrong codes wrote %q", got)
	}
	// Tried with the form (which carries her CSRF token), wrong codes count.
	tryCode := func(code string) (*http.Response, string) {
		return b.post("/", mfaSettings+"/totp", url.Values{"invite": {code}})
	}
	for i := range 5 {
		wrong, _, _ := mfa.NewInvite()
		if resp, _ := tryCode(wrong); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("wrong code %d: %d", i, resp.StatusCode)
		}
	}
	// Over the limit, even the right code waits: no one tries a sixth guess.
	resp, body := tryCode(invite)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after five wrong codes: %d %q", resp.StatusCode, alert(body))
	}
	if got := w.auditOf(t, "throttle.lock"); strings.Join(got, ",") != "alice locked" {
		t.Errorf("lock events %q; want the one that began the wait", got)
	}
	if got := w.auditOf(t, "mfa.invite"); len(got) != 5 {
		t.Errorf("wrong-code audits %q; want 5", got)
	}
	w.clock.Advance(16 * time.Minute)
	if resp, body := tryCode(invite); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the window: %d %q", resp.StatusCode, alert(body))
	}
}

func TestAnEnrolmentWindowLetsItsUsersInUntilItEnds(t *testing.T) {
	w := newAWSWebWith(t, func(cfg *idp.Config) { cfg.RequireMFA = true })
	w.openWindow(t, "prod", time.Hour) // alice holds roles in prod; mallory none

	m := w.browser(t)
	m.login("mallory", goodPassword)
	resp, body := m.get(mfaSettings)
	wantWhomToAsk(t, "mallory, outside prod's window", resp, body, "mallory")

	a := w.browser(t)
	a.login("alice", goodPassword)
	a.enrollTOTP(w.clock.Now())
	es, err := w.store.ListAudit(context.Background(), store.AuditFilter{Types: []string{"mfa.enroll"}})
	if err != nil || len(es) != 1 || es[0].Details["via"] != "window" {
		t.Fatalf("enrol audit %+v %v; want one via window", es, err)
	}

	// At its end the window closes by itself: bob, who had not enrolled, is refused, and told whom to ask.
	w.addUser(t, "bob", goodPassword)
	if err := w.store.CreateGrant(context.Background(), &store.Grant{User: "bob", AccountID: "prod", Role: "ReadOnly"}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	b := w.browser(t)
	wantRedirect(t, first(b.login("bob", goodPassword)), "", "/login/mfa")
	resp, body = b.get("/login/mfa")
	resp, body = b.get(resp.Header.Get("Location"))
	wantWhomToAsk(t, "bob after the window", resp, body, "bob")
	if want := "Self-enrolment closed on " + w.clock.Now().Format("2 Jan 2006 15:04 MST"); !strings.Contains(body, want) {
		t.Errorf("the refusal does not say %q:\n%s", want, body)
	}
	if _, body := b.get("/aws/signin?account=prod"); strings.Contains(body, "SAMLResponse") {
		t.Fatal("an assertion for a user who could not enrol")
	}
	if fs := w.factorsOf(t, "bob"); len(fs) != 0 {
		t.Fatalf("bob's factors: %+v", fs)
	}
}

var factorIDRE = regexp.MustCompile(`name="factor" value="(\d+)"`)

// Someone at a browser whose second factor was used long ago cannot add, remove or renew factors.
func TestChangingFactorsTakesASecondFactorUsedInTheLastMinutes(t *testing.T) {
	w := newAWSWeb(t)
	secret, _ := w.enrolled(t, "alice")
	b := w.browser(t)
	b.login("alice", goodPassword)
	wantRedirect(t, first(b.code(mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits))), "", "/")
	_, body := b.get(mfaSettings)
	id := factorIDRE.FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no factor on the page:\n%s", body)
	}
	alice, _ := w.store.GetUser(context.Background(), "alice")
	codesBefore, _ := w.store.CountRecoveryCodes(context.Background(), alice.ID)

	w.clock.Advance(11 * time.Minute)
	// Changing the password does not make the old second factor recent.
	resp, body := b.post("/account/password", "/account/password", url.Values{"current_password": {goodPassword},
		"new_password": {goodPassword + "!"}, "confirm_password": {goodPassword + "!"}})
	wantRedirect(t, resp, body, "/")
	tok := b.token("/")
	back := "/login/mfa?next=" + url.QueryEscape(mfaSettings)
	// Even the settings page asks for the second factor again first, so its forms work when shown.
	resp, body = b.get(mfaSettings)
	wantRedirect(t, resp, body, back)
	for _, path := range []string{"/remove", "/recovery", "/totp"} {
		resp, body := b.do(http.MethodPost, mfaSettings+path, url.Values{"csrf_token": {tok}, "factor": {id[1]}})
		wantRedirect(t, resp, body, back)
	}
	if fs := w.factorsOf(t, "alice"); len(fs) != 1 {
		t.Fatalf("factors changed with a stale second factor: %+v", fs)
	}
	if n, _ := w.store.CountRecoveryCodes(context.Background(), alice.ID); n != codesBefore {
		t.Fatalf("recovery codes %d -> %d with a stale second factor", codesBefore, n)
	}

	// A fresh second step, and the change goes through.
	resp, body = b.get(back)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="code"`) {
		t.Fatalf("the second step for a stale session: %d\n%s", resp.StatusCode, body)
	}
	w.clock.Advance(mfa.Period)
	resp, body = b.post(back, "/login/mfa", url.Values{"code": {mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits)}, "next": {mfaSettings}})
	wantRedirect(t, resp, body, mfaSettings)
	resp, body = b.post(mfaSettings, mfaSettings+"/remove", url.Values{"factor": {id[1]}})
	wantRedirect(t, resp, body, mfaSettings)
	if fs := w.factorsOf(t, "alice"); len(fs) != 0 {
		t.Fatalf("factors after a fresh removal: %+v", fs)
	}
}

// A user who mistyped their enrolment code asks the administrator, who runs `rolegate user unlock`:
// the enrolment code's counters clear with the password's and the second factor's.
func TestUnlockingAUserClearsTheirEnrolmentCodeCounters(t *testing.T) {
	w := newAWSWeb(t)
	invite := w.invite(t, "alice", time.Hour)
	b := w.browser(t)
	b.login("alice", goodPassword)
	tryCode := func(code string) (*http.Response, string) {
		return b.post("/", mfaSettings+"/totp", url.Values{"invite": {code}})
	}
	for range 5 {
		wrong, _, _ := mfa.NewInvite()
		tryCode(wrong)
	}
	if resp, _ := tryCode(invite); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after five wrong codes: %d", resp.StatusCode)
	}
	if _, err := idp.UnlockUser(context.Background(), w.store, "alice", w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, body := tryCode(invite); resp.StatusCode != http.StatusOK {
		t.Fatalf("after user unlock: %d %q", resp.StatusCode, alert(body))
	}
}

// A lost phone: alice signs in with a recovery code, removes the lost app (the settings page told
// her to remove it before setting up another) and sets up her new phone, all within minutes of the
// recovery code. The session that just used a second factor needs no invite for that; later, or for
// a session that never used one, the first factor takes an invite again.
func TestASessionThatJustUsedItsSecondFactorReplacesItsLastOneWithoutAnInvite(t *testing.T) {
	w := newAWSWeb(t)
	_, recovery := w.enrolled(t, "alice")
	b := w.browser(t)
	b.login("alice", goodPassword)
	wantRedirect(t, first(b.code(recovery[0])), "", "/")
	_, body := b.get(mfaSettings)
	id := factorIDRE.FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no factor on the page:\n%s", body)
	}
	resp, body := b.post(mfaSettings, mfaSettings+"/remove", url.Values{"factor": {id[1]}})
	wantRedirect(t, resp, body, mfaSettings)
	w.clock.Advance(time.Minute)
	b.enrollTOTP(w.clock.Now())
	if fs := w.factorsOf(t, "alice"); len(fs) != 1 || !fs[0].Confirmed {
		t.Fatalf("factors after replacing the lost app: %+v", fs)
	}
	if got := w.auditOf(t, "mfa.enroll"); len(got) != 1 || got[0] != "alice ok" {
		t.Fatalf("enrol audits %q", got)
	}

	// Removed again, but the second factor was used more than ten minutes ago: an invite it takes.
	_, body = b.get(mfaSettings)
	id = factorIDRE.FindStringSubmatch(body)
	resp, body = b.post(mfaSettings, mfaSettings+"/remove", url.Values{"factor": {id[1]}})
	wantRedirect(t, resp, body, mfaSettings)
	w.clock.Advance(11 * time.Minute)
	resp, body = b.post("/", mfaSettings+"/totp", nil)
	wantWhomToAsk(t, "a stale session without factors", resp, body, "alice")
	if fs := w.factorsOf(t, "alice"); len(fs) != 0 {
		t.Fatalf("factors: %+v", fs)
	}
}
