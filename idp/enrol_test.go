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
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

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
	if err := w.Store.CloseEnrolWindow(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Store.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	attacker := w.Browser(t)
	idptest.WantRedirect(t, first(attacker.Login("alice", idptest.GoodPassword)), "", "/")
	tok := attacker.PageToken("/")

	resp, body := attacker.Get(idptest.MFASettings)
	wantWhomToAsk(t, "GET /account/mfa", resp, body, "alice")
	if strings.Contains(body, `action="/account/mfa/totp"`) || strings.Contains(body, `data-webauthn="register"`) {
		t.Fatalf("the refusal offers enrolment forms:\n%s", body)
	}
	resp, body = attacker.Do(http.MethodPost, idptest.MFASettings+"/totp", url.Values{"csrf_token": {tok}})
	wantWhomToAsk(t, "starting an app", resp, body, "alice")
	resp, body = attacker.Do(http.MethodPost, idptest.MFASettings+"/totp/confirm", url.Values{"csrf_token": {tok}, "code": {"123456"}})
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
	resp, body = attacker.Do(http.MethodPost, idptest.MFASettings+"/totp", url.Values{"csrf_token": {tok}, "invite": {madeUp}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(idptest.Alert(body), "wrong, used") {
		t.Fatalf("a made-up invite: %d %q", resp.StatusCode, idptest.Alert(body))
	}

	if fs := w.FactorsOf(t, "alice"); len(fs) != 0 {
		t.Fatalf("the attacker stored factors: %+v", fs)
	}
	// No MFA assertion: prod sends the session to enrolment, which refuses it.
	resp, body = attacker.Get("/aws/signin?account=prod")
	idptest.WantRedirect(t, resp, body, "/login/mfa?next="+url.QueryEscape("/aws/signin?account=prod"))
	resp, body = attacker.Get(resp.Header.Get("Location"))
	resp, body = attacker.Get(resp.Header.Get("Location"))
	wantWhomToAsk(t, "the step-up", resp, body, "alice")
	if got := w.AuditOf(t, "assertion"); len(got) != 0 {
		t.Fatalf("assertions issued: %q", got)
	}
	if got := w.authnContext(t, attacker, "gov"); got != assertions.ContextPassword {
		t.Fatalf("gov AuthnContext %s; want password only", got)
	}
	if got := strings.Join(w.AuditOf(t, "mfa.enroll"), "|"); got != "alice no_invite|alice no_invite|alice no_invite" {
		t.Errorf("enrol audit %q; want each attempt refused as no_invite", got)
	}
	if got := w.AuditOf(t, "mfa.invite"); len(got) != 1 || got[0] != "alice wrong_code" {
		t.Errorf("invite audit %q", got)
	}
	// The real user sees the attempts on the portal once enrolled.
	invite := w.Invite(t, "alice", time.Hour)
	real := w.Browser(t)
	real.Login("alice", idptest.GoodPassword)
	real.EnrollTOTP(w.Clock.Now(), invite)
	_, body = real.Get("/")
	if !strings.Contains(body, "Refused: adding a first factor without an enrolment code") || !strings.Contains(body, "Refused: a wrong enrolment code") ||
		!strings.Contains(body, "Added Authenticator app") {
		t.Errorf("the portal does not show the factor changes:\n%s", body)
	}
}

func TestAnInviteWorksOnceForItsUserUntilItExpires(t *testing.T) {
	w := idptest.NewAWSWebWith(t, func(cfg *idp.Config) { cfg.RequireMFA = true })
	ctx := context.Background()
	theirs := w.Invite(t, "mallory", time.Hour)
	stale := w.Invite(t, "alice", time.Hour)
	invite := w.Invite(t, "alice", 2*time.Hour) // replaces the first

	// The link, followed before signing in, comes back to itself after the password.
	b := w.Browser(t)
	link := idptest.MFASettings + "?invite=" + url.QueryEscape(invite)
	resp, body := b.Get(link)
	idptest.WantRedirect(t, resp, body, "/login?next="+url.QueryEscape(link))
	resp, body = b.Login("alice", idptest.GoodPassword, "next", link)
	resp, body = b.Get(resp.Header.Get("Location"))
	idptest.WantRedirect(t, resp, body, link)

	for _, c := range []struct{ name, code string }{
		{"another user's invite", theirs},
		{"a replaced invite", stale},
		{"a mangled invite", invite[:len(invite)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(invite, "a")]},
	} {
		resp, body := b.Get(idptest.MFASettings + "?invite=" + url.QueryEscape(c.code))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(idptest.Alert(body), "wrong, used") {
			t.Errorf("%s: %d %q; want 403", c.name, resp.StatusCode, idptest.Alert(body))
		}
	}
	resp, body = b.Get(link)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your enrolment code is accepted") {
		t.Fatalf("the invite's page: %d\n%s", resp.StatusCode, body)
	}
	b.EnrollTOTP(w.Clock.Now(), invite)
	if got := w.AuthnContext(t, b, "gov"); got != assertions.ContextMFA {
		t.Errorf("after enrolling with the invite, AuthnContext %s", got)
	}
	es, err := w.Store.ListAudit(ctx, store.AuditFilter{Types: []string{"mfa.enroll"}})
	if err != nil || len(es) != 1 || es[0].Result != "ok" || es[0].Details["via"] != "invite" {
		t.Fatalf("enrol audit %+v %v; want one ok via invite", es, err)
	}

	// Spent: after a reset the same code adds nothing.
	alice, _ := w.Store.GetUser(ctx, "alice")
	if _, err := w.Store.ResetMFA(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	b2 := w.Browser(t)
	b2.Login("alice", idptest.GoodPassword)
	resp, body = b2.Get(link)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a spent invite: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	resp, _ = b2.Do(http.MethodPost, idptest.MFASettings+"/totp", url.Values{"csrf_token": {b2.PageToken(idptest.MFASettings)}, "invite": {invite}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("starting an app with a spent invite: %d", resp.StatusCode)
	}

	// Expired: refused from its end on, and nothing is stored.
	late := w.Invite(t, "alice", 10*time.Minute)
	w.Clock.Advance(10 * time.Minute)
	resp, body = b2.Get(idptest.MFASettings + "?invite=" + url.QueryEscape(late))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an expired invite: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	if fs := w.FactorsOf(t, "alice"); len(fs) != 0 {
		t.Fatalf("factors after refused invites: %+v", fs)
	}
}

// Two tabs (or the user and someone else) redeem one invite at the same moment.
func TestAnInviteRedeemedTwiceAtOnceAddsOneFactor(t *testing.T) {
	w, st := newRacingKeyWeb(t)
	invite := w.Invite(t, "alice", time.Hour)
	var forms []url.Values
	var bs []*idptest.Browser
	for i := range 2 {
		b := w.Browser(t)
		b.Login("alice", idptest.GoodPassword)
		from := idptest.MFASettings + "?invite=" + url.QueryEscape(invite)
		c := w.begin(t, b, from, keyRegisterBegin, url.Values{"invite": {invite}})
		forms = append(forms, url.Values{"csrf_token": {b.Token(from)}, "invite": {invite}, "name": {"Key " + string(rune('A'+i))},
			"credential": {newSoftKey(t).create(t, c)}})
		bs = append(bs, b)
	}
	st.arm(2) // both pass the handlers' checks; the store lets one in
	results := make([]string, 2)
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			resp, _ := b.Do(http.MethodPost, keyRegister, forms[i], "Origin", w.origin)
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
	w := idptest.NewAWSWeb(t)
	invite := w.Invite(t, "alice", time.Hour)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	// Another site can navigate alice's browser to invite links as often as it likes: those GETs
	// are refused, but spend none of her attempts and write nothing.
	for range 12 {
		wrong, _, _ := mfa.NewInvite()
		if resp, _ := b.Do(http.MethodGet, idptest.MFASettings+"?invite="+wrong, nil, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a wrong code by GET: %d", resp.StatusCode)
		}
	}
	if got := append(w.AuditOf(t, "mfa.invite"), w.AuditOf(t, "throttle.lock")...); len(got) != 0 {
		t.Fatalf("GETs with wrong codes wrote %q", got)
	}
	// Tried with the form (which carries her CSRF token), wrong codes count.
	tryCode := func(code string) (*http.Response, string) {
		return b.Post("/", idptest.MFASettings+"/totp", url.Values{"invite": {code}})
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
		t.Fatalf("after five wrong codes: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	if got := w.AuditOf(t, "throttle.lock"); strings.Join(got, ",") != "alice locked" {
		t.Errorf("lock events %q; want the one that began the wait", got)
	}
	if got := w.AuditOf(t, "mfa.invite"); len(got) != 5 {
		t.Errorf("wrong-code audits %q; want 5", got)
	}
	w.Clock.Advance(16 * time.Minute)
	if resp, body := tryCode(invite); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the window: %d %q", resp.StatusCode, idptest.Alert(body))
	}
}

func TestAnEnrolmentWindowLetsItsUsersInUntilItEnds(t *testing.T) {
	w := idptest.NewAWSWebWith(t, func(cfg *idp.Config) { cfg.RequireMFA = true })
	w.OpenWindow(t, "prod", time.Hour) // alice holds roles in prod; mallory none

	m := w.Browser(t)
	m.Login("mallory", idptest.GoodPassword)
	resp, body := m.Get(idptest.MFASettings)
	wantWhomToAsk(t, "mallory, outside prod's window", resp, body, "mallory")

	a := w.Browser(t)
	a.Login("alice", idptest.GoodPassword)
	a.EnrollTOTP(w.Clock.Now())
	es, err := w.Store.ListAudit(context.Background(), store.AuditFilter{Types: []string{"mfa.enroll"}})
	if err != nil || len(es) != 1 || es[0].Details["via"] != "window" {
		t.Fatalf("enrol audit %+v %v; want one via window", es, err)
	}

	// At its end the window closes by itself: bob, who had not enrolled, is refused, and told whom to ask.
	w.AddUser(t, "bob", idptest.GoodPassword)
	if err := w.Store.CreateGrant(context.Background(), &store.Grant{User: "bob", AccountID: "prod", Role: "ReadOnly"}); err != nil {
		t.Fatal(err)
	}
	w.Clock.Advance(time.Hour)
	b := w.Browser(t)
	idptest.WantRedirect(t, first(b.Login("bob", idptest.GoodPassword)), "", "/login/mfa")
	resp, body = b.Get("/login/mfa")
	resp, body = b.Get(resp.Header.Get("Location"))
	wantWhomToAsk(t, "bob after the window", resp, body, "bob")
	if want := "Self-enrolment closed on " + w.Clock.Now().Format("2 Jan 2006 15:04 MST"); !strings.Contains(body, want) {
		t.Errorf("the refusal does not say %q:\n%s", want, body)
	}
	if _, body := b.Get("/aws/signin?account=prod"); strings.Contains(body, "SAMLResponse") {
		t.Fatal("an assertion for a user who could not enrol")
	}
	if fs := w.FactorsOf(t, "bob"); len(fs) != 0 {
		t.Fatalf("bob's factors: %+v", fs)
	}
}

var factorIDRE = regexp.MustCompile(`name="factor" value="(\d+)"`)

// Someone at a browser whose second factor was used long ago cannot add, remove or renew factors.
func TestChangingFactorsTakesASecondFactorUsedInTheLastMinutes(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	secret, _ := w.Enrolled(t, "alice")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, first(b.Code(mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits))), "", "/")
	_, body := b.Get(idptest.MFASettings)
	id := factorIDRE.FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no factor on the page:\n%s", body)
	}
	alice, _ := w.Store.GetUser(context.Background(), "alice")
	codesBefore, _ := w.Store.CountRecoveryCodes(context.Background(), alice.ID)

	w.Clock.Advance(11 * time.Minute)
	// Changing the password does not make the old second factor recent.
	resp, body := b.Post("/account/password", "/account/password", url.Values{"current_password": {idptest.GoodPassword},
		"new_password": {idptest.GoodPassword + "!"}, "confirm_password": {idptest.GoodPassword + "!"}})
	idptest.WantRedirect(t, resp, body, "/")
	tok := b.Token("/")
	back := "/login/mfa?next=" + url.QueryEscape(idptest.MFASettings)
	// Even the settings page asks for the second factor again first, so its forms work when shown.
	resp, body = b.Get(idptest.MFASettings)
	idptest.WantRedirect(t, resp, body, back)
	for _, path := range []string{"/remove", "/recovery", "/totp"} {
		resp, body := b.Do(http.MethodPost, idptest.MFASettings+path, url.Values{"csrf_token": {tok}, "factor": {id[1]}})
		idptest.WantRedirect(t, resp, body, back)
	}
	if fs := w.FactorsOf(t, "alice"); len(fs) != 1 {
		t.Fatalf("factors changed with a stale second factor: %+v", fs)
	}
	if n, _ := w.Store.CountRecoveryCodes(context.Background(), alice.ID); n != codesBefore {
		t.Fatalf("recovery codes %d -> %d with a stale second factor", codesBefore, n)
	}

	// A fresh second step, and the change goes through.
	resp, body = b.Get(back)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="code"`) {
		t.Fatalf("the second step for a stale session: %d\n%s", resp.StatusCode, body)
	}
	w.Clock.Advance(mfa.Period)
	resp, body = b.Post(back, "/login/mfa", url.Values{"code": {mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)}, "next": {idptest.MFASettings}})
	idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	resp, body = b.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {id[1]}})
	idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	if fs := w.FactorsOf(t, "alice"); len(fs) != 0 {
		t.Fatalf("factors after a fresh removal: %+v", fs)
	}
}

// A user who mistyped their enrolment code asks the administrator, who runs `rolegate user unlock`:
// the enrolment code's counters clear with the password's and the second factor's.
func TestUnlockingAUserClearsTheirEnrolmentCodeCounters(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	invite := w.Invite(t, "alice", time.Hour)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	tryCode := func(code string) (*http.Response, string) {
		return b.Post("/", idptest.MFASettings+"/totp", url.Values{"invite": {code}})
	}
	for range 5 {
		wrong, _, _ := mfa.NewInvite()
		tryCode(wrong)
	}
	if resp, _ := tryCode(invite); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after five wrong codes: %d", resp.StatusCode)
	}
	if _, err := idp.UnlockUser(context.Background(), w.Store, "alice", w.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, body := tryCode(invite); resp.StatusCode != http.StatusOK {
		t.Fatalf("after user unlock: %d %q", resp.StatusCode, idptest.Alert(body))
	}
}

// A lost phone: alice signs in with a recovery code, removes the lost app (the settings page told
// her to remove it before setting up another) and sets up her new phone, all within minutes of the
// recovery code. The session that just used a second factor needs no invite for that; later, or for
// a session that never used one, the first factor takes an invite again.
func TestASessionThatJustUsedItsSecondFactorReplacesItsLastOneWithoutAnInvite(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	_, recovery := w.Enrolled(t, "alice")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, first(b.Code(recovery[0])), "", "/")
	_, body := b.Get(idptest.MFASettings)
	id := factorIDRE.FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no factor on the page:\n%s", body)
	}
	resp, body := b.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {id[1]}})
	idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	w.Clock.Advance(time.Minute)
	b.EnrollTOTP(w.Clock.Now())
	if fs := w.FactorsOf(t, "alice"); len(fs) != 1 || !fs[0].Confirmed {
		t.Fatalf("factors after replacing the lost app: %+v", fs)
	}
	if got := w.AuditOf(t, "mfa.enroll"); len(got) != 1 || got[0] != "alice ok" {
		t.Fatalf("enrol audits %q", got)
	}

	// Removed again, but the second factor was used more than ten minutes ago: an invite it takes.
	_, body = b.Get(idptest.MFASettings)
	id = factorIDRE.FindStringSubmatch(body)
	resp, body = b.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {id[1]}})
	idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	w.Clock.Advance(11 * time.Minute)
	resp, body = b.Post("/", idptest.MFASettings+"/totp", nil)
	wantWhomToAsk(t, "a stale session without factors", resp, body, "alice")
	if fs := w.FactorsOf(t, "alice"); len(fs) != 0 {
		t.Fatalf("factors: %+v", fs)
	}
}
