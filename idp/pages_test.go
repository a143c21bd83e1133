package idp_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

var (
	changeLinkRE = regexp.MustCompile(`<a href="/account/password" id="change-password">Change password</a>`)
	autofocusRE  = regexp.MustCompile(`<input id="(\w+)"[^>]*\bautofocus\b`)
)

func TestEverySignedInPageLinksToThePasswordChangeAndNoHalfSignInClaimsToBeSignedIn(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	secret, _ := w.Enrolled(t, "alice")
	w.AddUser(t, "newbie", "one-time-password-1", func(u *store.User) {
		u.MustChangePassword, u.PasswordExpiresAt = true, w.Clock.Now().Add(idp.OneTimePasswordTTL)
	})

	b := w.Browser(t)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/login/mfa")
	_, body := b.Get("/login/mfa")
	if strings.Contains(body, "Signed in as") || changeLinkRE.MatchString(body) || strings.Contains(body, `href="/account/sessions"`) {
		t.Fatalf("the second-step page claims alice is signed in, or links to her account:\n%s", body)
	}
	if !strings.Contains(body, "not done yet") || !strings.Contains(body, `action="/logout"`) {
		t.Errorf("the second-step page does not say the sign-in is unfinished, or offers no way out:\n%s", body)
	}

	idptest.WantRedirect(t, first(b.Code(mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits))), "", "/")
	for _, path := range []string{"/", "/account/mfa", "/account/sessions", "/account/password"} {
		resp, body := b.Get(path)
		if resp.StatusCode != http.StatusOK || !changeLinkRE.MatchString(body) || !strings.Contains(body, "Signed in as") {
			t.Errorf("GET %s signed in: %d, no Change password link or no Signed in as", path, resp.StatusCode)
		}
	}

	n := w.Browser(t)
	idptest.WantRedirect(t, first(n.Login("newbie", "one-time-password-1")), "", "/account/password")
	if _, body := n.Get("/account/password"); strings.Contains(body, "Signed in as") || changeLinkRE.MatchString(body) {
		t.Errorf("the forced password change claims newbie is signed in:\n%s", body)
	}
	if _, body := w.Browser(t).Get("/login"); changeLinkRE.MatchString(body) {
		t.Errorf("the sign-in page links to the password change for nobody")
	}
}

func TestAWrongPasswordPutsTheFocusBackOnThePassword(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	_, body := b.Get("/login")
	if got := autofocusRE.FindAllStringSubmatch(body, -1); len(got) != 1 || got[0][1] != "username" {
		t.Fatalf("a fresh sign-in form focuses %v, want the username alone", got)
	}
	for _, tc := range []struct{ name, user, pw, says string }{
		{"a wrong password", "alice", "wrong password", "Wrong username or password."},
		{"an unknown user", "nobody", "wrong password", "Wrong username or password."},
		{"no password", "alice", "", "Enter your username and password."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, body := b.Login(tc.user, tc.pw)
			got := autofocusRE.FindAllStringSubmatch(body, -1)
			if idptest.Alert(body) != tc.says || len(got) != 1 || got[0][1] != "password" {
				t.Fatalf("after %s: alert %q, focus on %v; want the password field alone", tc.name, idptest.Alert(body), got)
			}
			if !strings.Contains(body, `aria-describedby="login-error"`) || !strings.Contains(body, `value="`+tc.user+`"`) {
				t.Errorf("the password field is not described by the error, or the username is not kept")
			}
		})
	}
}

func TestNewRecoveryCodesTakeAConfirmationBeforeTheOldOnesDie(t *testing.T) {
	w, b, alice, old := aliceWithRecoveryCodes(t)
	ctx := context.Background()
	left := func() int {
		n, err := w.Store.CountRecoveryCodes(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The settings page's button asks first; nothing changes.
	resp, body := b.Post(idptest.MFASettings, idptest.MFASettings+"/recovery", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Make new recovery codes?") || !strings.Contains(body, "10 unused codes") ||
		!strings.Contains(body, `name="confirm" value="yes"`) || idptest.RecoveryRE.MatchString(body) {
		t.Fatalf("the first click: %d; want the question with the count and a confirm form, no codes\n%s", resp.StatusCode, body)
	}
	if n := left(); n != 10 || len(w.AuditOf(t, "mfa.recovery_codes")) != 1 {
		t.Fatalf("asking changed the codes: %d left, audit %q", n, w.AuditOf(t, "mfa.recovery_codes"))
	}
	tok := idptest.CSRFRE.FindStringSubmatch(body)[1]

	// A confirmation without the session's token is refused: another site cannot void the codes.
	for _, form := range []url.Values{{"confirm": {"yes"}}, {"confirm": {"yes"}, "csrf_token": {"forged"}}} {
		if resp, _ := b.Do(http.MethodPost, idptest.MFASettings+"/recovery", form); resp.StatusCode != http.StatusForbidden || left() != 10 {
			t.Fatalf("a confirmation with token %q: %d, %d codes left", form.Get("csrf_token"), resp.StatusCode, left())
		}
	}

	resp, body = b.Do(http.MethodPost, idptest.MFASettings+"/recovery", url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
	var codes []string
	for _, m := range idptest.RecoveryRE.FindAllStringSubmatch(body, -1) {
		codes = append(codes, m[1])
	}
	if resp.StatusCode != http.StatusOK || len(codes) != 10 || codes[0] == old[0] {
		t.Fatalf("the confirmation: %d with %d codes\n%s", resp.StatusCode, len(codes), body)
	}
	if got := w.AuditOf(t, "mfa.recovery_codes"); len(got) != 2 {
		t.Errorf("audit %q; want the enrolment's set and the new one", got)
	}
	checkRecoveryPage(t, resp, body, codes)

	// The old codes are void, the new ones work.
	b.Post("/", "/logout", nil)
	b.Login("alice", idptest.GoodPassword)
	if resp, _ := b.Code(old[0]); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an old code after the new set: %d", resp.StatusCode)
	}
	idptest.WantRedirect(t, first(b.Code(codes[0])), "", "/")
}

// With no unused codes left (all spent, or a factor an admin enrolled), nothing would be voided:
// the first click makes the codes, as it did before the question was added.
func TestNewRecoveryCodesNeedNoConfirmationWhenNoneAreLeft(t *testing.T) {
	w, b, alice, old := aliceWithRecoveryCodes(t)
	ctx := context.Background()
	for _, c := range old {
		h, _ := mfa.RecoveryHash(c)
		if _, err := w.Store.UseRecoveryCode(ctx, alice.ID, h, w.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}

	resp, body := b.Post(idptest.MFASettings, idptest.MFASettings+"/recovery", nil)
	codes := idptest.RecoveryRE.FindAllStringSubmatch(body, -1)
	if resp.StatusCode != http.StatusOK || len(codes) != 10 || strings.Contains(body, "Make new recovery codes?") {
		t.Fatalf("the first click with no codes left: %d with %d codes; want the codes, no question\n%s", resp.StatusCode, len(codes), body)
	}
	if n, err := w.Store.CountRecoveryCodes(ctx, alice.ID); err != nil || n != 10 {
		t.Fatalf("%d codes stored (%v); want 10", n, err)
	}
}

// aliceWithRecoveryCodes signs alice in with a TOTP app she has just set up, and returns her
// enrolment's recovery codes.
func aliceWithRecoveryCodes(t *testing.T) (*idptest.AWSWeb, *idptest.Browser, *store.User, []string) {
	w := idptest.NewAWSWeb(t)
	w.OpenWindow(t, "", time.Hour)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	_, old := b.EnrollTOTP(w.Clock.Now())
	alice, err := w.Store.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return w, b, alice, old
}

// checkRecoveryPage checks the page that shows codes: one numbered list, a Download link whose
// data: URL holds every code (no script needed), and a Copy button the nonced script shows.
func checkRecoveryPage(t *testing.T, resp *http.Response, body string, codes []string) {
	t.Helper()
	if !strings.Contains(body, `<ol class="codes" id="recovery-codes">`) {
		t.Errorf("the codes are not one ordered list")
	}
	m := regexp.MustCompile(`<a class="button secondary" id="download-codes" href="([^"]+)" download="rolegate-recovery-codes.txt">`).FindStringSubmatch(body)
	if m == nil || !strings.HasPrefix(m[1], "data:text/plain;charset=utf-8,") {
		t.Fatalf("no Download link with a data: URL:\n%s", body)
	}
	file, err := url.PathUnescape(strings.TrimPrefix(m[1], "data:text/plain;charset=utf-8,"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(file, "Rolegate recovery codes for alice at http://") || !strings.HasSuffix(file, "\n"+strings.Join(codes, "\n")+"\n") {
		t.Errorf("the downloaded file is not the header and the codes, one a line:\n%s", file)
	}
	nonce := regexp.MustCompile(`script-src 'nonce-([^']+)'`).FindStringSubmatch(resp.Header.Get("Content-Security-Policy"))
	if nonce == nil || !regexp.MustCompile(`<script nonce="`+nonce[1]+`" src="/assets/copy\.js\?v=\w+" defer>`).MatchString(body) ||
		!strings.Contains(body, `id="copy-codes" data-copy="recovery-codes" hidden>`) {
		t.Errorf("no nonced copy script, or a Copy button that shows without it:\n%s", body)
	}
}

func TestTheFaviconIsEmbeddedAndNamedByEveryPage(t *testing.T) {
	w := idptest.NewWeb(t)
	b := w.Browser(t)
	_, body := b.Get("/login")
	m := regexp.MustCompile(`<link rel="icon" href="(/assets/favicon\.svg\?v=\w+)" type="image/svg\+xml">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page names no icon:\n%s", body)
	}
	resp, _ := b.Get("/favicon.ico")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != m[1] {
		t.Fatalf("/favicon.ico: %d to %q; want 301 to %s", resp.StatusCode, resp.Header.Get("Location"), m[1])
	}
	resp, icon := b.Get(m[1])
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(icon, "<svg") {
		t.Fatalf("the icon: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestTheCheckerShowsWholeDurationsAndWhyAllRolesShareOne(t *testing.T) {
	w := idptest.NewAWSWeb(t, "111122223333")
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	check := func(link string) string {
		t.Helper()
		p := idptest.SignInPost(t, b, link)
		w.Clock.Advance(time.Second) // AWS checks a moment after the sign-in: SessionNotOnOrAfter is 1h59m59s away
		resp, body := b.Do(http.MethodPost, "/debug/aws-signin", url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString([]byte(p.Response))}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d\n%s", link, resp.StatusCode, body)
		}
		return body
	}
	shared := "Rolegate sends the shortest that any of their grants sets"
	one := check("/aws/signin?account=prod&role=Admin")
	if !strings.Contains(one, "<dt>Console session</dt><dd>2h") || strings.Contains(one, "59m") || strings.Contains(one, shared) {
		t.Errorf("one role: want 2h and no note on shared durations:\n%s", one)
	}
	all := check("/aws/signin?account=prod")
	if !strings.Contains(all, "<dt>Console session</dt><dd>2h") || !strings.Contains(all, shared) {
		t.Errorf("all my roles: want 2h and the note that the shortest applies:\n%s", all)
	}
}

func TestFailedSignInsAreLoggedWithTheirReasonAndNeverThePassword(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	const typed = "Tr0ub4dor&3-typed-secret"
	w.Update(t, "mallory", func(u *store.User) { u.Disabled = true })
	for _, tc := range []struct{ user, pw, reason string }{
		{"alice", typed, "bad_credentials"},
		{"nobody", typed, "bad_credentials"},
		{"mallory", idptest.GoodPassword, "disabled"},
	} {
		w.Browser(t).Login(tc.user, tc.pw)
		if !logged(w, "sign-in failed", "INFO", tc.user, tc.reason) {
			t.Errorf("no INFO line for %s with reason %s:\n%s", tc.user, tc.reason, w.Logs)
		}
	}
	w.Browser(t).Login("alice", idptest.GoodPassword)
	if !logged(w, "sign-in succeeded", "DEBUG", "alice", "ok") {
		t.Errorf("no DEBUG line for alice's sign-in:\n%s", w.Logs)
	}
	// Enough guesses lock alice's counter: a WARN line for the lock and for each refusal.
	for range 12 {
		w.Browser(t).Login("alice", typed)
	}
	if !logged(w, "sign-in failed", "WARN", "alice", "throttled") || len(w.Logs.Lines("sign-in locked")) == 0 {
		t.Errorf("no WARN lines for the lock and the throttled attempts:\n%s", w.Logs)
	}
	if strings.Contains(w.Logs.String(), typed) || strings.Contains(w.Logs.String(), idptest.GoodPassword) {
		t.Fatalf("a typed password is in the log:\n%s", w.Logs)
	}
}

// logged reports whether a line msg at level names user and reason, with the client and request ID.
func logged(w *idptest.AWSWeb, msg, level, user, reason string) bool {
	for _, l := range w.Logs.Lines(msg) {
		if l["level"] == level && l["user"] == user && l["reason"] == reason && l["client"] != "" && l["request_id"] != "" {
			return true
		}
	}
	return false
}
