package idp_test

import (
	"context"
	"encoding/base32"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// The password change form and an authenticator app's first code are checked on the path every
// sign-in takes: the same counters, the same waits, the same audit.

const changedPassword = "a much longer passphrase"

// changePassword posts the password change form of b's session.
func changePassword(b *idptest.Browser, cur, pw string) (*http.Response, string) {
	b.T.Helper()
	return b.Post("/account/password", "/account/password",
		url.Values{"current_password": {cur}, "new_password": {pw}, "confirm_password": {pw}})
}

// stolen is a browser at from holding a copy of b's session cookie, and nothing else of it.
func stolen(t *testing.T, w *idptest.Web, b *idptest.Browser, from string) *idptest.Browser {
	t.Helper()
	s := w.BrowserAt(t, from)
	s.SetCookie("rg_session", b.Cookie("rg_session"))
	return s
}

// Someone holding alice's session guesses her current password on the change form: each browser
// gets the free guesses a sign-in gets and then the same wait, which also holds her sign-in there.
func TestTheChangeFormGuessesTheCurrentPasswordNoFasterThanTheSignInForm(t *testing.T) {
	for _, tc := range []struct {
		name  string
		guess func(w *idptest.Web, b *idptest.Browser) *http.Response
	}{
		{"the sign-in form", func(w *idptest.Web, b *idptest.Browser) *http.Response {
			return first(w.BrowserAt(t, "203.0.113.1").Login("alice", "wrong guess"))
		}},
		{"the password change form", func(w *idptest.Web, b *idptest.Browser) *http.Response {
			return first(changePassword(b, "wrong guess", changedPassword))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := idptest.NewWebWith(t, behindProxy)
			w.AddUser(t, "alice", idptest.GoodPassword)
			home := w.BrowserAt(t, "198.51.100.7")
			idptest.WantRedirect(t, first(home.Login("alice", idptest.GoodPassword)), "", "/")
			thief := stolen(t, w, home, "203.0.113.1")
			checked := 0
			var resp *http.Response
			for range 20 {
				if resp = tc.guess(w, thief); resp.StatusCode != http.StatusUnauthorized {
					break
				}
				checked++
			}
			if checked != 5 || resp.StatusCode != http.StatusTooManyRequests || retryAfter(t, resp) != time.Minute {
				t.Fatalf("%d guesses checked, then %d; want 5, then 429 for a minute", checked, resp.StatusCode)
			}
			// The right password waits as long, on either form.
			resp, body := changePassword(thief, idptest.GoodPassword, changedPassword)
			if resp.StatusCode != http.StatusTooManyRequests || retryAfter(t, resp) != time.Minute ||
				idptest.Alert(body) != "Too many failed attempts. Try again in 1 minute." {
				t.Fatalf("the change with the right password: %d %q; want 429 for a minute", resp.StatusCode, idptest.Alert(body))
			}
			if resp, _ := w.BrowserAt(t, "203.0.113.1").Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests ||
				retryAfter(t, resp) != time.Minute {
				t.Fatalf("a sign-in from the guesses' address: %d; want 429 for a minute", resp.StatusCode)
			}
			if u, _ := w.Store.GetUser(context.Background(), "alice"); u == nil || !verifies(t, w, idptest.GoodPassword, u) {
				t.Fatal("the password changed under the guesses")
			}
		})
	}
}

func verifies(t *testing.T, w *idptest.Web, pw string, u *store.User) bool {
	t.Helper()
	ok, _, err := w.Hasher.Verify(context.Background(), pw, u.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// Guesses from many addresses, half on each form, add up on alice's user-wide counter: a browser
// she never used waits, on either form, even with her password; her own browser does not, and her
// change ends the stolen session.
func TestGuessesOnTheSignInAndTheChangeFormAddUpOnOneCounter(t *testing.T) {
	w := idptest.NewWebWith(t, behindProxy)
	w.AddUser(t, "alice", idptest.GoodPassword)
	home := w.BrowserAt(t, "198.51.100.7")
	idptest.WantRedirect(t, first(home.Login("alice", idptest.GoodPassword)), "", "/")
	for i := range 10 {
		from := fmt.Sprintf("203.0.113.%d", i)
		var resp *http.Response
		if i%2 == 0 {
			resp = first(w.BrowserAt(t, from).Login("alice", "wrong guess"))
		} else {
			resp = first(changePassword(stolen(t, w, home, from), "wrong guess", changedPassword))
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	if resp, _ := w.BrowserAt(t, "192.0.2.1").Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a sign-in from a new address after ten guesses: %d, want 429", resp.StatusCode)
	}
	if resp, _ := changePassword(stolen(t, w, home, "192.0.2.2"), idptest.GoodPassword, changedPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a change from a new address after ten guesses: %d, want 429", resp.StatusCode)
	}

	// Her own browser skips the user-wide counter, as its sign-in would.
	thief := stolen(t, w, home, "203.0.113.1")
	idptest.WantRedirect(t, first(changePassword(home, idptest.GoodPassword, changedPassword)), "", "/")
	if thief.SignedIn() || !home.SignedIn() {
		t.Fatalf("after alice's change: the stolen session signed in %v, hers %v", thief.SignedIn(), home.SignedIn())
	}
	if u, _ := w.Store.GetUser(context.Background(), "alice"); u == nil || !verifies(t, w, changedPassword, u) {
		t.Fatal("the new password does not verify")
	}
	// The guesses' wait still holds browsers she never used, whatever password they bring.
	if resp, _ := w.BrowserAt(t, "198.51.100.8").Login("alice", changedPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a new browser during the wait, with the new password: %d, want 429", resp.StatusCode)
	}

	// The change form's checks are sign-in attempts in the audit log, and the change's own outcome as before.
	events, err := w.Store.ListAudit(context.Background(), store.AuditFilter{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var checks, locks []string
	for _, e := range events {
		switch {
		case e.Type == "login" && e.Details["via"] == "password_change":
			checks = append(checks, e.Result)
		case e.Type == "throttle.lock":
			locks = append(locks, e.Details["kind"]+" "+e.Details["counter"])
		}
	}
	if got := strings.Join(checks, ","); got != "bad_credentials,bad_credentials,bad_credentials,bad_credentials,bad_credentials,ok" {
		t.Errorf("login events of the change form: %s", got)
	}
	if got := strings.Join(locks, ","); got != "login user" {
		t.Errorf("lock events: %s; want the user-wide sign-in counter once", got)
	}
	want := strings.Repeat("alice bad_credentials,", 5) + "alice throttled,alice ok"
	if got := strings.Join(w.AuditOf(t, "user.passwd"), ","); got != want {
		t.Errorf("user.passwd events %s; want %s", got, want)
	}
}

// Wrong first codes of an authenticator app count on the second factor's counters: guesses split
// between the app's confirmation and the sign-in's second step get no more tries between them, and
// the wait holds back the right code on both.
func TestAnAppsFirstCodesCountOnTheSecondFactorsCounters(t *testing.T) {
	w := idptest.NewWebWith(t, behindProxy)
	w.AddUser(t, "alice", idptest.GoodPassword)
	invite := w.Invite(t, "alice", time.Hour)
	b := w.BrowserAt(t, "198.51.100.7")
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
	resp, body := b.Post(idptest.MFASettings+"?invite="+invite, idptest.MFASettings+"/totp", url.Values{"invite": {invite}})
	m := idptest.SecretRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("starting the app: %d\n%s", resp.StatusCode, body)
	}
	secret := decodeSecret(t, m[1])
	token := idptest.CSRFRE.FindStringSubmatch(body)[1]
	confirm := func(code string) (*http.Response, string) {
		return b.Do(http.MethodPost, idptest.MFASettings+"/totp/confirm", url.Values{"csrf_token": {token}, "code": {code}, "invite": {invite}})
	}
	secondStep := func(code string) (*http.Response, string) {
		return b.Do(http.MethodPost, "/login/mfa", url.Values{"csrf_token": {token}, "code": {code}})
	}
	code := func() string { return mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits) }

	for i, try := range []func(string) (*http.Response, string){secondStep, confirm, secondStep, confirm, secondStep} {
		if resp, body := try("000000"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(idptest.Alert(body), "not right") {
			t.Fatalf("wrong code %d: %d %q", i+1, resp.StatusCode, idptest.Alert(body))
		}
	}
	for _, try := range []struct {
		name string
		do   func(string) (*http.Response, string)
	}{{"the app's confirmation", confirm}, {"the second step", secondStep}} {
		resp, body := try.do(code())
		if resp.StatusCode != http.StatusTooManyRequests || retryAfter(t, resp) != time.Minute ||
			idptest.Alert(body) != "Too many failed attempts. Try again in 1 minute." {
			t.Fatalf("%s with the right code after five wrong ones: %d %q; want 429 for a minute", try.name, resp.StatusCode, idptest.Alert(body))
		}
	}
	if fs := w.FactorsOf(t, "alice"); len(fs) != 1 || fs[0].Confirmed {
		t.Fatalf("factors after the refused code: %+v; want one unconfirmed", fs)
	}

	w.Clock.Advance(time.Minute)
	resp, body = confirm(code())
	if resp.StatusCode != http.StatusOK || len(idptest.RecoveryRE.FindAllString(body, -1)) != mfa.RecoveryCodes {
		t.Fatalf("the right code after the wait: %d\n%s", resp.StatusCode, body)
	}
	if got := strings.Join(w.AuditOf(t, "mfa.enroll"), "|"); got != "alice wrong_code|alice wrong_code|alice ok" {
		t.Errorf("mfa.enroll events %s", got)
	}
	if got := strings.Join(w.AuditOf(t, "throttle.lock"), "|"); got != "alice locked" {
		t.Errorf("lock events %s; want one", got)
	}
	// The app's wrong codes are logged as every second factor's are.
	var enrolFailures int
	for _, l := range w.Logs.Lines("second factor failed") {
		if l["kind"] == "totp" && l["reason"] == "wrong_code" {
			enrolFailures++
		}
	}
	if enrolFailures != 2 {
		t.Errorf("%d log lines of the app's wrong codes, want 2:\n%s", enrolFailures, w.Logs)
	}
}

// decodeSecret reads a TOTP secret as the enrolment page shows it.
func decodeSecret(t *testing.T, shown string) []byte {
	t.Helper()
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(html.UnescapeString(shown), " ", ""))
	if err != nil {
		t.Fatalf("the secret on the page: %v", err)
	}
	return secret
}
