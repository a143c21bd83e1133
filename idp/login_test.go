package idp_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/idp/internal/idptest"
	"rolegate/idp/password"
	"rolegate/store"
)

func TestSignInOpensThePortalWithTheGrantedRoles(t *testing.T) {
	w := idptest.NewWeb(t)
	ctx := context.Background()
	alice := w.AddUser(t, "alice", idptest.GoodPassword, func(u *store.User) { u.DisplayName = "Alice Example" })
	for _, a := range []*store.Account{
		{ID: "111111111111", Alias: "prod"},
		{ID: "222222222222", Alias: "dev"},
		{ID: "333333333333", Alias: "other"},
	} {
		a.ProviderName, a.Partition = "rolegate", store.PartitionAWS
		if err := w.Store.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Store.CreateGroup(ctx, &store.Group{Name: "eng"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Store.AddGroupMember(ctx, "eng", "alice"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*store.Grant{
		{Group: "eng", AccountID: "111111111111", Role: "ReadOnly"},
		{Group: "eng", AccountID: "111111111111", Role: "Admin"},
		{User: "alice", AccountID: "111111111111", Role: "ReadOnly"}, // also through eng: one link
		{User: "alice", AccountID: "222222222222", Role: "teams/Deploy"},
		{User: "nobody-else", AccountID: "333333333333", Role: "Admin"},
	} {
		if g.User == "nobody-else" {
			w.AddUser(t, g.User, idptest.GoodPassword)
		}
		if err := w.Store.CreateGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}

	b := w.Browser(t)
	resp, body := b.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, resp, body, "/")
	sc := idptest.SetCookieHeader(resp, w.CookieName("rg_session"))
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("session cookie %q lacks %s", sc, attr)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("session cookie %q is Secure on an http base URL", sc)
	}
	tok := b.Cookie("rg_session")
	sum := sha256.Sum256([]byte(tok))
	sess, err := w.Store.GetSession(ctx, sum[:], w.Clock.Now())
	if err != nil || sess.UserID != alice.ID || sess.AuthMethods != "pwd" || !sess.AuthenticatedAt.Equal(w.Clock.Now()) {
		t.Fatalf("the stored session under sha256(cookie): %+v, %v", sess, err)
	}

	resp, body = b.Get("/")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("portal: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Every sign-in link carries this session's token (tested with /aws/signin); the rest is compared here.
	tokenRE := regexp.MustCompile(`&amp;portal_token=[A-Za-z0-9_-]{43}`)
	if n := len(tokenRE.FindAllString(body, -1)); n != strings.Count(body, `href="/aws/signin?`) || n != 5 {
		t.Errorf("%d of the portal's %d sign-in links carry a token; want all 5", n, strings.Count(body, `href="/aws/signin?`))
	}
	body = tokenRE.ReplaceAllString(body, "")
	want := []string{
		"Alice Example",
		`<h3>dev <span class="account-id">222222222222</span></h3>`,
		`href="/aws/signin?account=222222222222&amp;role=teams%2FDeploy">teams/Deploy</a>`,
		`href="/aws/signin?account=222222222222">All my roles here</a>`,
		`<h3>prod <span class="account-id">111111111111</span></h3>`,
		`href="/aws/signin?account=111111111111&amp;role=Admin">Admin</a>`,
		`href="/aws/signin?account=111111111111&amp;role=ReadOnly">ReadOnly</a>`,
		`href="/aws/signin?account=111111111111">All my roles here</a>`,
	}
	at := 0
	for _, s := range want {
		i := strings.Index(body[at:], s)
		if i < 0 {
			t.Fatalf("portal lacks, in order, %s\n%s", s, body)
		}
		at += i + len(s)
	}
	if n := strings.Count(body, "role=ReadOnly"); n != 1 {
		t.Errorf("ReadOnly, granted directly and through a group, has %d links; want 1", n)
	}
	if strings.Contains(body, "333333333333") {
		t.Errorf("the portal shows an account that is not granted to alice")
	}
	if !strings.Contains(body, `action="/logout"`) || !strings.Contains(body, `name="csrf_token"`) {
		t.Errorf("the portal has no sign-out form:\n%s", body)
	}
}

func TestThePortalSaysSoWhenNothingIsGranted(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "bob", idptest.GoodPassword)
	b := w.Browser(t)
	b.Login("bob", idptest.GoodPassword)
	resp, body := b.Get("/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "No AWS roles are granted to you yet. Ask an administrator.") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, "<strong>bob</strong>") {
		t.Errorf("without a display name the portal shows the user name:\n%s", body)
	}
}

func TestWrongPasswordUnknownUserAndDisabledUserGetTheSameAnswer(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	w.AddUser(t, "carol", idptest.GoodPassword, func(u *store.User) { u.Disabled = true })
	for _, tc := range []struct{ name, user, pw string }{
		{"a wrong password", "alice", "not the password"},
		{"an unknown user", "mallory", "not the password"},
		{"a disabled user with the right password", "carol", idptest.GoodPassword},
		{"a user name that is no valid name", "a b/c", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := w.Browser(t)
			resp, body := b.Login(tc.user, tc.pw)
			if resp.StatusCode != http.StatusUnauthorized || idptest.Alert(body) != "Wrong username or password." {
				t.Fatalf("%d %q", resp.StatusCode, idptest.Alert(body))
			}
			if idptest.SetCookieHeader(resp, w.CookieName("rg_session")) != "" || b.SignedIn() {
				t.Fatalf("a failed sign-in made a session")
			}
		})
	}
}

func TestFailuresFromOneClientMakeItWaitLongerAndLongerButNeverLockTheUser(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	w.AddUser(t, "bob", idptest.GoodPassword)
	b := w.Browser(t)
	for i := range 5 {
		if resp, _ := b.Login("alice", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, body := b.Login("ALICE", idptest.GoodPassword) // user names are case-insensitive; so are the counters
	if resp.StatusCode != http.StatusTooManyRequests || idptest.Alert(body) != "Too many failed attempts. Try again in 1 minute." {
		t.Fatalf("with the right password while waiting: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	if resp.Header.Get("Retry-After") != "60" || b.SignedIn() {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if resp, _ := w.Browser(t).Login("bob", idptest.GoodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another user of the same address waits too: %d", resp.StatusCode)
	}
	// Each further failure doubles the wait, up to 15 minutes.
	for _, want := range []string{"120", "240", "480", "900", "900"} {
		w.Clock.Advance(15 * time.Minute)
		if resp, _ := b.Login("alice", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a failure after the wait: %d", resp.StatusCode)
		}
		if resp, _ := b.Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != want {
			t.Fatalf("Retry-After %q, want %s", resp.Header.Get("Retry-After"), want)
		}
	}
	w.Clock.Advance(15 * time.Minute)
	resp, body = b.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, resp, body, "/")
	// The success cleared the counters: the next typo is free again.
	b = w.Browser(t)
	b.Login("alice", "wrong")
	resp, body = b.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, resp, body, "/")
}

func TestTwentyFailuresFromOneAddressLockIt(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	for i := range 20 {
		user := "guess" + string(rune('a'+i%5)) + string(rune('a'+i/5)) // 20 names, none tried 5 times
		if resp, _ := b.Login(user, "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, body := w.Browser(t).Login("alice", idptest.GoodPassword)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(idptest.Alert(body), "Try again in 15 minutes") {
		t.Fatalf("a fresh user from a locked address: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	w.Clock.Advance(15 * time.Minute)
	resp, body = w.Browser(t).Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, resp, body, "/")
}

func TestFormsWithoutTheRightTokenOrFromAnotherSiteAreRefused(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	creds := func(tok string) url.Values {
		v := url.Values{"username": {"alice"}, "password": {idptest.GoodPassword}}
		if tok != "" {
			v.Set("csrf_token", tok)
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		send   func(b *idptest.Browser) (*http.Response, string)
		wanted int
	}{
		{"no csrf_token", func(b *idptest.Browser) (*http.Response, string) {
			b.Token("/login")
			return b.Do(http.MethodPost, "/login", creds(""))
		}, http.StatusForbidden},
		{"a wrong csrf_token", func(b *idptest.Browser) (*http.Response, string) {
			tok := b.Token("/login")
			return b.Do(http.MethodPost, "/login", creds(strings.Repeat("A", len(tok))))
		}, http.StatusForbidden},
		{"another browser's token, without its cookie", func(b *idptest.Browser) (*http.Response, string) {
			return b.Do(http.MethodPost, "/login", creds(b.W.Browser(t).Token("/login")))
		}, http.StatusForbidden},
		{"a cross-site Origin", func(b *idptest.Browser) (*http.Response, string) {
			return b.Do(http.MethodPost, "/login", creds(b.Token("/login")), "Origin", "https://evil.example")
		}, http.StatusForbidden},
		{"Origin null from a sandboxed or cross-site page", func(b *idptest.Browser) (*http.Response, string) {
			return b.Do(http.MethodPost, "/login", creds(b.Token("/login")), "Origin", "null")
		}, http.StatusForbidden},
		{"Origin null that the browser marks cross-site", func(b *idptest.Browser) (*http.Response, string) {
			return b.Do(http.MethodPost, "/login", creds(b.Token("/login")), "Origin", "null", "Sec-Fetch-Site", "cross-site")
		}, http.StatusForbidden},
		{"Origin null that the browser marks same-origin (a privacy setting)", func(b *idptest.Browser) (*http.Response, string) {
			return b.Do(http.MethodPost, "/login", creds(b.Token("/login")), "Origin", "null", "Sec-Fetch-Site", "same-origin")
		}, http.StatusSeeOther},
		{"Sec-Fetch-Site cross-site", func(b *idptest.Browser) (*http.Response, string) {
			return b.Do(http.MethodPost, "/login", creds(b.Token("/login")), "Sec-Fetch-Site", "cross-site")
		}, http.StatusForbidden},
		{"the right token from our own origin", func(b *idptest.Browser) (*http.Response, string) {
			return b.Do(http.MethodPost, "/login", creds(b.Token("/login")), "Origin", b.W.Srv.URL, "Sec-Fetch-Site", "same-origin")
		}, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := w.Browser(t)
			resp, body := tc.send(b)
			if resp.StatusCode != tc.wanted {
				t.Fatalf("%d; want %d\n%s", resp.StatusCode, tc.wanted, body)
			}
			if tc.wanted == http.StatusForbidden {
				if !strings.Contains(body, "the form expired or was not sent by Rolegate; reload and try again") {
					t.Errorf("403 page: %s", body)
				}
				if idptest.SetCookieHeader(resp, w.CookieName("rg_session")) != "" || b.SignedIn() {
					t.Errorf("a refused form made a session")
				}
			}
		})
	}

	t.Run("signing out needs the session's token", func(t *testing.T) {
		b := w.Browser(t)
		b.Login("alice", idptest.GoodPassword)
		preLogin := b.Cookie("rg_csrf")
		for _, tok := range []string{"", preLogin} {
			if resp, _ := b.Do(http.MethodPost, "/logout", url.Values{"csrf_token": {tok}}); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("logout with token %q: %d", tok, resp.StatusCode)
			}
		}
		if !b.SignedIn() {
			t.Fatal("a refused logout ended the session")
		}
	})
}

func TestLogoutRevokesTheSessionOnTheServer(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	old := b.Cookie("rg_session")
	resp, body := b.Do(http.MethodPost, "/logout", url.Values{"csrf_token": {b.Token("/")}})
	idptest.WantRedirect(t, resp, body, "/login")
	if sc := idptest.SetCookieHeader(resp, w.CookieName("rg_session")); !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("logout does not clear the cookie: %q", sc)
	}
	thief := w.Browser(t)
	thief.SetCookie("rg_session", old)
	if thief.SignedIn() {
		t.Fatal("the session cookie still works after logout")
	}
	sum := sha256.Sum256([]byte(old))
	if _, err := w.Store.GetSession(context.Background(), sum[:], w.Clock.Now()); !store.IsCode(err, store.NotFound) {
		t.Fatalf("the session is still stored: %v", err)
	}
	if got := w.AuditOf(t, "logout"); len(got) != 1 || got[0] != "alice ok" {
		t.Errorf("audit: %q", got)
	}
	// Signing out again, without a session, just goes to the sign-in page.
	resp, body = b.Do(http.MethodPost, "/logout", url.Values{})
	idptest.WantRedirect(t, resp, body, "/login")
}

func TestSessionsEndAfterTheIdleAndTheAbsoluteTimeout(t *testing.T) {
	t.Run("30 idle minutes end it; activity keeps it", func(t *testing.T) {
		w := idptest.NewWeb(t)
		w.AddUser(t, "alice", idptest.GoodPassword)
		b := w.Browser(t)
		b.Login("alice", idptest.GoodPassword)
		for range 3 {
			w.Clock.Advance(29 * time.Minute)
			if !b.SignedIn() {
				t.Fatal("signed out while active")
			}
		}
		w.Clock.Advance(30 * time.Minute)
		resp, body := b.Get("/")
		idptest.WantRedirect(t, resp, body, "/login?next=%2F")
	})
	t.Run("12 hours end it however active", func(t *testing.T) {
		w := idptest.NewWeb(t)
		w.AddUser(t, "alice", idptest.GoodPassword)
		b := w.Browser(t)
		b.Login("alice", idptest.GoodPassword)
		for i := range 28 { // 11 h 40 min
			w.Clock.Advance(25 * time.Minute)
			if !b.SignedIn() {
				t.Fatalf("signed out after %v", time.Duration(i+1)*25*time.Minute)
			}
		}
		w.Clock.Advance(25 * time.Minute)
		if b.SignedIn() {
			t.Fatal("still signed in after 12 h 5 min")
		}
	})
}

func TestSignInRotatesTheSessionCookie(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)

	// A token planted in the browser before sign-in (session fixation) is not the one signed in.
	b := w.Browser(t)
	planted := "dGhpcy1pcy1hLXBsYW50ZWQtdG9rZW4tMzItYnl0ZXM"
	b.SetCookie("rg_session", planted)
	b.Login("alice", idptest.GoodPassword)
	first := b.Cookie("rg_session")
	if first == planted || first == "" || !b.SignedIn() {
		t.Fatalf("cookie after sign-in %q", first)
	}

	// Signing in again replaces the session, and the old one ends.
	resp, body := b.Do(http.MethodPost, "/login", url.Values{"csrf_token": {b.Token("/")}, "username": {"alice"},
		"password": {idptest.GoodPassword}})
	idptest.WantRedirect(t, resp, body, "/")
	second := b.Cookie("rg_session")
	if second == first || !b.SignedIn() {
		t.Fatalf("the cookie was not rotated")
	}
	old := w.Browser(t)
	old.SetCookie("rg_session", first)
	if old.SignedIn() {
		t.Fatal("the session before the second sign-in still works")
	}
}

func TestDisablingTheUserEndsTheSession(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	if _, err := w.Store.UpdateUser(context.Background(), "alice", func(u *store.User) error {
		u.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if b.SignedIn() {
		t.Fatal("a disabled user is still signed in")
	}
}

func TestNextOnlyLeadsToPagesOfThisSite(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	for _, tc := range []struct{ next, want string }{
		{"/", "/"},
		{"/?tab=roles", "/?tab=roles"},
		{"/aws/signin?account=prod&role=Admin", "/aws/signin?account=prod&role=Admin"},
		{"", "/"},
		{"//evil.com", "/"},
		{"///evil.com", "/"},
		{`/\evil.com`, "/"},
		{`/foo\bar`, "/"},
		{"https://evil.com", "/"},
		{"https:/evil.com", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.com", "/"},
		{"/%2F%2Fevil.com", "/"},
		{"/%2Fevil.com", "/"},
		{"/%5Cevil.com", "/"},
		{"/\t/evil.com", "/"},
		{"/ok\r\nSet-Cookie: x=y", "/"},
		{"/%0d%0aSet-Cookie:x=y", "/"},
		{"/%zz", "/"},
	} {
		t.Run(tc.next, func(t *testing.T) {
			resp, body := w.Browser(t).Login("alice", idptest.GoodPassword, "next", tc.next)
			idptest.WantRedirect(t, resp, body, tc.want)
		})
	}

	t.Run("a page that needs sign-in names itself as next", func(t *testing.T) {
		resp, body := w.Browser(t).Get("/?tab=roles&x=%2F")
		idptest.WantRedirect(t, resp, body, "/login?next=%2F%3Ftab%3Droles%26x%3D%252F")
		_, body = w.Browser(t).Get("/login?next=%2F%3Ftab%3Droles")
		if !strings.Contains(body, `name="next" value="/?tab=roles"`) {
			t.Fatalf("the form does not carry next:\n%s", body)
		}
		_, body = w.Browser(t).Get("/login?next=%2F%2Fevil.com")
		if !strings.Contains(body, `name="next" value="/"`) {
			t.Fatalf("the form carries a foreign next:\n%s", body)
		}
	})
	t.Run("a signed-in browser is sent on from /login, only locally", func(t *testing.T) {
		b := w.Browser(t)
		b.Login("alice", idptest.GoodPassword)
		resp, body := b.Get("/login?next=%2F%3Ftab%3Droles")
		idptest.WantRedirect(t, resp, body, "/?tab=roles")
		resp, body = b.Get("/login?next=https%3A%2F%2Fevil.com")
		idptest.WantRedirect(t, resp, body, "/")
	})
}

func TestAOneTimePasswordMustBeChangedFirst(t *testing.T) {
	w := idptest.NewWeb(t)
	ctx := context.Background()
	const oneTime = "one-time-password-1"
	w.AddUser(t, "admin", oneTime, func(u *store.User) { u.MustChangePassword = true })
	other := w.Browser(t) // another browser of the same user, signed in before the change
	other.Login("admin", oneTime)

	b := w.Browser(t)
	resp, body := b.Login("admin", oneTime, "next", "/?tab=roles")
	idptest.WantRedirect(t, resp, body, "/account/password?next=%2F%3Ftab%3Droles")
	resp, body = b.Get("/")
	idptest.WantRedirect(t, resp, body, "/account/password")
	resp, body = b.Get("/account/password?next=%2F%3Ftab%3Droles")
	for _, f := range []string{`name="current_password"`, `name="new_password"`, `name="confirm_password"`,
		`name="csrf_token"`, `name="next" value="/?tab=roles"`, `<label for="new_password">`} {
		if !strings.Contains(body, f) {
			t.Fatalf("the password form lacks %s: %d\n%s", f, resp.StatusCode, body)
		}
	}

	change := func(cur, pw, confirm string) (*http.Response, string) {
		return b.Do(http.MethodPost, "/account/password", url.Values{"csrf_token": {b.Token("/account/password")},
			"current_password": {cur}, "new_password": {pw}, "confirm_password": {confirm}, "next": {"/?tab=roles"}})
	}
	const fresh = "a much longer passphrase"
	for _, tc := range []struct {
		name, cur, pw, confirm string
		status                 int
		msg                    string
	}{
		{"a wrong current password", "nope", fresh, fresh, http.StatusUnauthorized, "Your current password is wrong."},
		{"confirmation differs", oneTime, fresh, fresh + "!", http.StatusBadRequest, "The new passwords do not match."},
		{"too short", oneTime, "short", "short", http.StatusBadRequest, "The password is too short: use at least 12 characters."},
		{"the same password again", oneTime, oneTime, oneTime, http.StatusBadRequest, "Choose a new password that differs from the current one."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := change(tc.cur, tc.pw, tc.confirm)
			if resp.StatusCode != tc.status || idptest.Alert(body) != tc.msg {
				t.Fatalf("%d %q; want %d %q", resp.StatusCode, idptest.Alert(body), tc.status, tc.msg)
			}
		})
	}
	if resp, _ := b.Do(http.MethodPost, "/account/password", url.Values{"current_password": {oneTime},
		"new_password": {fresh}, "confirm_password": {fresh}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a change without csrf_token: %d", resp.StatusCode)
	}

	before := b.Cookie("rg_session")
	resp, body = change(oneTime, fresh, fresh)
	idptest.WantRedirect(t, resp, body, "/?tab=roles")
	u, err := w.Store.GetUser(ctx, "admin")
	if err != nil || u.MustChangePassword {
		t.Fatalf("the flag is still set: %v", err)
	}
	if ok, _, _ := w.Hasher.Verify(ctx, fresh, u.PasswordHash); !ok {
		t.Fatal("the new password does not verify")
	}
	if b.Cookie("rg_session") == before || !b.SignedIn() {
		t.Fatal("this browser has no fresh session")
	}
	if other.SignedIn() {
		t.Fatal("the other browser's session survived the password change")
	}
	if resp, _ := w.Browser(t).Login("admin", oneTime); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old password still works: %d", resp.StatusCode)
	}
	if resp, _ := w.Browser(t).Login("admin", fresh); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("the new password: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	want := []string{"admin bad_credentials", "admin invalid", "admin invalid", "admin invalid", "admin ok"}
	if got := w.AuditOf(t, "user.passwd"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("audit %q; want %q", got, want)
	}
}

func TestEverySignInAttemptIsAudited(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	w.AddUser(t, "carol", idptest.GoodPassword, func(u *store.User) { u.Disabled = true })
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	w.Browser(t).Login(" alice ", "wrong")
	w.Browser(t).Login("ghost", idptest.GoodPassword)
	w.Browser(t).Login("carol", idptest.GoodPassword)
	for range 5 {
		w.Browser(t).Login("dave", "wrong")
	}
	w.Browser(t).Login("dave", "wrong")
	w.Browser(t).Login(strings.Repeat("x", 100), "wrong")

	// The sixth of dave's attempts is refused unchecked and writes nothing: the lock event says it.
	want := []string{"alice ok", "alice bad_credentials", "ghost bad_credentials", "carol disabled",
		"dave bad_credentials", "dave bad_credentials", "dave bad_credentials", "dave bad_credentials",
		"dave bad_credentials", strings.Repeat("x", 64) + " bad_credentials"}
	if got := w.AuditOf(t, "login"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := w.AuditOf(t, "throttle.lock"); strings.Join(got, ",") != "dave locked" {
		t.Fatalf("lock events %q", got)
	}
	events, _ := w.Store.ListAudit(context.Background(), store.AuditFilter{User: "alice"})
	if e := events[0]; e.ClientAddr != "127.0.0.1" || !strings.HasPrefix(e.UserAgent, "Go-http-client") || !e.Time.Equal(w.Clock.Now()) {
		t.Errorf("event: %+v", e)
	}
}

func TestOversizedFieldsGetA400Page(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	for _, tc := range []struct{ name, user, pw string }{
		{"a 12 KB username", strings.Repeat("u", 12<<10), "pw"},
		{"a 257-byte username", strings.Repeat("u", 257), "pw"},
		{"a 1025-byte password", "alice", strings.Repeat("p", 1025)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := w.Browser(t).Login(tc.user, tc.pw)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
				!strings.Contains(body, "too long") {
				t.Fatalf("%d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
	}
	if got := w.AuditOf(t, "login"); len(got) != 0 {
		t.Errorf("oversized forms are no sign-in attempts: %q", got)
	}
	if resp, _ := w.Browser(t).Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("afterwards: %d", resp.StatusCode)
	}
}

func TestHTMLPagesHaveAStrictPolicyWithANonce(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	nonceRE := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]{22})';`)
	seen := map[string]bool{}
	for _, path := range []string{"/login", "/login", "/account/password", "/"} {
		if path == "/account/password" {
			b.Login("alice", idptest.GoodPassword)
		}
		resp, _ := b.Get(path)
		policy := resp.Header.Get("Content-Security-Policy")
		m := nonceRE.FindStringSubmatch(policy)
		if resp.StatusCode != http.StatusOK || m == nil || strings.Contains(policy, "unsafe-inline") ||
			!strings.Contains(policy, "default-src 'none'") || !strings.Contains(policy, "form-action 'self';") ||
			!strings.Contains(policy, "frame-ancestors 'none'") || !strings.Contains(policy, "base-uri 'none'") {
			t.Fatalf("%s: %d CSP %q", path, resp.StatusCode, policy)
		}
		if seen[m[1]] {
			t.Fatalf("%s: nonce %s reused", path, m[1])
		}
		seen[m[1]] = true
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
	}
}

func TestCookiesAreSecureAndHostOnlyWhenTheBaseURLIsHTTPS(t *testing.T) {
	w := idptest.NewWeb(t, "https://idp.example.com")
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	hostOnly := func(sc string) bool {
		return strings.Contains(sc, "Secure") && strings.Contains(sc, "HttpOnly") && strings.Contains(sc, "SameSite=Lax") &&
			strings.Contains(sc, "Path=/;") && !strings.Contains(strings.ToLower(sc), "domain=")
	}
	resp, body := b.Get("/login")
	if sc := idptest.SetCookieHeader(resp, w.CookieName("rg_csrf")); !hostOnly(sc) {
		t.Fatalf("pre-login CSRF cookie %q", sc)
	}
	tok := html.UnescapeString(idptest.CSRFRE.FindStringSubmatch(body)[1])
	login := func(cookie string) (*http.Response, string) {
		// Cookies are sent by hand, from a browser with an empty jar: exactly these and no others.
		return w.Browser(t).Do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {idptest.GoodPassword}},
			"Cookie", cookie, "Origin", "https://idp.example.com")
	}
	// A sibling subdomain or a plain-http page can plant rg_csrf, but never a __Host- cookie.
	csrf, session := w.CookieName("rg_csrf"), w.CookieName("rg_session")
	if !strings.HasPrefix(csrf, "__Host-rg_csrf_") || !strings.HasPrefix(session, "__Host-rg_session_") {
		t.Fatalf("cookie names %q and %q lack the __Host- prefix", csrf, session)
	}
	if resp, _ := login(strings.TrimPrefix(csrf, "__Host-") + "=" + tok); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a planted cookie without the __Host- prefix was accepted: %d", resp.StatusCode)
	}
	resp, body = login(csrf + "=" + tok)
	idptest.WantRedirect(t, resp, body, "/")
	sc := idptest.SetCookieHeader(resp, session)
	if !hostOnly(sc) {
		t.Fatalf("session cookie %q", sc)
	}
	tok = strings.TrimPrefix(strings.SplitN(sc, ";", 2)[0], session+"=")
	if resp, _ := w.Browser(t).Do(http.MethodGet, "/", nil, "Cookie", strings.TrimPrefix(session, "__Host-")+"="+tok); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the session under the plain name opened the portal: %d", resp.StatusCode)
	}
	if resp, _ := w.Browser(t).Do(http.MethodGet, "/", nil, "Cookie", session+"="+tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session under its __Host- name: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
		t.Errorf("HSTS = %q", got)
	}
	if got := resp.Header.Get("Cross-Origin-Opener-Policy"); got != "same-origin" {
		t.Errorf("COOP = %q", got)
	}
}

func TestPlainHTTPGetsNoHSTSButKeepsTheOpenerPolicy(t *testing.T) {
	w := idptest.NewWeb(t)
	resp, _ := w.Browser(t).Get("/login")
	if resp.Header.Get("Strict-Transport-Security") != "" || resp.Header.Get("Cross-Origin-Opener-Policy") != "same-origin" {
		t.Fatalf("HSTS %q, COOP %q", resp.Header.Get("Strict-Transport-Security"), resp.Header.Get("Cross-Origin-Opener-Policy"))
	}
	if name := w.CookieName("rg_csrf"); !strings.HasPrefix(name, "rg_csrf_") || idptest.SetCookieHeader(resp, name) == "" {
		t.Fatalf("over http the cookie has no __Host- prefix (it needs https): no %q among %q", name, resp.Header.Values("Set-Cookie"))
	}
}

func TestSignInRehashesAPasswordHashWithWeakerParameters(t *testing.T) {
	w := idptest.NewWeb(t)
	ctx := context.Background()
	weak := password.New(password.Params{Memory: 512, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	hash, err := weak.Hash(ctx, idptest.GoodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Store.CreateUser(ctx, &store.User{Name: "alice", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	resp, body := w.Browser(t).Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, resp, body, "/")
	u, _ := w.Store.GetUser(ctx, "alice")
	if !strings.Contains(u.PasswordHash, "m=1024,") {
		t.Fatalf("the hash was not raised: %s", u.PasswordHash)
	}
	if ok, rehash, err := w.Hasher.Verify(ctx, idptest.GoodPassword, u.PasswordHash); !ok || rehash || err != nil {
		t.Fatalf("Verify after rehash = %v %v %v", ok, rehash, err)
	}
}

func TestConcurrentGuessesCannotSlipPastTheLimit(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	const n = 30
	type attempt struct {
		b    *idptest.Browser
		form url.Values
	}
	attempts := make([]attempt, n)
	for i := range attempts {
		b := w.Browser(t)
		pw := fmt.Sprintf("wrong guess %d", i)
		attempts[i] = attempt{b, url.Values{"csrf_token": {b.Token("/login")}, "username": {"alice"}, "password": {pw}}}
	}
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for _, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, w.Srv.URL+"/login", strings.NewReader(a.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := a.b.Client.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	checked := 0
	for st := range statuses {
		if st == http.StatusUnauthorized || st == http.StatusSeeOther {
			checked++
		} else if st != http.StatusTooManyRequests {
			t.Fatalf("status %d", st)
		}
	}
	if checked > 5 {
		t.Fatalf("%d of %d concurrent guesses had their password checked; the limit is 5", checked, n)
	}
	if resp, _ := w.Browser(t).Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right password after the storm: %d, want 429", resp.StatusCode)
	}
}
