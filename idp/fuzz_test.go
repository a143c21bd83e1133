package idp_test

import (
	"encoding/base64"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rolegate/idp"
	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/idptest"
	"rolegate/internal/fuzzcheck"
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

// FuzzAWSSignIn sends alice's signed-in browser to GET /aws/signin with fuzzed account, role,
// region and relay_state. No link gets a 5xx. A page that signs in posts a Response whose roles are
// all ones alice holds in one account, to a sign-in endpoint of that account's partition, with a
// RelayState that is that partition's console.
func FuzzAWSSignIn(f *testing.F) {
	w := idptest.NewAWSWeb(f)
	b := w.Browser(f)
	if resp, body := b.Login("alice", "correct horse battery"); resp.StatusCode != http.StatusSeeOther {
		f.Fatalf("alice cannot sign in: %d\n%s", resp.StatusCode, body)
	}
	cookie := &http.Cookie{Name: w.CookieName("rg_session"), Value: b.Cookie("rg_session")}
	h := w.Srv.Config.Handler
	for _, s := range [][4]string{
		{"prod", "Admin", "", "https://console.aws.amazon.com/s3/home"},
		{"111122223333", "", "eu-west-1", ""},
		{"gov", "Auditor", "", "https://console.amazonaws-us-gov.com/"},
		{"gov", "Admin", "", ""},
		{"prod", "ReadOnly", "us-gov-west-1", "https://evil.example/"},
		{"PROD", "admin", "", "https://console.aws.amazon.com:/"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	// What alice holds, by account: the Role ARN prefix, the partition's hosts and the roles.
	type held struct {
		arn, signin, console string
		roles                []string
	}
	accounts := []held{
		{"arn:aws:iam::111122223333:role/", "signin.aws.amazon.com", "console.aws.amazon.com", []string{"Admin", "ReadOnly"}},
		{"arn:aws-us-gov:iam::444455556666:role/", "signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com", []string{"Auditor"}},
	}
	roleRE := regexp.MustCompile(`arn:[a-z-]+:iam::[0-9]{12}:role/[^,<]*`)
	f.Fuzz(func(t *testing.T, account, role, region, relay string) {
		q := url.Values{"account": {account}, "role": {role}, "region": {region}, "relay_state": {relay}}
		r := httptest.NewRequest(http.MethodGet, w.Srv.URL+"/aws/signin?"+q.Encode(), nil)
		r.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.String()
		switch {
		case rec.Code >= 500:
			t.Fatalf("/aws/signin answered %d:\n%s", rec.Code, body)
		case rec.Code != http.StatusOK:
			return
		}
		a, s := idptest.ActionRE.FindStringSubmatch(body), idptest.SAMLRE.FindStringSubmatch(body)
		if a == nil || s == nil {
			t.Fatalf("a 200 without an auto-POST form:\n%s", body)
		}
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(s[1]))
		if err != nil {
			t.Fatal(err)
		}
		granted := roleRE.FindAllString(string(raw), -1)
		if len(granted) == 0 {
			t.Fatalf("a Response with no role:\n%s", raw)
		}
		var acct *held
		for i := range accounts {
			if strings.HasPrefix(granted[0], accounts[i].arn) {
				acct = &accounts[i]
			}
		}
		if acct == nil {
			t.Fatalf("a Response for an account alice has nothing in: %s", granted[0])
		}
		for _, g := range granted {
			name, ok := strings.CutPrefix(g, acct.arn)
			if !ok || !slices.Contains(acct.roles, name) {
				t.Fatalf("account %q role %q: the Response grants %s, which alice does not hold there", account, role, g)
			}
		}
		action := html.UnescapeString(a[1])
		host := fuzzcheck.Authority(action)
		if !fuzzcheck.HasScheme(action, "https") || host != acct.signin && !strings.HasSuffix(host, "."+acct.signin) {
			t.Fatalf("a Response for %s posts to %s", acct.arn, action)
		}
		if m := idptest.RelayRE.FindStringSubmatch(body); m != nil && m[1] != "" {
			rs := html.UnescapeString(m[1])
			if h := fuzzcheck.Authority(rs); !fuzzcheck.HasScheme(rs, "https") || h != acct.console && !strings.HasSuffix(h, "."+acct.console) {
				t.Fatalf("a Response for %s carries the RelayState %q", acct.arn, rs)
			}
		}
	})
}
