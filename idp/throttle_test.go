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

	"github.com/crewjam/saml"

	"rolegate/idp"
	"rolegate/idp/mfa"
	"rolegate/idp/password"
	"rolegate/store"
)

// behindProxy trusts the loopback proxy, so that each browser's from is its client address.
func behindProxy(cfg *idp.Config) { cfg.TrustedProxies = []string{"127.0.0.1"} }

// browserAt is a fresh browser at address from.
func (w *web) browserAt(t *testing.T, from string) *browser {
	b := w.browser(t)
	b.from = from
	return b
}

// rows counts what the store holds that a flood could grow: audit events and throttle counters.
func (w *web) rows(t *testing.T) (audit, throttles int) {
	t.Helper()
	ctx := context.Background()
	events, err := w.store.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := w.store.ListThrottles(ctx, "", w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return len(events), len(ts)
}

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
	w := newWebWith(t, behindProxy)
	w.addUser(t, "admin", goodPassword)
	home := w.browserAt(t, "198.51.100.7")
	wantRedirect(t, first(home.login("admin", goodPassword)), "", "/")
	home.do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.token("/")}})

	guess := func(i int) *http.Response {
		resp, _ := w.browserAt(t, fmt.Sprintf("203.0.113.%d", i)).login("admin", "wrong guess")
		return resp
	}
	for i := range 6 {
		if resp := guess(i); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, resp.StatusCode)
		}
	}
	wantRedirect(t, first(home.login("admin", goodPassword)), "", "/")
	// Six failures spread over six addresses do not even slow down a browser the admin never used.
	wantRedirect(t, first(w.browserAt(t, "192.0.2.1").login("admin", goodPassword)), "", "/")

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
	home.do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.token("/")}})
	wantRedirect(t, first(home.login("admin", goodPassword)), "", "/")

	fresh := w.browserAt(t, "192.0.2.2")
	resp, body := fresh.login("admin", goodPassword)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a fresh browser during the attack: %d", resp.StatusCode)
	}
	if wait := retryAfter(t, resp); wait > 15*time.Minute || !strings.Contains(alert(body), "Try again in") {
		t.Fatalf("a fresh browser waits %v (%q); the delay is at most 15 minutes", wait, alert(body))
	}
	w.clock.Advance(retryAfter(t, resp))
	wantRedirect(t, first(fresh.login("admin", goodPassword)), "", "/")

	// The user-wide counter's first delay is one lock event, audited once.
	locks := 0
	events, _ := w.store.ListAudit(context.Background(), store.AuditFilter{User: "admin"})
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
	w := newWebWith(t, behindProxy)
	w.addUser(t, "alice", goodPassword)
	w.addUser(t, "bob", goodPassword)
	bobs := w.browserAt(t, "198.51.100.8")
	wantRedirect(t, first(bobs.login("bob", goodPassword)), "", "/")
	bobCookie := bobs.cookie("rg_device")
	alices := w.browserAt(t, "198.51.100.9")
	wantRedirect(t, first(alices.login("alice", goodPassword)), "", "/")
	aliceCookie := alices.cookie("rg_device")
	if bobCookie == "" || aliceCookie == "" || bobCookie == aliceCookie {
		t.Fatalf("device cookies %q %q", bobCookie, aliceCookie)
	}
	for i := range 30 {
		w.browserAt(t, fmt.Sprintf("203.0.113.%d", i)).login("alice", "wrong guess")
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
			b := w.browserAt(t, "192.0.2.3")
			b.setCookie("rg_device", tc.cookie)
			if resp, _ := b.login("alice", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("with %s: %d, want 429", tc.name, resp.StatusCode)
			}
		})
	}
	// Alice's own cookie works from any address; moved to a new browser it is the same cookie.
	b := w.browserAt(t, "192.0.2.4")
	b.setCookie("rg_device", aliceCookie)
	wantRedirect(t, first(b.login("alice", goodPassword)), "", "/")

	// After 90 days the cookie no longer counts.
	w.clock.Advance(91 * 24 * time.Hour)
	for i := range 30 {
		w.browserAt(t, fmt.Sprintf("203.0.113.%d", i)).login("alice", "wrong guess")
	}
	old := w.browserAt(t, "192.0.2.5")
	old.setCookie("rg_device", aliceCookie)
	if resp, _ := old.login("alice", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("an expired device cookie: %d, want 429", resp.StatusCode)
	}
}

// 9:00 at an office behind one NAT address: everyone signs in at once, correctly.
func TestAnOfficeBehindOneAddressSignsInTogether(t *testing.T) {
	w := newWeb(t)
	const n = 40
	var bs []*browser
	var forms []url.Values
	for i := range n {
		name := fmt.Sprintf("user%02d", i)
		w.addUser(t, name, goodPassword)
		b := w.browser(t)
		bs = append(bs, b)
		forms = append(forms, url.Values{"csrf_token": {b.token("/login")}, "username": {name}, "password": {goodPassword}})
	}
	// A few typos among them, which count on the address.
	for i := range 5 {
		w.browser(t).login(fmt.Sprintf("user%02d", i), "typo")
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/login", strings.NewReader(forms[i].Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if resp, err := b.c.Do(req); err == nil {
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
	ts, err := w.store.ListThrottles(context.Background(), "addr:", w.clock.Now())
	if err != nil || len(ts) != 1 || ts[0].Count != 5 {
		t.Fatalf("the address's counter holds %+v (%v); want the 5 typos only", ts, err)
	}
	wantRedirect(t, first(w.browser(t).login("user00", goodPassword)), "", "/")
}

func TestAFloodOfAnonymousSignInsWritesABoundedNumberOfRows(t *testing.T) {
	w := newWeb(t)
	w.addUser(t, "alice", goodPassword)
	b := w.browser(t)
	tok := b.token("/login")
	audit0, throttles0 := w.rows(t)
	const n = 300
	statuses := map[int]int{}
	for i := range n {
		resp, _ := b.do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {fmt.Sprintf("u%d", i)}, "password": {"x"}})
		statuses[resp.StatusCode]++
	}
	audit, throttles := w.rows(t)
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
	if resp, _ := b.login("alice", goodPassword); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after the flood: %d", resp.StatusCode)
	}
	before, _ := w.rows(t)
	b.login("alice", goodPassword)
	if after, _ := w.rows(t); after != before {
		t.Fatalf("a throttled sign-in wrote %d audit events", after-before)
	}
}

func TestTheTokenBucketAnswers429AndAuditsOncePerWindow(t *testing.T) {
	w := newWebWith(t, func(cfg *idp.Config) { cfg.RateBurst, cfg.RateEvery = 3, time.Minute })
	w.addUser(t, "alice", goodPassword)
	b := w.browser(t)
	for range 3 {
		b.login("alice", "wrong")
	}
	resp, body := b.login("alice", goodPassword)
	if resp.StatusCode != http.StatusTooManyRequests || retryAfter(t, resp) != time.Minute ||
		!strings.Contains(body, "Too many requests from your address") {
		t.Fatalf("over the rate: %d %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	for range 5 {
		b.login("alice", goodPassword)
	}
	// The security key's first step is fetched by a script: it gets JSON.
	resp, body = b.do(http.MethodPost, "/login/mfa/webauthn/begin", url.Values{})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		!strings.Contains(body, `"code":"too_many_requests"`) {
		t.Fatalf("the JSON route over the rate: %d %s", resp.StatusCode, body)
	}
	if got := w.auditOf(t, "ratelimit"); len(got) != 1 {
		t.Fatalf("rate-limit events %q; want one per client and window", got)
	}
	w.clock.Advance(time.Minute)
	wantRedirect(t, first(b.login("alice", goodPassword)), "", "/")
}

func TestAFullHashingQueueAnswers503WithoutHashing(t *testing.T) {
	w := newWebWith(t, func(cfg *idp.Config) {
		cfg.Hasher = password.New(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1).SetQueue(0, time.Hour)
	})
	w.addUser(t, "alice", goodPassword)
	b := w.browser(t)
	tok := b.token("/login")
	done, err := w.hasher.Admit() // another sign-in holds the one place
	if err != nil {
		t.Fatal(err)
	}
	hashes := w.hasher.Hashes()
	audit, throttles := w.rows(t)
	resp, body := b.do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {goodPassword}})
	if resp.StatusCode != http.StatusServiceUnavailable || retryAfter(t, resp) < time.Second || !strings.Contains(alert(body), "busy") {
		t.Fatalf("with the queue full: %d %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), alert(body))
	}
	if a, th := w.rows(t); w.hasher.Hashes() != hashes || a != audit || th != throttles {
		t.Fatalf("a refused sign-in hashed %d times, wrote %d events and %d counters", w.hasher.Hashes()-hashes, a-audit, th-throttles)
	}
	done()
	wantRedirect(t, first(b.login("alice", goodPassword)), "", "/")
}

func TestASignInBeyondTheSessionCapEndsTheOldestSession(t *testing.T) {
	w := newWebWith(t, func(cfg *idp.Config) { cfg.SessionsPerUser = 3 })
	w.addUser(t, "alice", goodPassword)
	var bs []*browser
	for range 4 {
		b := w.browser(t)
		wantRedirect(t, first(b.login("alice", goodPassword)), "", "/")
		bs = append(bs, b)
		w.clock.Advance(time.Second)
	}
	for i, b := range bs {
		if got := b.signedIn(); got != (i > 0) {
			t.Errorf("browser %d signed in: %v", i, got)
		}
	}
}

func TestIPv6AddressesInOne64ShareTheirCounters(t *testing.T) {
	w := newWebWith(t, behindProxy)
	w.addUser(t, "alice", goodPassword)
	for i := range 20 {
		b := w.browserAt(t, fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1))
		if resp, _ := b.login(fmt.Sprintf("guess%d", i), "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp, _ := w.browserAt(t, "2001:db8:1:2:ffff:ffff:ffff:ffff").login("alice", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64: %d, want 429", resp.StatusCode)
	}
	wantRedirect(t, first(w.browserAt(t, "2001:db8:1:3::1").login("alice", goodPassword)), "", "/")

	// What `rolegate unlock --address` does, for one address of the /64.
	p, err := idp.ParseAddress("2001:db8:1:2::42")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := idp.UnlockAddress(context.Background(), w.store, p, w.clock.Now()); err != nil || n == 0 {
		t.Fatalf("unlock: %d %v", n, err)
	}
	wantRedirect(t, first(w.browserAt(t, "2001:db8:1:2::9").login("alice", goodPassword)), "", "/")
}

func TestUnlockingAUserClearsTheirCountersOnEveryClient(t *testing.T) {
	w := newWebWith(t, behindProxy)
	w.addUser(t, "alice", goodPassword)
	w.addUser(t, "bob", goodPassword)
	for i := range 30 {
		w.browserAt(t, fmt.Sprintf("203.0.113.%d", i)).login("alice", "wrong")
		w.browserAt(t, fmt.Sprintf("203.0.113.%d", i)).login("bob", "wrong")
	}
	if resp, _ := w.browserAt(t, "203.0.113.1").login("alice", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("before: %d", resp.StatusCode)
	}
	// Ten guesses were checked before the rest had to wait: ten clients' counters and the user's.
	n, err := idp.UnlockUser(context.Background(), w.store, "ALICE", w.clock.Now())
	if err != nil || n != 11 {
		t.Fatalf("unlock: %d %v", n, err)
	}
	wantRedirect(t, first(w.browserAt(t, "203.0.113.1").login("alice", goodPassword)), "", "/")
	if resp, _ := w.browserAt(t, "203.0.113.2").login("bob", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("bob was unlocked too: %d", resp.StatusCode)
	}
}

// Someone who has alice's password types wrong codes from elsewhere; alice's own browser still
// takes her codes, and her recovery codes.
func TestWrongCodesFromAPasswordHolderDoNotBlockTheRealUsersCodes(t *testing.T) {
	w := newAWSWebWith(t, behindProxy)
	secret, recovery := w.enrolled(t, "alice")
	code := func() string { return mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits) }
	home := w.browserAt(t, "198.51.100.7")
	home.login("alice", goodPassword)
	wantRedirect(t, first(home.code(code())), "", "/")
	home.do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.token("/")}})
	w.clock.Advance(30 * time.Second)

	for i := range 40 {
		b := w.browserAt(t, fmt.Sprintf("203.0.113.%d", i))
		b.login("alice", goodPassword)
		for range 3 {
			b.code("000000")
		}
	}
	attacker := w.browserAt(t, "203.0.113.1")
	attacker.login("alice", goodPassword)
	if resp, _ := attacker.code(code()); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the attacker's browser with the right code: %d, want 429", resp.StatusCode)
	}
	stranger := w.browserAt(t, "192.0.2.9")
	stranger.login("alice", goodPassword)
	if resp, _ := stranger.code(code()); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a browser alice never used, during the attack: %d, want 429", resp.StatusCode)
	}

	w.clock.Advance(30 * time.Second)
	home.login("alice", goodPassword)
	wantRedirect(t, first(home.code(code())), "", "/")
	home.do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.token("/")}})
	home.login("alice", goodPassword)
	wantRedirect(t, first(home.code(recovery[0])), "", "/")
	if locks := w.auditOf(t, "throttle.lock"); len(locks) == 0 {
		t.Fatal("no lock event audited")
	}
}

func TestAFloodOfSSORequestsKeepsABoundedNumberPending(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.browser(t)
	audit0, _ := w.rows(t)
	const n = 150
	statuses := map[int]int{}
	for range n {
		resp, _ := b.get(w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding), ""))
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusSeeOther] != 20 || statuses[http.StatusTooManyRequests] != n-20 {
		t.Errorf("statuses %v; want 20 requests kept and the rest refused", statuses)
	}
	if audit, _ := w.rows(t); audit-audit0 > 1 {
		t.Errorf("%d SSO requests wrote %d audit events; want at most the rate limit's one", n, audit-audit0)
	}
	// Exactly 20 are pending for the address: a 21st is refused under a cap of 20, kept under 21.
	now := w.clock.Now()
	probe := func(i int) *store.PendingRequest {
		return &store.PendingRequest{HandleHash: []byte(fmt.Sprintf("probe-%d-0123456789abcdef", i)), SPEntityID: testSPEntityID,
			RequestID: fmt.Sprintf("probe-%d", i), ACSURL: testSPACS, CreatedAt: now, ExpiresAt: now.Add(time.Minute), ClientAddr: "127.0.0.1"}
	}
	ctx := context.Background()
	if ok, err := w.store.SavePendingRequestCapped(ctx, probe(1), 20); ok || err != nil {
		t.Fatalf("fewer than 20 pending: %v %v", ok, err)
	}
	if ok, err := w.store.SavePendingRequestCapped(ctx, probe(2), 21); !ok || err != nil {
		t.Fatalf("more than 20 pending: %v %v", ok, err)
	}
}

// Someone with alice's password, before she has a second factor, signs in from many browsers and
// keeps each one's device cookie. Once she enrols, those cookies must not let them guess her codes
// past the user-wide counter (each would be five more free guesses, without end); nor may a cookie
// from before a password change skip the password's counters.
func TestDeviceCookiesEarnedBeforeTheFirstFactorOrAPasswordChangeDoNotSkipTheCounters(t *testing.T) {
	w := newWebWith(t, behindProxy)
	w.addUser(t, "alice", goodPassword)
	var minted []string
	for i := range 3 {
		b := w.browserAt(t, fmt.Sprintf("203.0.113.%d", 100+i))
		wantRedirect(t, first(b.login("alice", goodPassword)), "", "/")
		minted = append(minted, b.cookie("rg_device"))
	}
	home := w.browserAt(t, "198.51.100.7")
	home.login("alice", goodPassword)
	secret, _ := home.enrollTOTP(w.clock.Now(), w.invite(t, "alice", time.Hour))
	home.do(http.MethodPost, "/logout", url.Values{"csrf_token": {home.token("/")}})
	w.clock.Advance(30 * time.Second)

	// Ten wrong codes from ten addresses: the user-wide counter of codes now makes others wait.
	for i := range 10 {
		b := w.browserAt(t, fmt.Sprintf("203.0.113.%d", i))
		b.login("alice", goodPassword)
		if resp, _ := b.code("000000"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i+1, resp.StatusCode)
		}
	}
	for i, c := range minted {
		b := w.browserAt(t, fmt.Sprintf("203.0.113.%d", 50+i))
		b.setCookie("rg_device", c)
		b.login("alice", goodPassword)
		if resp, _ := b.code("000000"); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("a device cookie earned by the password alone, before the first factor: %d, want 429", resp.StatusCode)
		}
	}
	// Alice's own browser, trusted when she enrolled, still takes her code.
	home.login("alice", goodPassword)
	wantRedirect(t, first(home.code(mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits))), "", "/")
	trusted := home.cookie("rg_device")

	// After a password change, a cookie from before it no longer skips the password's counters; the
	// browser that changed it gets a new one that does.
	const newPassword = "a new and long password"
	resp, _ := home.post("/account/password", "/account/password", url.Values{"current_password": {goodPassword},
		"new_password": {newPassword}, "confirm_password": {newPassword}})
	wantRedirect(t, resp, "", "/")
	renewed := home.cookie("rg_device")
	if renewed == "" || renewed == trusted {
		t.Fatalf("the device cookie after a password change: %q", renewed)
	}
	for i := range 12 {
		w.browserAt(t, fmt.Sprintf("203.0.113.%d", 150+i)).login("alice", "wrong guess")
	}
	again := w.browserAt(t, "192.0.2.21")
	again.setCookie("rg_device", renewed)
	wantRedirect(t, first(again.login("alice", newPassword)), "", "/login/mfa")
	old := w.browserAt(t, "192.0.2.20")
	old.setCookie("rg_device", trusted)
	if resp, _ := old.login("alice", newPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a device cookie from before the password change: %d, want 429", resp.StatusCode)
	}
}

// Someone with alice's password but not her second factor signs in again and again: their
// half-finished sessions must not push her finished ones past the session cap and sign her out.
func TestPasswordOnlySignInsOfAnMFAUserDoNotEndHerFinishedSessions(t *testing.T) {
	w := newWebWith(t, func(cfg *idp.Config) { behindProxy(cfg); cfg.SessionsPerUser = 3 })
	w.addUser(t, "alice", goodPassword)
	home := w.browserAt(t, "198.51.100.7")
	home.login("alice", goodPassword)
	home.enrollTOTP(w.clock.Now(), w.invite(t, "alice", time.Hour))
	for i := range 5 {
		w.clock.Advance(time.Second)
		b := w.browserAt(t, fmt.Sprintf("203.0.113.%d", i))
		wantRedirect(t, first(b.login("alice", goodPassword)), "", "/login/mfa")
	}
	if !home.signedIn() {
		t.Fatal("a password holder's sign-ins ended alice's session, which used her second factor")
	}
	// Without a second factor anywhere, the oldest session still ends first.
	w.addUser(t, "bob", goodPassword)
	var bs []*browser
	for i := range 4 {
		w.clock.Advance(time.Second)
		b := w.browserAt(t, fmt.Sprintf("192.0.2.%d", i))
		wantRedirect(t, first(b.login("bob", goodPassword)), "", "/")
		bs = append(bs, b)
	}
	for i, b := range bs {
		if got := b.signedIn(); got != (i > 0) {
			t.Errorf("bob's browser %d signed in: %v", i, got)
		}
	}
}

// Under an https base URL every cookie takes the __Host- prefix, the device cookie too: the
// returning browser must still be known by it, or a password guesser elsewhere keeps it out.
func TestAReturningBrowserGetsInUnderAnHTTPSBaseURL(t *testing.T) {
	w := newWebWith(t, func(cfg *idp.Config) { cfg.BaseURL = "https://idp.example.com"; behindProxy(cfg) })
	w.addUser(t, "admin", goodPassword)
	_, body := w.browser(t).get("/login")
	tok := html.UnescapeString(csrfRE.FindStringSubmatch(body)[1])
	login := func(from, pw, cookies string) *http.Response {
		resp, _ := w.browserAt(t, from).do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {"admin"}, "password": {pw}},
			"Cookie", "__Host-rg_csrf="+tok+cookies, "Origin", "https://idp.example.com")
		return resp
	}
	resp := login("198.51.100.7", goodPassword, "")
	wantRedirect(t, resp, "", "/")
	sc := setCookieHeader(resp, "__Host-rg_device")
	if sc == "" {
		t.Fatalf("no __Host-rg_device cookie among %q", resp.Header.Values("Set-Cookie"))
	}
	device := "; " + strings.SplitN(sc, ";", 2)[0]
	for i := range 40 {
		login(fmt.Sprintf("203.0.113.%d", i), "wrong guess", "")
	}
	if resp := login("192.0.2.2", goodPassword, ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a fresh browser during the attack: %d", resp.StatusCode)
	}
	wantRedirect(t, login("198.51.100.7", goodPassword, device), "", "/")
}

// Names no one can hold (a character user names never have, or too long) are refused like any wrong
// password, but write no counters of their own: a guesser cycling made-up names grows only the
// address's one counter.
func TestImpossibleUserNamesWriteNoCountersOfTheirOwn(t *testing.T) {
	w := newWeb(t)
	b := w.browser(t)
	tok := b.token("/login")
	_, throttles0 := w.rows(t)
	for i := range 10 {
		name := fmt.Sprintf("no|body:%d", i)
		if i%2 == 1 {
			name = strings.Repeat("x", 65) + strconv.Itoa(i)
		}
		if resp, _ := b.do(http.MethodPost, "/login", url.Values{"csrf_token": {tok}, "username": {name}, "password": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%q: %d, want the usual 401", name, resp.StatusCode)
		}
	}
	ts, err := w.store.ListThrottles(context.Background(), "", w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts)-throttles0 != 1 || ts[0].Key != "addr:127.0.0.1" || ts[0].Count != 10 {
		t.Fatalf("counters after ten impossible names: %+v", ts)
	}
}
