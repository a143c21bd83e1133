package idp_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/idp/password"
	"rolegate/internal/metricstest"
)

const (
	signIns = "rolegate_signins_total"
	issued  = "rolegate_assertions_issued_total"
	refused = "rolegate_assertions_refused_total"
	reqs    = "rolegate_http_request_duration_seconds"
	prod    = "111122223333"
)

func scrape(t *testing.T, w *idptest.Web) metricstest.Scrape {
	t.Helper()
	return metricstest.Get(t, w.Srv.URL+"/metrics")
}

// moved checks that each series moved by exactly its delta between two scrapes.
func moved(t *testing.T, before, after metricstest.Scrape, want map[string]float64, series map[string][]string) {
	t.Helper()
	for name, d := range want {
		s := series[name]
		if got := after.Value(s[0], s[1:]...) - before.Value(s[0], s[1:]...); got != d {
			t.Errorf("%s %v moved by %v, want %v", name, s, got, d)
		}
	}
}

func TestSignInsAndAssertionsMoveTheCounters(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	series := map[string][]string{
		"ok":             {signIns, "result", "ok"},
		"bad":            {signIns, "result", "bad_password"},
		"issued":         {issued, "kind", "aws", "account", prod},
		"not granted":    {refused, "kind", "aws", "account", prod, "reason", "forbidden"},
		"no account":     {refused, "kind", "aws", "account", "unknown", "reason", "forbidden"},
		"login requests": {reqs, "route", "/login", "method", "POST"},
		"GetUser calls":  {"rolegate_store_call_duration_seconds", "method", "GetUser"},
		"GetAccount nf":  {"rolegate_store_errors_total", "method", "GetAccount", "code", "not_found"},
	}
	before := scrape(t, w.Web)
	for _, r := range []string{"ok", "bad_password", "throttled", "mfa_required", "mfa_failed"} {
		if !before.Has(signIns, "result", r) {
			t.Errorf("no %s series for result %s before any sign-in", signIns, r)
		}
	}

	b.Login("alice", "wrong horse")
	if resp, body := b.Login("alice", "correct horse battery"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, idptest.Alert(body))
	}
	idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
	if resp, _ := b.Get("/aws/signin?account=999988887777"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in to an unknown account: %d", resp.StatusCode)
	}
	m := w.Browser(t)
	m.Login("mallory", "correct horse battery")
	if resp, _ := m.Get("/aws/signin?account=prod"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("mallory's sign-in to prod: %d", resp.StatusCode)
	}
	// The command line: ECP for every account, then a CLI session's refresh for one.
	tok := w.CLILogin(t, "/saml/ecp")
	if resp, body := w.Refresh(t, tok, "?account=prod"); resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %s", resp.StatusCode, body)
	}
	after := scrape(t, w.Web)
	series["ecp all"] = []string{issued, "kind", "ecp", "account", "all"}
	series["cli"] = []string{issued, "kind", "cli", "account", prod}
	moved(t, before, after, map[string]float64{"ok": 3, "bad": 1, "issued": 1, "not granted": 1, "no account": 1,
		"login requests": 3, "GetAccount nf": 1, "ecp all": 1, "cli": 1}, series)
	if after.Value(series["GetUser calls"][0], series["GetUser calls"][1:]...) < 3 {
		t.Errorf("GetUser calls: %v observed, want one for each sign-in at least", after.Value("rolegate_store_call_duration_seconds", "method", "GetUser"))
	}
	if after.Value("rolegate_password_hash_wait_seconds") < 3 || !after.Has("rolegate_password_hashes_in_flight") {
		t.Errorf("hash waits observed: %v, want one for each password checked; in flight present: %v",
			after.Value("rolegate_password_hash_wait_seconds"), after.Has("rolegate_password_hashes_in_flight"))
	}
	if !after.Has("rolegate_build_info", "goversion", runtime.Version()) || after.Value("rolegate_build_info") != 1 {
		t.Errorf("rolegate_build_info: %v", after.LabelValues())
	}
	if !after.Has("go_goroutines") || !after.Has("go_memstats_alloc_bytes") {
		t.Error("no Go runtime metrics")
	}
}

func TestTheSigningKeysAgeAndItsCertificatesDaysLeftFollowTheClock(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	s := scrape(t, w.Web)
	age, left := s.Value("rolegate_signing_key_age_seconds"), s.Value("rolegate_signing_certificate_expiry_days")
	full := certs.DefaultValidFor.Hours() / 24
	if age != 0 || left < full-1 || left > full {
		t.Fatalf("a new key: age %vs, %v days left; want 0 and about %v", age, left, full)
	}
	w.Clock.Advance(30 * 24 * time.Hour)
	s = scrape(t, w.Web)
	if got := s.Value("rolegate_signing_key_age_seconds"); got != (30 * 24 * time.Hour).Seconds() {
		t.Errorf("age after 30 days: %vs", got)
	}
	if got := s.Value("rolegate_signing_certificate_expiry_days"); got != left-30 {
		t.Errorf("days left after 30 days: %v, want %v", got, left-30)
	}
}

func TestSecondFactorSignInsCountRequiredFailedAndOK(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	secret, _ := w.Enrolled(t, "alice")
	before := scrape(t, w.Web)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	b.Code("000000")
	resp, body := b.Code(mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits))
	idptest.WantRedirect(t, resp, body, "/")
	// ECP: a code due and missing, then the right one.
	w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: idptest.GoodPassword, Body: w.ECPBody()})
	w.Clock.Advance(time.Minute) // the code of the next step: each is taken once
	if resp, body := w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: idptest.GoodPassword, Body: w.ECPBody(),
		Hdr: []string{"X-Rolegate-OTP", mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("ECP with a code: %d %s", resp.StatusCode, body)
	}
	after := scrape(t, w.Web)
	moved(t, before, after, map[string]float64{"required": 2, "failed": 1, "ok": 2, "ecp issued": 1}, map[string][]string{
		"required":   {signIns, "result", "mfa_required"},
		"failed":     {signIns, "result", "mfa_failed"},
		"ok":         {signIns, "result", "ok"},
		"ecp issued": {issued, "kind", "ecp", "account", prod},
	})
}

func TestThrottledSignInsAreCounted(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	throttled := false
	for i := 0; i < 20 && !throttled; i++ {
		resp, _ := b.Login("alice", "wrong horse")
		throttled = resp.StatusCode == http.StatusTooManyRequests
	}
	if !throttled {
		t.Fatal("twenty wrong passwords were never throttled")
	}
	if got := scrape(t, w.Web).Value(signIns, "result", "throttled"); got != 1 {
		t.Fatalf("throttled sign-ins: %v, want 1", got)
	}
}

func TestNoLabelHoldsAUsernameOrARawPath(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	weird := `zqxuser"} evil{x="1`
	b.Login(weird, "whatever password")
	b.Login("alice", "correct horse battery")
	b.Get("/aws/signin?account=zqxaccount")
	b.Get("/zqxpath/../etc/passwd")
	w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=zqxecp", User: "zqxecpuser", PW: "x", Body: w.ECPBody()})
	// A method of the client's own making, on a route and off one: counted as "other".
	for _, path := range []string{"/healthz", "/zqxpath"} {
		req, err := http.NewRequest("ZQXMETHOD", w.Srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	s := scrape(t, w.Web)
	for _, l := range s.LabelValues() {
		if strings.Contains(l, "zqx") || strings.Contains(l, "alice") || strings.Contains(l, "passwd") {
			t.Errorf("a label holds what a client sent: %s", l)
		}
	}
	if s.Value(reqs, "route", "unmatched", "code", "404") < 1 {
		t.Errorf("the 404 is not counted under route unmatched: %v", s.LabelValues())
	}
	if s.Value(reqs, "route", "unmatched", "method", "other") < 2 {
		t.Errorf("the made-up methods are not counted as other on route unmatched: %v", s.LabelValues())
	}
	if s.Value(refused, "kind", "aws", "account", "unknown") != 1 {
		t.Errorf("the refusal for an unknown account is not labelled unknown: %v", s.LabelValues())
	}
}

func TestMetricsOnTheMainListenerOnlyForAllowedAddresses(t *testing.T) {
	st := idptest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name    string
		cfg     idp.Config
		remote  string
		forward string
		want    int
	}{
		{"loopback reads them by default", idp.Config{}, "127.0.0.1:40000", "", 200},
		{"IPv6 loopback reads them by default", idp.Config{}, "[::1]:40000", "", 200},
		{"loopback written as IPv6 reads them", idp.Config{}, "[::ffff:127.0.0.1]:40000", "", 200},
		{"another address is refused by default", idp.Config{}, "10.1.2.3:40000", "", 403},
		{"loopback forwarding for someone through an unknown proxy is refused", idp.Config{}, "127.0.0.1:40000", "203.0.113.9", 403},
		{"an allowed range reads them", idp.Config{MetricsAllow: []string{"10.0.0.0/8"}}, "10.1.2.3:40000", "", 200},
		{"loopback outside the allowed range is refused", idp.Config{MetricsAllow: []string{"10.0.0.0/8"}}, "127.0.0.1:40000", "", 403},
		{"an empty list refuses everyone", idp.Config{MetricsAllow: []string{}}, "127.0.0.1:40000", "", 403},
		{"a trusted proxy forwarding an allowed client", idp.Config{TrustedProxies: []string{"192.0.2.1"}, MetricsAllow: []string{"10.0.0.0/8"}},
			"192.0.2.1:40000", "10.9.9.9", 200},
		{"a trusted proxy forwarding an outsider", idp.Config{TrustedProxies: []string{"192.0.2.1"}, MetricsAllow: []string{"10.0.0.0/8"}},
			"192.0.2.1:40000", "203.0.113.9", 403},
		// A trusted proxy's forwarding headers that Gin cannot read leave it the proxy's own address.
		{"a trusted proxy naming the client only in Forwarded", idp.Config{TrustedProxies: []string{"127.0.0.1"}},
			"127.0.0.1:40000", "Forwarded: for=203.0.113.9", 403},
		{"a trusted proxy naming the client in an address that does not parse", idp.Config{TrustedProxies: []string{"127.0.0.1"}},
			"127.0.0.1:40000", "203.0.113.9:5555", 403},
		{"a trusted proxy's host scraping it directly", idp.Config{TrustedProxies: []string{"127.0.0.1"}}, "127.0.0.1:40000", "", 200},
		{"a separate listener leaves none on the main one", idp.Config{SeparateMetrics: true}, "127.0.0.1:40000", "", 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.BaseURL, cfg.Hasher = "http://localhost", idptest.NewHasher()
			srv := idp.New(cfg, st, nil, log)
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.RemoteAddr = c.remote
			req.Header.Set("Accept", "application/json")
			if name, value, ok := strings.Cut(c.forward, ": "); ok {
				req.Header.Set(name, value)
			} else if c.forward != "" {
				req.Header.Set("X-Forwarded-For", c.forward)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			switch c.want {
			case 200:
				s, err := metricstest.Parse(rec.Body)
				if err != nil || !s.Has(signIns) {
					t.Fatalf("not a scrape with %s: %v", signIns, err)
				}
			case 403:
				var e struct{ Error, Code string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != "forbidden" ||
					!(strings.Contains(e.Error, "--metrics-allow") || strings.Contains(e.Error, "--trusted-proxies")) {
					t.Fatalf("refusal %s does not name the problem (%v)", rec.Body, err)
				}
			}
			// The handler for a listener of its own serves whoever reaches it.
			rec = httptest.NewRecorder()
			srv.MetricsHandler().ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("MetricsHandler: %d", rec.Code)
			}
		})
	}
}

func TestServersInOneProcessKeepTheirOwnCounts(t *testing.T) {
	one, two := idptest.NewAWSWeb(t), idptest.NewAWSWeb(t)
	one.Browser(t).Login("alice", "correct horse battery")
	if got := scrape(t, one.Web).Value(signIns, "result", "ok"); got != 1 {
		t.Errorf("first server: %v sign-ins, want 1", got)
	}
	if got := scrape(t, two.Web).Value(signIns, "result", "ok"); got != 0 {
		t.Errorf("second server: %v sign-ins, want 0", got)
	}
}

func TestASignInTurnedAwayByAFullHashingQueueIsCounted(t *testing.T) {
	w := idptest.NewWebWith(t, func(cfg *idp.Config) {
		cfg.Hasher = password.New(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1).SetQueue(0, time.Hour)
	})
	w.AddUser(t, "alice", idptest.GoodPassword)
	b := w.Browser(t)
	done, err := w.Hasher.Admit() // another sign-in holds the one place
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with the queue full: %d", resp.StatusCode)
	}
	done()
	b.Login("alice", idptest.GoodPassword)
	s := scrape(t, w)
	if got := s.Value("rolegate_password_queue_full_total"); got != 1 {
		t.Errorf("queue full: %v, want 1", got)
	}
	if got := s.Value(signIns, "result", "ok"); got != 1 {
		t.Errorf("sign-ins ok: %v, want 1 (the turned-away one is no sign-in)", got)
	}
}
