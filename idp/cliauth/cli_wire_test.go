package cliauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// wantCLISession checks that a token answer brought a session for the account, made with
// methods at authn, expiring at want, and returns its token.
func (w *awsWeb) wantCLISession(t *testing.T, status int, a tokenAnswer, account, methods string, authn, want time.Time) string {
	t.Helper()
	if status != http.StatusOK || a.Session == nil || len(a.Session.Token) != 43 || !strings.HasPrefix(a.Session.ID, "cs_") ||
		!a.Session.Expires.Equal(want) {
		t.Fatalf("no CLI session, or not until %s: %d %+v", want, status, a.Session)
	}
	list, err := w.Store.ListCLISessions(context.Background(), 0, w.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range list {
		if cs.ID != a.Session.ID {
			continue
		}
		if cs.AccountID != account || cs.AuthMethods != methods || !cs.AuthnInstant.Equal(authn) || cs.HostName != "laptop" {
			t.Fatalf("stored %+v; want account %s, methods %s, sign-in at %s", cs, account, methods, authn)
		}
		return a.Session.Token
	}
	t.Fatalf("session %s not stored: %+v", a.Session.ID, list)
	return ""
}

func TestABrowserFlowLoginBringsACLISessionBoundToTheConfirmingSignIn(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	authn := w.Clock.Now()
	w.Clock.Advance(10 * time.Minute)

	// A code exchanged without asking brings no session.
	r := newCLIRequest()
	status, a := w.exchange(t, r.code(t, b, "444455556666 Auditor"), r.verifier, r.redirect)
	if status != http.StatusOK || a.Session != nil {
		t.Fatalf("a session without asking: %d %+v", status, a.Session)
	}
	if list, _ := w.Store.ListCLISessions(context.Background(), 0, w.Clock.Now()); len(list) != 0 {
		t.Fatalf("stored without asking: %+v", list)
	}

	// Asked for, it carries the browser session's password-only sign-in and its instant, not the exchange's.
	status, a = w.exchange(t, r.code(t, b, "444455556666 Auditor"), r.verifier, r.redirect, "cli_session", "request", "host", "laptop\n")
	tok := w.wantCLISession(t, status, a, "444455556666", "pwd", authn, authn.Add(12*time.Hour))
	if got := w.AuditOf(t, "cli_session"); len(got) != 1 || got[0] != "alice created" {
		t.Errorf("cli_session audit %v", got)
	}
	w.Clock.Advance(time.Hour)
	if resp, body := w.Refresh(t, tok, "?role=Auditor"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "444455556666") {
		t.Fatalf("refresh: %d\n%s", resp.StatusCode, body)
	}
	// The password-only session never reaches the account that requires MFA...
	if resp, body := w.Refresh(t, tok, "?account=prod&role=Admin"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("prod with a password-only session: %d\n%s", resp.StatusCode, body)
	}
	// ...nor its own account once that requires MFA.
	if _, err := w.Store.UpdateAccount(context.Background(), "gov", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if resp, body := w.Refresh(t, tok, ""); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "made without one") {
		t.Fatalf("gov now requiring MFA: %d\n%s", resp.StatusCode, body)
	}
}

func TestABrowserFlowLoginWithASecondFactorRefreshesTheMFAAccount(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	secret, _ := w.Enrolled(t, "alice")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	if resp, body := b.Post("/login/mfa", "/login/mfa", url.Values{"code": {mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("mfa: %d\n%s", resp.StatusCode, body)
	}
	r := newCLIRequest()
	status, a := w.exchange(t, r.code(t, b, "111122223333 Admin"), r.verifier, r.redirect, "cli_session", "request", "host", "laptop")
	tok := w.wantCLISession(t, status, a, "111122223333", "pwd,otp", w.Clock.Now(), w.Clock.Now().Add(12*time.Hour))
	if resp, body := w.Refresh(t, tok, "?account=prod&role=Admin"); resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d\n%s", resp.StatusCode, body)
	}
	// A new password ends it.
	w.Update(t, "alice", func(u *store.User) { u.PasswordHash = "changed" })
	if resp, body := w.Refresh(t, tok, "?account=prod&role=Admin"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after a password change: %d\n%s", resp.StatusCode, body)
	}
}

func TestADeviceFlowLoginBringsACLISessionOnlyWhenAsked(t *testing.T) {
	w := newAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	authn := w.Clock.Now()
	approve := func() string {
		g := w.requestDevice(t, "prod")
		if resp, body := decide(b, g.UserCode, "approve", "111122223333 Admin"); resp.StatusCode != http.StatusOK {
			t.Fatalf("approve: %d\n%s", resp.StatusCode, body)
		}
		w.Clock.Advance(10 * time.Second)
		return g.DeviceCode
	}
	if status, a := w.poll(t, approve()); status != http.StatusOK || a.Session != nil {
		t.Fatalf("a session without asking: %d %+v", status, a.Session)
	}
	// A pending poll that asks gets nothing but the wait.
	g := w.requestDevice(t, "prod")
	if status, a := w.poll(t, g.DeviceCode, "cli_session", "request"); status != http.StatusBadRequest || a.Error != "authorization_pending" || a.Session != nil {
		t.Fatalf("pending: %d %+v", status, a)
	}
	status, a := w.poll(t, approve(), "cli_session", "request", "host", "laptop")
	tok := w.wantCLISession(t, status, a, "111122223333", "pwd", authn, authn.Add(12*time.Hour))
	w.Clock.Advance(2 * time.Hour)
	if resp, body := w.Refresh(t, tok, "?role=ReadOnly"); resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := w.Refresh(t, tok, "?account=gov"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another account: %d\n%s", resp.StatusCode, body)
	}
}

func TestAnAccountsCLISessionLifetimeCapsTheSessionsOfEveryFlow(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.Store.UpdateAccount(context.Background(), "gov", func(a *store.Account) error { a.CLISessionMax = 2 * time.Hour; return nil }); err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	r := newCLIRequest()
	status, a := w.exchange(t, r.code(t, b, "444455556666 Auditor"), r.verifier, r.redirect, "cli_session", "request", "host", "laptop")
	tok := w.wantCLISession(t, status, a, "444455556666", "pwd", w.Clock.Now(), w.Clock.Now().Add(2*time.Hour))
	// prod keeps the default.
	status, a = w.exchange(t, r.code(t, b, "111122223333 Admin"), r.verifier, r.redirect, "cli_session", "request", "host", "laptop")
	w.wantCLISession(t, status, a, "111122223333", "pwd", w.Clock.Now(), w.Clock.Now().Add(12*time.Hour))
	// An ECP session for every account gets the shortest of alice's accounts: gov's.
	resp, body := w.ECP(t, idptest.ECPCall{Path: "/saml/ecp", User: "alice", PW: idptest.GoodPassword, Body: w.ECPBody(),
		Hdr: []string{"X-Rolegate-CLI-Session", "request"}})
	if exp := resp.Header.Get("X-Rolegate-CLI-Session-Expires"); resp.StatusCode != 200 || exp != w.Clock.Now().Add(2*time.Hour).Format(time.RFC3339) {
		t.Fatalf("an unscoped session until %q, want gov's 2 h\n%s", exp, body)
	}
	w.Clock.Advance(2*time.Hour - time.Second)
	if resp, body := w.Refresh(t, tok, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("within the 2 h: %d\n%s", resp.StatusCode, body)
	}
	w.Clock.Advance(time.Second)
	if resp, body := w.Refresh(t, tok, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after gov's 2 h: %d\n%s", resp.StatusCode, body)
	}
}

func TestABrowserSessionAboutToEndHandsOnNoFreshCLISession(t *testing.T) {
	w := newAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	authn := w.Clock.Now()
	// Eleven hours into the browser session's twelve, a login asks for a CLI session, hoping for
	// twelve more hours than the sign-in is good for.
	for range 33 { // used every 20 minutes, within the idle limit
		w.Clock.Advance(20 * time.Minute)
		b.Get("/")
	}
	r := newCLIRequest()
	status, a := w.exchange(t, r.code(t, b, "111122223333 Admin"), r.verifier, r.redirect, "cli_session", "request", "host", "laptop")
	tok := w.wantCLISession(t, status, a, "111122223333", "pwd", authn, authn.Add(12*time.Hour))
	w.Clock.Advance(59 * time.Minute)
	if resp, body := w.Refresh(t, tok, "?role=Admin"); resp.StatusCode != http.StatusOK {
		t.Fatalf("within the sign-in's twelve hours: %d\n%s", resp.StatusCode, body)
	}
	w.Clock.Advance(2 * time.Minute)
	if resp, body := w.Refresh(t, tok, "?role=Admin"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("past the sign-in's twelve hours: %d\n%s", resp.StatusCode, body)
	}
}
