package idp_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/idp/password"
	"rolegate/store"
)

// behindProxy trusts the loopback proxy, so that each browser's from is its client address.
func behindProxy(cfg *idp.Config) { cfg.TrustedProxies = []string{"127.0.0.1"} }

func retryAfter(t *testing.T, resp *http.Response) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	return time.Duration(n) * time.Second
}

// The attack of issue 8: wrong passwords for the admin from many addresses used to lock the admin
// out everywhere, the right password included.
func TestWrongPasswordsFromManyAddressesDoNotLockOutAReturningBrowser(t *testing.T) {
	w := idptest.NewWebWith(t, behindProxy)
	w.AddUser(t, "admin", idptest.GoodPassword)
	home := w.BrowserAt(t, "198.51.100.7")
	idptest.WantRedirect(t, first(home.Login("admin", idptest.GoodPassword)), "", "/")
	home.Do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.Token("/")}})

	guess := func(i int) *http.Response {
		resp, _ := w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", i)).Login("admin", "wrong guess")
		return resp
	}
	for i := range 6 {
		if resp := guess(i); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, resp.StatusCode)
		}
	}
	idptest.WantRedirect(t, first(home.Login("admin", idptest.GoodPassword)), "", "/")
	// Six failures spread over six addresses do not even slow down a browser the admin never used.
	idptest.WantRedirect(t, first(w.BrowserAt(t, "192.0.2.1").Login("admin", idptest.GoodPassword)), "", "/")

	// Many more: browsers without the admin's device cookie wait, the admin's own does not.
	refused := 0
	for i := range 40 {
		switch resp := guess(10 + i); resp.StatusCode {
		case http.StatusTooManyRequests:
			refused++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("guess: %d", resp.StatusCode)
		}
	}
	if refused == 0 {
		t.Fatal("40 guesses from 40 addresses were all checked")
	}
	home.Do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.Token("/")}})
	idptest.WantRedirect(t, first(home.Login("admin", idptest.GoodPassword)), "", "/")

	fresh := w.BrowserAt(t, "192.0.2.2")
	resp, body := fresh.Login("admin", idptest.GoodPassword)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a fresh browser during the attack: %d", resp.StatusCode)
	}
	if wait := retryAfter(t, resp); wait > 15*time.Minute || !strings.Contains(idptest.Alert(body), "Try again in") {
		t.Fatalf("a fresh browser waits %v (%q); the delay is at most 15 minutes", wait, idptest.Alert(body))
	}
	w.Clock.Advance(retryAfter(t, resp))
	idptest.WantRedirect(t, first(fresh.Login("admin", idptest.GoodPassword)), "", "/")

	// The user-wide counter's first delay is one lock event, audited once.
	locks := 0
	events, _ := w.Store.ListAudit(context.Background(), store.AuditFilter{User: "admin"})
	for _, e := range events {
		if e.Type == "throttle.lock" && e.Details["counter"] == "user" {
			locks++
		}
	}
	if locks != 1 {
		t.Fatalf("%d lock events of the user's counter, want 1", locks)
	}
}

func TestAForgedOrAnotherUsersDeviceCookieIsIgnored(t *testing.T) {
	w := idptest.NewWebWith(t, behindProxy)
	w.AddUser(t, "alice", idptest.GoodPassword)
	w.AddUser(t, "bob", idptest.GoodPassword)
	bobs := w.BrowserAt(t, "198.51.100.8")
	idptest.WantRedirect(t, first(bobs.Login("bob", idptest.GoodPassword)), "", "/")
	bobCookie := bobs.Cookie("rg_device")
	alices := w.BrowserAt(t, "198.51.100.9")
	idptest.WantRedirect(t, first(alices.Login("alice", idptest.GoodPassword)), "", "/")
	aliceCookie := alices.Cookie("rg_device")
	if bobCookie == "" || aliceCookie == "" || bobCookie == aliceCookie {
		t.Fatalf("device cookies %q %q", bobCookie, aliceCookie)
	}
	for i := range 30 {
		w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", i)).Login("alice", "wrong guess")
	}

	f := strings.Split(bobCookie, ".")
	aliceID := strings.Split(aliceCookie, ".")[0]
	for _, tc := range []struct{ name, cookie string }{
		{"bob's own cookie", bobCookie},
		{"bob's cookie with alice's ID", aliceID + "." + strings.Join(f[1:], ".")},
		{"alice's cookie with another MAC", strings.Join(strings.Split(aliceCookie, ".")[:3], ".") + "." + f[3]},
		{"alice's cookie issued later than it was", strings.Replace(aliceCookie, "."+strings.Split(aliceCookie, ".")[1]+".", ".9999999999.", 1)},
		{"junk", "x.y.z.w"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := w.BrowserAt(t, "192.0.2.3")
			b.SetCookie("rg_device", tc.cookie)
			if resp, _ := b.Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("with %s: %d, want 429", tc.name, resp.StatusCode)
			}
		})
	}
	// Alice's own cookie works from any address; moved to a new browser it is the same cookie.
	b := w.BrowserAt(t, "192.0.2.4")
	b.SetCookie("rg_device", aliceCookie)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")

	// After 90 days the cookie no longer counts.
	w.Clock.Advance(91 * 24 * time.Hour)
	for i := range 30 {
		w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", i)).Login("alice", "wrong guess")
	}
	old := w.BrowserAt(t, "192.0.2.5")
	old.SetCookie("rg_device", aliceCookie)
	if resp, _ := old.Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("an expired device cookie: %d, want 429", resp.StatusCode)
	}
}

// 9:00 at an office behind one NAT address: everyone signs in at once, correctly.
func TestAnOfficeBehindOneAddressSignsInTogether(t *testing.T) {
	w := idptest.NewWeb(t)
	const n = 40
	var bs []*idptest.Browser
	var forms []url.Values
	for i := range n {
		name := fmt.Sprintf("user%02d", i)
		w.AddUser(t, name, idptest.GoodPassword)
		b := w.Browser(t)
		bs = append(bs, b)
		forms = append(forms, url.Values{"csrf_token": {b.Token("/login")}, "username": {name}, "password": {idptest.GoodPassword}})
	}
	// A few typos among them, which count on the address.
	for i := range 5 {
		w.Browser(t).Login(fmt.Sprintf("user%02d", i), "typo")
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, w.Srv.URL+"/login", strings.NewReader(forms[i].Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if resp, err := b.Client.Do(req); err == nil {
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusSeeOther {
			t.Errorf("user%02d: %d, want 303", i, code)
		}
	}
	ts, err := w.Store.ListThrottles(context.Background(), "addr:", w.Clock.Now())
	if err != nil || len(ts) != 1 || ts[0].Count != 5 {
		t.Fatalf("the address's counter holds %+v (%v); want the 5 typos only", ts, err)
	}
	idptest.WantRedirect(t, first(w.Browser(t).Login("user00", idptest.GoodPassword)), "", "/")
}

func TestAFloodOfAnonymousSignInsWritesABoundedNumberOfRows(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	tok := b.Token("/login")
	audit0, throttles0 := w.Rows(t)
	const n = 300
	statuses := map[int]int{}
	for i := range n {
		resp, _ := b.Do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {fmt.Sprintf("u%d", i)}, "password": {"x"}})
		statuses[resp.StatusCode]++
	}
	audit, throttles := w.Rows(t)
	// At most 20 failures before the address waits: their audit events, one lock event, one
	// rate-limit event; and three counters per failure.
	if got := audit - audit0; got > 22 {
		t.Errorf("%d anonymous sign-ins wrote %d audit events", n, got)
	}
	if got := throttles - throttles0; got > 41 {
		t.Errorf("%d anonymous sign-ins wrote %d counters", n, got)
	}
	if statuses[http.StatusUnauthorized] > 20 || statuses[http.StatusTooManyRequests] < n-20 {
		t.Errorf("statuses %v", statuses)
	}
	// Even the right password waits now: the address is over its failures.
	if resp, _ := b.Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after the flood: %d", resp.StatusCode)
	}
	before, _ := w.Rows(t)
	b.Login("alice", idptest.GoodPassword)
	if after, _ := w.Rows(t); after != before {
		t.Fatalf("a throttled sign-in wrote %d audit events", after-before)
	}
}

func TestTheTokenBucketAnswers429AndAuditsOncePerWindow(t *testing.T) {
	w := idptest.NewWebWith(t, func(cfg *idp.Config) { cfg.RateBurst, cfg.RateEvery = 3, time.Minute })
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	for range 3 {
		b.Login("alice", "wrong")
	}
	resp, body := b.Login("alice", idptest.GoodPassword)
	if resp.StatusCode != http.StatusTooManyRequests || retryAfter(t, resp) != time.Minute ||
		!strings.Contains(body, "Too many requests from your address") {
		t.Fatalf("over the rate: %d %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	for range 5 {
		b.Login("alice", idptest.GoodPassword)
	}
	// The security key's first step is fetched by a script: it gets JSON.
	resp, body = b.Do(http.MethodPost, "/login/mfa/webauthn/begin", url.Values{})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		!strings.Contains(body, `"code":"too_many_requests"`) {
		t.Fatalf("the JSON route over the rate: %d %s", resp.StatusCode, body)
	}
	if got := w.AuditOf(t, "ratelimit"); len(got) != 1 {
		t.Fatalf("rate-limit events %q; want one per client and window", got)
	}
	w.Clock.Advance(time.Minute)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
}

func TestAFullHashingQueueAnswers503WithoutHashing(t *testing.T) {
	w := idptest.NewWebWith(t, func(cfg *idp.Config) {
		cfg.Hasher = password.New(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1).SetQueue(0, time.Hour)
	})
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	tok := b.Token("/login")
	done, err := w.Hasher.Admit() // another sign-in holds the one place
	if err != nil {
		t.Fatal(err)
	}
	hashes := w.Hasher.Hashes()
	audit, throttles := w.Rows(t)
	resp, body := b.Do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {idptest.GoodPassword}})
	if resp.StatusCode != http.StatusServiceUnavailable || retryAfter(t, resp) < time.Second || !strings.Contains(idptest.Alert(body), "busy") {
		t.Fatalf("with the queue full: %d %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), idptest.Alert(body))
	}
	if a, th := w.Rows(t); w.Hasher.Hashes() != hashes || a != audit || th != throttles {
		t.Fatalf("a refused sign-in hashed %d times, wrote %d events and %d counters", w.Hasher.Hashes()-hashes, a-audit, th-throttles)
	}
	done()
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
}

func TestASignInBeyondTheSessionCapEndsTheOldestSession(t *testing.T) {
	w := idptest.NewWebWith(t, func(cfg *idp.Config) { cfg.SessionsPerUser = 3 })
	w.AddUser(t, "alice", idptest.GoodPassword)
	var bs []*idptest.Browser
	for range 4 {
		b := w.Browser(t)
		idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
		bs = append(bs, b)
		w.Clock.Advance(time.Second)
	}
	for i, b := range bs {
		if got := b.SignedIn(); got != (i > 0) {
			t.Errorf("browser %d signed in: %v", i, got)
		}
	}
}

func TestIPv6AddressesInOne64ShareTheirCounters(t *testing.T) {
	w := idptest.NewWebWith(t, behindProxy)
	w.AddUser(t, "alice", idptest.GoodPassword)
	for i := range 20 {
		b := w.BrowserAt(t, fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1))
		if resp, _ := b.Login(fmt.Sprintf("guess%d", i), "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp, _ := w.BrowserAt(t, "2001:db8:1:2:ffff:ffff:ffff:ffff").Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64: %d, want 429", resp.StatusCode)
	}
	idptest.WantRedirect(t, first(w.BrowserAt(t, "2001:db8:1:3::1").Login("alice", idptest.GoodPassword)), "", "/")

	// What `rolegate unlock --address` does, for one address of the /64.
	p, err := idp.ParseAddress("2001:db8:1:2::42")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := idp.UnlockAddress(context.Background(), w.Store, p, w.Clock.Now()); err != nil || n == 0 {
		t.Fatalf("unlock: %d %v", n, err)
	}
	idptest.WantRedirect(t, first(w.BrowserAt(t, "2001:db8:1:2::9").Login("alice", idptest.GoodPassword)), "", "/")
}

func TestUnlockingAUserClearsTheirCountersOnEveryClient(t *testing.T) {
	w := idptest.NewWebWith(t, behindProxy)
	w.AddUser(t, "alice", idptest.GoodPassword)
	w.AddUser(t, "bob", idptest.GoodPassword)
	for i := range 30 {
		w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", i)).Login("alice", "wrong")
		w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", i)).Login("bob", "wrong")
	}
	if resp, _ := w.BrowserAt(t, "203.0.113.1").Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("before: %d", resp.StatusCode)
	}
	// Ten guesses were checked before the rest had to wait: ten clients' counters and the user's.
	n, err := idp.UnlockUser(context.Background(), w.Store, "ALICE", w.Clock.Now())
	if err != nil || n != 11 {
		t.Fatalf("unlock: %d %v", n, err)
	}
	idptest.WantRedirect(t, first(w.BrowserAt(t, "203.0.113.1").Login("alice", idptest.GoodPassword)), "", "/")
	if resp, _ := w.BrowserAt(t, "203.0.113.2").Login("bob", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("bob was unlocked too: %d", resp.StatusCode)
	}
}

// Someone who has alice's password types wrong codes from elsewhere; alice's own browser still
// takes her codes, and her recovery codes.
func TestWrongCodesFromAPasswordHolderDoNotBlockTheRealUsersCodes(t *testing.T) {
	w := idptest.NewAWSWebWith(t, behindProxy)
	secret, recovery := w.Enrolled(t, "alice")
	code := func() string { return mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits) }
	home := w.BrowserAt(t, "198.51.100.7")
	home.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, first(home.Code(code())), "", "/")
	home.Do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.Token("/")}})
	w.Clock.Advance(30 * time.Second)

	for i := range 40 {
		b := w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", i))
		b.Login("alice", idptest.GoodPassword)
		for range 3 {
			b.Code("000000")
		}
	}
	attacker := w.BrowserAt(t, "203.0.113.1")
	attacker.Login("alice", idptest.GoodPassword)
	if resp, _ := attacker.Code(code()); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the attacker's browser with the right code: %d, want 429", resp.StatusCode)
	}
	stranger := w.BrowserAt(t, "192.0.2.9")
	stranger.Login("alice", idptest.GoodPassword)
	if resp, _ := stranger.Code(code()); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a browser alice never used, during the attack: %d, want 429", resp.StatusCode)
	}

	w.Clock.Advance(30 * time.Second)
	home.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, first(home.Code(code())), "", "/")
	home.Do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.Token("/")}})
	home.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, first(home.Code(recovery[0])), "", "/")
	if locks := w.AuditOf(t, "throttle.lock"); len(locks) == 0 {
		t.Fatal("no lock event audited")
	}
}

// Someone with alice's password, before she has a second factor, signs in from many browsers and
// keeps each one's device cookie. Once she enrols, those cookies must not let them guess her codes
// past the user-wide counter (each would be five more free guesses, without end); nor may a cookie
// from before a password change skip the password's counters.
func TestDeviceCookiesEarnedBeforeTheFirstFactorOrAPasswordChangeDoNotSkipTheCounters(t *testing.T) {
	w := idptest.NewWebWith(t, behindProxy)
	w.AddUser(t, "alice", idptest.GoodPassword)
	var minted []string
	for i := range 3 {
		b := w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", 100+i))
		idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
		minted = append(minted, b.Cookie("rg_device"))
	}
	home := w.BrowserAt(t, "198.51.100.7")
	home.Login("alice", idptest.GoodPassword)
	secret, _ := home.EnrollTOTP(w.Clock.Now(), w.Invite(t, "alice", time.Hour))
	home.Do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.Token("/")}})
	w.Clock.Advance(30 * time.Second)

	// Ten wrong codes from ten addresses: the user-wide counter of codes now makes others wait.
	for i := range 10 {
		b := w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", i))
		b.Login("alice", idptest.GoodPassword)
		if resp, _ := b.Code("000000"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i+1, resp.StatusCode)
		}
	}
	for i, c := range minted {
		b := w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", 50+i))
		b.SetCookie("rg_device", c)
		b.Login("alice", idptest.GoodPassword)
		if resp, _ := b.Code("000000"); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("a device cookie earned by the password alone, before the first factor: %d, want 429", resp.StatusCode)
		}
	}
	// Alice's own browser, trusted when she enrolled, still takes her code.
	home.Login("alice", idptest.GoodPassword)
	idptest.WantRedirect(t, first(home.Code(mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits))), "", "/")
	trusted := home.Cookie("rg_device")

	// After a password change, a cookie from before it no longer skips the password's counters; the
	// browser that changed it gets a new one that does.
	const newPassword = "a new and long password"
	resp, _ := home.Post("/account/password", "/account/password", url.Values{"current_password": {idptest.GoodPassword},
		"new_password": {newPassword}, "confirm_password": {newPassword}})
	idptest.WantRedirect(t, resp, "", "/")
	renewed := home.Cookie("rg_device")
	if renewed == "" || renewed == trusted {
		t.Fatalf("the device cookie after a password change: %q", renewed)
	}
	for i := range 12 {
		w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", 150+i)).Login("alice", "wrong guess")
	}
	again := w.BrowserAt(t, "192.0.2.21")
	again.SetCookie("rg_device", renewed)
	idptest.WantRedirect(t, first(again.Login("alice", newPassword)), "", "/login/mfa")
	old := w.BrowserAt(t, "192.0.2.20")
	old.SetCookie("rg_device", trusted)
	if resp, _ := old.Login("alice", newPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a device cookie from before the password change: %d, want 429", resp.StatusCode)
	}
}

// Someone with alice's password but not her second factor signs in again and again: their
// half-finished sessions must not push her finished ones past the session cap and sign her out.
func TestPasswordOnlySignInsOfAnMFAUserDoNotEndHerFinishedSessions(t *testing.T) {
	w := idptest.NewWebWith(t, func(cfg *idp.Config) { behindProxy(cfg); cfg.SessionsPerUser = 3 })
	w.AddUser(t, "alice", idptest.GoodPassword)
	home := w.BrowserAt(t, "198.51.100.7")
	home.Login("alice", idptest.GoodPassword)
	home.EnrollTOTP(w.Clock.Now(), w.Invite(t, "alice", time.Hour))
	for i := range 5 {
		w.Clock.Advance(time.Second)
		b := w.BrowserAt(t, fmt.Sprintf("203.0.113.%d", i))
		idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/login/mfa")
	}
	if !home.SignedIn() {
		t.Fatal("a password holder's sign-ins ended alice's session, which used her second factor")
	}
	// Without a second factor anywhere, the oldest session still ends first.
	w.AddUser(t, "bob", idptest.GoodPassword)
	var bs []*idptest.Browser
	for i := range 4 {
		w.Clock.Advance(time.Second)
		b := w.BrowserAt(t, fmt.Sprintf("192.0.2.%d", i))
		idptest.WantRedirect(t, first(b.Login("bob", idptest.GoodPassword)), "", "/")
		bs = append(bs, b)
	}
	for i, b := range bs {
		if got := b.SignedIn(); got != (i > 0) {
			t.Errorf("bob's browser %d signed in: %v", i, got)
		}
	}
}

// Under an https base URL every cookie takes the __Host- prefix, the device cookie too: the
// returning browser must still be known by it, or a password guesser elsewhere keeps it out.
func TestAReturningBrowserGetsInUnderAnHTTPSBaseURL(t *testing.T) {
	w := idptest.NewWebWith(t, func(cfg *idp.Config) { cfg.BaseURL = "https://idp.example.com"; behindProxy(cfg) })
	w.AddUser(t, "admin", idptest.GoodPassword)
	_, body := w.Browser(t).Get("/login")
	tok := html.UnescapeString(idptest.CSRFRE.FindStringSubmatch(body)[1])
	login := func(from, pw, cookies string) *http.Response {
		resp, _ := w.BrowserAt(t, from).Do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {"admin"}, "password": {pw}},
			"Cookie", w.CookieName("rg_csrf")+"="+tok+cookies, "Origin", "https://idp.example.com")
		return resp
	}
	resp := login("198.51.100.7", idptest.GoodPassword, "")
	idptest.WantRedirect(t, resp, "", "/")
	sc := idptest.SetCookieHeader(resp, w.CookieName("rg_device"))
	if sc == "" || !strings.HasPrefix(sc, "__Host-rg_device_") {
		t.Fatalf("no __Host-rg_device cookie among %q", resp.Header.Values("Set-Cookie"))
	}
	device := "; " + strings.SplitN(sc, ";", 2)[0]
	for i := range 40 {
		login(fmt.Sprintf("203.0.113.%d", i), "wrong guess", "")
	}
	if resp := login("192.0.2.2", idptest.GoodPassword, ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a fresh browser during the attack: %d", resp.StatusCode)
	}
	idptest.WantRedirect(t, login("198.51.100.7", idptest.GoodPassword, device), "", "/")
}

// Names no one can hold (a character user names never have, or too long) are refused like any wrong
// password, but write no counters of their own: a guesser cycling made-up names grows only the
// address's one counter.
func TestImpossibleUserNamesWriteNoCountersOfTheirOwn(t *testing.T) {
	w := idptest.NewWeb(t)
	b := w.Browser(t)
	tok := b.Token("/login")
	_, throttles0 := w.Rows(t)
	for i := range 10 {
		name := fmt.Sprintf("no|body:%d", i)
		if i%2 == 1 {
			name = strings.Repeat("x", 65) + strconv.Itoa(i)
		}
		if resp, _ := b.Do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {name}, "password": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%q: %d, want the usual 401", name, resp.StatusCode)
		}
	}
	ts, err := w.Store.ListThrottles(context.Background(), "", w.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts)-throttles0 != 1 || ts[0].Key != "addr:127.0.0.1" || ts[0].Count != 10 {
		t.Fatalf("counters after ten impossible names: %+v", ts)
	}
}
