package main

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/internal/metricstest"
)

var metricsRE = regexp.MustCompile(`Metrics: (http://\S+/metrics)\n`)

// metricsURL waits for serve to say where its metrics listener is.
func (s *server) metricsURL(t *testing.T) string {
	t.Helper()
	for range 2000 {
		if m := metricsRE.FindStringSubmatch(s.stdout.String()); m != nil {
			return m[1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("serve did not say where its metrics are:\n%s", s.stdout)
	return ""
}

func TestServeWithMetricsAddrServesThemOnTheirOwnListenerAndCountsSignIns(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
	srv := c.serve(t, "--metrics-addr", "127.0.0.1:0")
	murl := srv.metricsURL(t)
	if strings.HasPrefix(murl, srv.url+"/") {
		t.Fatalf("metrics at %s share the main listener %s", murl, srv.url)
	}
	before := metricstest.Get(t, murl)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := func(pw string) int {
		t.Helper()
		res, err := browser.Get(srv.url + "/login")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		f := hiddenFields(string(page))
		f.Set("username", "alice")
		f.Set("password", pw)
		res, err = browser.PostForm(srv.url+"/login", f)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := signIn("not the password"); got != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", got)
	}
	if got := signIn(goodPassword); got != http.StatusSeeOther {
		t.Fatalf("the right password: %d", got)
	}
	after := metricstest.Get(t, murl)
	for _, w := range []struct {
		result string
		delta  float64
	}{{"ok", 1}, {"bad_password", 1}, {"throttled", 0}} {
		if d := after.Value("rolegate_signins_total", "result", w.result) - before.Value("rolegate_signins_total", "result", w.result); d != w.delta {
			t.Errorf("sign-ins %s moved by %v, want %v", w.result, d, w.delta)
		}
	}
	if after.Value("rolegate_signing_certificate_expiry_days") < 365 || !after.Has("rolegate_build_info") {
		t.Errorf("no signing certificate expiry or build info in the scrape")
	}

	// Neither listener serves the other's paths.
	for _, u := range []string{srv.url + "/metrics", strings.TrimSuffix(murl, "/metrics") + "/login"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", u, res.StatusCode)
		}
	}
	srv.stop(t)
	if _, err := http.Get(murl); err == nil {
		t.Error("the metrics listener still answers after serve stopped")
	}
}

func TestServeWithoutMetricsAddrServesThemOnTheMainListenerToLoopback(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	srv := c.serve(t)
	if s := metricstest.Get(t, srv.url+"/metrics"); !s.Has("rolegate_signins_total", "result", "ok") {
		t.Errorf("the main listener's scrape has no sign-in counter")
	}
	srv.stop(t)
	if metricsRE.MatchString(srv.stdout.String()) {
		t.Errorf("serve announced a metrics listener it does not have:\n%s", srv.stdout)
	}
}

func TestServeRefusesABadMetricsSettingBeforeTouchingTheStore(t *testing.T) {
	t.Parallel()
	for _, s := range []struct {
		name string
		args []string
		frag string
	}{
		{"an allow entry that is no address", []string{"--metrics-allow", "127.0.0.1,localhost"}, `invalid metrics-allow entry "localhost"`},
		{"an allow entry that is no CIDR", []string{"--metrics-allow", "10.0.0.0/33"}, `"10.0.0.0/33"`},
		{"a metrics address that cannot be listened on", []string{"--metrics-addr", "256.0.0.1:0"}, "cannot listen on 256.0.0.1:0 for metrics"},
	} {
		t.Run(s.name, func(t *testing.T) {
			c := newCLI(t, "sqlite")
			r := c.run("", append([]string{"serve", "--addr", "127.0.0.1:0"}, s.args...)...)
			if r.code != exitInvalid || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, s.frag) {
				t.Errorf("serve: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", r.code, r.stdout, r.stderr, exitInvalid, s.frag)
			}
			if _, err := os.Stat(c.dataDir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused serve created the data directory (stat: %v)", err)
			}
		})
	}
}
