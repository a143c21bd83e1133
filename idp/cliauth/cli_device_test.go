package cliauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

type deviceGrant struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	Complete        string `json:"verification_uri_complete"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
}

// requestDevice is the command line's first call.
func (w *awsWeb) requestDevice(t *testing.T, account string) deviceGrant {
	t.Helper()
	resp, err := http.PostForm(w.Srv.URL+"/cli/device/code", url.Values{"client_id": {"rolegate-cli"}, "account": {account},
		"device_name": {"build-host"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var g deviceGrant
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("device code: %d %v", resp.StatusCode, err)
	}
	return g
}

// poll is one poll of the command line; extra are more fields of the form, in pairs.
func (w *awsWeb) poll(t *testing.T, device string, extra ...string) (int, tokenAnswer) {
	t.Helper()
	return w.tokenPost(t, "/cli/device/token", url.Values{"client_id": {"rolegate-cli"},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {device}}, extra...)
}

func (w *awsWeb) wantPoll(t *testing.T, device, want string) {
	t.Helper()
	if status, a := w.poll(t, device); status != http.StatusBadRequest || a.Error != want {
		t.Fatalf("poll: %d %s (%s); want %s", status, a.Error, a.Description, want)
	}
}

// enterCode types the code on /cli/device and returns the page.
func enterCode(b *idptest.Browser, code string) (*http.Response, string) {
	b.T.Helper()
	return b.Post("/cli/device", "/cli/device", url.Values{"step": {"show"}, "user_code": {code}})
}

// decide answers the request of code with step (approve or deny) and choice.
func decide(b *idptest.Browser, code, step, choice string) (*http.Response, string) {
	b.T.Helper()
	return b.Post("/cli/device", "/cli/device", url.Values{"step": {step}, "user_code": {code}, "choice": {choice}})
}

var userCodeRE = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

func TestDeviceFlowApprovedOnAnotherDeviceGivesOneResponse(t *testing.T) {
	w := newAWSWeb(t)
	g := w.requestDevice(t, "prod")
	if !userCodeRE.MatchString(g.UserCode) || g.VerificationURI != w.Srv.URL+"/cli/device" || g.ExpiresIn != 600 || g.Interval != 5 ||
		g.Complete != g.VerificationURI+"?user_code="+g.UserCode {
		t.Fatalf("device grant %+v", g)
	}
	w.wantPoll(t, g.DeviceCode, "authorization_pending")
	// A poll one second after the last is too fast.
	w.Clock.Advance(time.Second)
	w.wantPoll(t, g.DeviceCode, "slow_down")

	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	resp, body := b.Get("/cli/device?user_code=" + g.UserCode)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `value="`+g.UserCode+`"`) || strings.Contains(body, "build-host") {
		t.Fatalf("the code's link must fill the form in and show nothing yet: %d\n%s", resp.StatusCode, body)
	}
	// Typed in small letters without the dash, it is found; the page names the machine.
	resp, body = enterCode(b, strings.ToLower(strings.ReplaceAll(g.UserCode, "-", "")))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "build-host") || !strings.Contains(body, g.UserCode) ||
		!strings.Contains(body, `value="111122223333 Admin"`) || strings.Contains(body, "Auditor") {
		t.Fatalf("the request page: %d\n%s", resp.StatusCode, body)
	}
	resp, body = decide(b, g.UserCode, "approve", "111122223333 Admin")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Approved") {
		t.Fatalf("approve: %d\n%s", resp.StatusCode, body)
	}
	// Five seconds later is still too fast: the interval is ten seconds now.
	w.Clock.Advance(5 * time.Second)
	w.wantPoll(t, g.DeviceCode, "slow_down")
	w.Clock.Advance(15 * time.Second)
	status, a := w.poll(t, g.DeviceCode)
	if status != http.StatusOK || a.Account != "111122223333" || len(a.Roles) != 1 || !strings.HasSuffix(a.Roles[0], ":role/Admin") {
		t.Fatalf("approved poll: %d %+v", status, a)
	}
	raw, _ := base64.StdEncoding.DecodeString(a.SAMLResponse)
	if v := assertions.InspectAWS(raw, w.Expect(t, a.ACS)); !v.Accepted {
		t.Fatalf("AWS would refuse: %v", v.Problems)
	}
	// Used once: the device code again, and the user code again, get nothing.
	w.Clock.Advance(time.Minute)
	w.wantPoll(t, g.DeviceCode, "invalid_grant")
	if resp, _ := enterCode(b, g.UserCode); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a used user code: %d", resp.StatusCode)
	}
	if got := strings.Join(w.AuditOf(t, "cli.device"), "|"); !strings.Contains(got, "alice approved") {
		t.Errorf("device audit %q", got)
	}
	if got := w.AuditOf(t, "assertion"); len(got) != 1 || got[0] != "alice ok" {
		t.Errorf("assertion audit %q", got)
	}
}

func TestDeviceFlowDeniedOrExpiredGivesNothing(t *testing.T) {
	w := newAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)

	denied := w.requestDevice(t, "")
	if resp, body := decide(b, denied.UserCode, "deny", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Denied") {
		t.Fatalf("deny: %d\n%s", resp.StatusCode, body)
	}
	w.wantPoll(t, denied.DeviceCode, "access_denied")
	w.Clock.Advance(10 * time.Second)
	w.wantPoll(t, denied.DeviceCode, "invalid_grant")
	// Denied is final: no approval afterwards.
	if resp, _ := decide(b, denied.UserCode, "approve", "111122223333 Admin"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("approve after deny: %d", resp.StatusCode)
	}

	expired := w.requestDevice(t, "prod")
	w.Clock.Advance(10 * time.Minute)
	if resp, _ := decide(b, expired.UserCode, "approve", "111122223333 Admin"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("approve after expiry: %d", resp.StatusCode)
	}
	w.wantPoll(t, expired.DeviceCode, "expired_token")
	w.wantPoll(t, "not-a-device-code", "invalid_grant")
	if got := w.AuditOf(t, "assertion"); len(got) != 0 {
		t.Errorf("assertions issued: %q", got)
	}
}

func TestDeviceFlowThrottlesGuessedUserCodes(t *testing.T) {
	w := newAWSWeb(t)
	g := w.requestDevice(t, "prod")
	m := w.Browser(t)
	m.Login("mallory", idptest.GoodPassword)
	// Mallory, signed in, guesses codes to approve someone else's machine into her roles.
	for i := range 5 {
		if resp, _ := enterCode(m, "BCDF-GHJ"+string("KLMNP"[i])); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp, body := enterCode(m, g.UserCode)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || strings.Contains(body, "build-host") {
		t.Fatalf("the right code after five wrong ones: %d\n%s", resp.StatusCode, body)
	}
	if got := w.AuditOf(t, "throttle.lock"); len(got) == 0 {
		t.Error("no lock event")
	}
	// Alice is not slowed down by Mallory's guesses.
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	if resp, _ := enterCode(b, g.UserCode); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice: %d", resp.StatusCode)
	}
}

func TestDeviceFlowRefusesOneTimePasswordsAndForgedAnswers(t *testing.T) {
	w := newAWSWeb(t)
	g := w.requestDevice(t, "prod")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)

	// Another site's form: no CSRF token.
	form := url.Values{"step": {"approve"}, "user_code": {g.UserCode}, "choice": {"111122223333 Admin"}}
	if resp, _ := b.Do(http.MethodPost, "/cli/device", form, "Origin", "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site approve: %d", resp.StatusCode)
	}
	// A role the page does not offer.
	if resp, body := decide(b, g.UserCode, "approve", "111122223333 Owner"); resp.StatusCode != http.StatusOK || !strings.Contains(idptest.Alert(body), "Choose one") {
		t.Fatalf("an unoffered role: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	w.wantPoll(t, g.DeviceCode, "authorization_pending")

	// A one-time password reaches neither the page nor the answer.
	w.Update(t, "alice", func(u *store.User) { u.MustChangePassword, u.PasswordExpiresAt = true, w.Clock.Now().Add(time.Hour) })
	if resp, _ := b.Get("/cli/device"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/account/password") {
		t.Fatalf("GET with a one-time password: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	form.Set("csrf_token", b.Token("/account/password"))
	if resp, _ := b.Do(http.MethodPost, "/cli/device", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with a one-time password: %d", resp.StatusCode)
	}
	w.Clock.Advance(10 * time.Second)
	w.wantPoll(t, g.DeviceCode, "authorization_pending")
}

func TestDeviceFlowAsksForTheSecondFactorAnAccountRequires(t *testing.T) {
	w := newAWSWeb(t)
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	g := w.requestDevice(t, "prod")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	resp, body := decide(b, g.UserCode, "approve", "111122223333 Admin")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/mfa?next=%2Fcli%2Fdevice") {
		t.Fatalf("password-only approval for an MFA account: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	w.wantPoll(t, g.DeviceCode, "authorization_pending")
}

func TestDeviceFlowGuessesAreNotForgivenByTypingOnesOwnCode(t *testing.T) {
	w := newAWSWeb(t)
	own := w.requestDevice(t, "prod")
	m := w.Browser(t)
	m.Login("mallory", idptest.GoodPassword)
	// Mallory asks for a code of her own (anyone may) and types it after every four guesses,
	// hoping that a right code clears her count of wrong ones.
	for guess := 1; guess <= 11; guess++ {
		resp, _ := enterCode(m, fmt.Sprintf("BCDF-G%c%c%c", "HJKLM"[guess/9], "HJKLMNPQRS"[guess%9/3], "HJKL"[guess%3]))
		switch {
		case guess <= 10 && resp.StatusCode != http.StatusNotFound:
			t.Fatalf("guess %d: %d", guess, resp.StatusCode)
		case guess > 10 && resp.StatusCode != http.StatusTooManyRequests:
			t.Fatalf("guess %d, her own code typed between: %d; want the throttle", guess, resp.StatusCode)
		}
		if guess%4 == 0 {
			if resp, _ := enterCode(m, own.UserCode); resp.StatusCode != http.StatusOK {
				t.Fatalf("her own code: %d", resp.StatusCode)
			}
		}
	}
	// Locked, even her own right code gets no answer, so nothing tells a right guess.
	if resp, body := enterCode(m, own.UserCode); resp.StatusCode != http.StatusTooManyRequests || strings.Contains(body, "build-host") {
		t.Fatalf("a right code while locked: %d", resp.StatusCode)
	}
}

func TestDeviceFlowApprovalPageShowsNoBidiTrickInTheMachineName(t *testing.T) {
	w := newAWSWeb(t)
	// The requester names its machine so that the rest of the sentence, the address among it,
	// reads right to left, or hides behind zero-width characters.
	resp, err := http.PostForm(w.Srv.URL+"/cli/device/code", url.Values{"client_id": {"rolegate-cli"}, "account": {"prod"},
		"device_name": {"alice-laptop\u202e\u2066\u200b"}})
	if err != nil {
		t.Fatal(err)
	}
	var g deviceGrant
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("device code: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	resp, body := enterCode(b, g.UserCode)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<strong id="device-name">alice-laptop</strong>`) {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
}
