package idp_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"rolegate/idp"
	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

// FuzzLoginForm posts the sign-in form (POST /login) with fuzzed fields: username, password and
// next, with the page's CSRF token or, when bad is odd, another. No post gets a 5xx; a post without
// the right token gets 403; a session cookie is set only for alice's own password (her name in any case); and every
// redirect stays on this server. The clock moves an hour a post, so throttling never locks the
// fuzzer out of the path that succeeds.
func FuzzLoginForm(f *testing.F) {
	const pw = "correct horse battery"
	w := idptest.NewWebWith(f, func(cfg *idp.Config) {
		cfg.BaseURL = "https://idp.example.test"
		cfg.RateBurst, cfg.RateEvery = 1<<30, time.Nanosecond
	})
	w.AddUser(f, "alice", pw)
	h := w.Srv.Config.Handler
	// The page's CSRF cookie and token, as a browser would have them.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://idp.example.test/login", nil))
	m := idptest.CSRFRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		f.Fatalf("GET /login has no CSRF token:\n%s", rec.Body.String())
	}
	token, csrfCookie := m[1], rec.Result().Cookies()
	session := w.CookieName("rg_session")

	for _, next := range []string{"", "/aws/signin?account=prod", "//evil.example/", "https://evil.example/", "/\\evil.example"} {
		f.Add("alice", pw, next, uint8(0))
		f.Add(" alice ", pw, next, uint8(0))
		f.Add("alice", pw, next, uint8(1))
		f.Add("alice", "wrong", next, uint8(0))
		f.Add("nobody", pw, next, uint8(0))
	}
	f.Add("", "", "", uint8(0))
	f.Add(strings.Repeat("a", 300), pw, "", uint8(0))
	f.Add("alice"+strings.Repeat(" ", 300), pw, "", uint8(0))
	f.Fuzz(func(t *testing.T, user, pass, next string, bad uint8) {
		w.Clock.Advance(time.Hour)
		tok := token
		if bad%2 == 1 {
			tok = strings.ToUpper(token) + "x"
		}
		form := url.Values{"username": {user}, "password": {pass}, "next": {next}, "csrf_token": {tok}}
		r := httptest.NewRequest(http.MethodPost, "https://idp.example.test/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = "192.0.2.7:40000"
		for _, c := range csrfCookie {
			r.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		resp := rec.Result()
		if resp.StatusCode >= 500 {
			t.Fatalf("POST /login answered %d:\n%s", resp.StatusCode, rec.Body.String())
		}
		if bad%2 == 1 && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a post with another CSRF token got %d", resp.StatusCode)
		}
		signedIn := false
		for _, c := range resp.Cookies() {
			signedIn = signedIn || c.Name == session && c.Value != "" && c.MaxAge >= 0
		}
		right := store.Key(strings.TrimSpace(user)) == "alice" && len(user) <= authn.MaxUsernameBytes && pass == pw && bad%2 == 0
		if signedIn != right {
			t.Fatalf("user %q, password %q: signed in %v (status %d)", user, pass, signedIn, resp.StatusCode)
		}
		if right && resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("alice's own password got %d", resp.StatusCode)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			u, err := url.Parse(loc)
			if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsRune(loc, '\\') {
				t.Fatalf("next %q sends the browser to %q", next, loc)
			}
		}
	})
}
