// Package idptest is the test support that the idp package and its flows (idp/cliauth, idp/sso)
// share: a server over a real SQLite store with a fake clock, a browser with a cookie jar, and the
// AWS, second-factor and ECP fixtures their tests build on.
package idptest

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/password"
	"rolegate/store"
	"rolegate/store/sqlite"
	"rolegate/store/sqlstore"
	"strings"
	"sync"
	"testing"
	"time"
)

// NewHasher is a fast hasher for tests; production parameters are tested in idp/password.
func NewHasher() *password.Hasher {
	return password.New(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
}

// NewStore is a migrated SQLite store in a temporary directory.
func NewStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// NewRing is a keyring over st with a current key, rereading the store on every call.
func NewRing(t testing.TB, st *sqlstore.Store, now func() time.Time) *certs.Keyring {
	t.Helper()
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	ring := certs.NewKeyring(st, kek, 2048, "test", now)
	ring.Refresh = 0
	if err := ring.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ring
}

// NewKEK is a fresh key-encryption key.
func NewKEK(t testing.TB) *certs.KEK {
	t.Helper()
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// Clock is the fake time a web fixture's server reads.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock that reads t until it is advanced.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Web is a server with a real SQLite store, a fast hasher and a fake clock.
type Web struct {
	Srv    *httptest.Server
	Store  *sqlstore.Store
	Clock  *Clock
	Hasher *password.Hasher
	Logs   *Logs // what the server logged, debug and up
	// BaseURL is the server's configured base URL, which its cookies' names derive from.
	BaseURL string
}

// Host is the Host header browsers send: the base URL's when it is plain http (as a browser sent
// there by the server does), else "" for the server's address.
func (w *Web) Host() string {
	if u, err := url.Parse(w.BaseURL); err == nil && u.Scheme == "http" {
		return u.Host
	}
	return ""
}

// CookieName is the name this server gives its cookie called name (rg_session, rg_csrf, rg_device).
func (w *Web) CookieName(name string) string { return idp.CookieName(w.BaseURL, name) }

// Logs collects a server's JSON log lines.
type Logs struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Lines are the log lines whose message is msg, decoded.
func (l *Logs) Lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logger is a test server's logger: JSON lines into logs, from debug up.
func logger(logs *Logs) *slog.Logger {
	return slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// NewWeb starts a server whose base URL is its own (http) address, or baseURL when given.
func NewWeb(t testing.TB, baseURL ...string) *Web {
	t.Helper()
	return NewWebWith(t, func(cfg *idp.Config) {
		if len(baseURL) > 0 {
			cfg.BaseURL = baseURL[0]
		}
	})
}

// NewWebWith is NewWeb with settings changed by mod.
func NewWebWith(t testing.TB, mod func(*idp.Config)) *Web {
	t.Helper()
	st := NewStore(t)
	w := &Web{Store: st, Clock: NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)), Hasher: NewHasher(), Logs: &Logs{}}
	var h http.Handler
	w.Srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { h.ServeHTTP(rw, r) }))
	t.Cleanup(w.Srv.Close)
	cfg := idp.Config{BaseURL: w.Srv.URL, Hasher: w.Hasher, Now: w.Clock.Now, Secrets: NewKEK(t)}
	mod(&cfg)
	w.Hasher, w.BaseURL = cfg.Hasher, cfg.BaseURL
	h = idp.New(cfg, st, nil, logger(w.Logs)).Handler()
	return w
}

func (w *Web) AddUser(t testing.TB, name, pw string, mod ...func(*store.User)) *store.User {
	t.Helper()
	hash, err := w.Hasher.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Name: name, PasswordHash: hash}
	for _, m := range mod {
		m(u)
	}
	if err := w.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func (w *Web) AuditOf(t testing.TB, typ string) []string {
	t.Helper()
	events, err := w.Store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e.User+" "+e.Result)
		}
	}
	return out
}

// Browser is a client with a cookie jar that does not follow redirects.
type Browser struct {
	T      testing.TB
	W      *Web
	Jar    *cookiejar.Jar
	Client *http.Client
	From   string // the client address a trusted proxy reports (X-Forwarded-For), when set
}

func (w *Web) Browser(t testing.TB) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Browser{T: t, W: w, Jar: jar, Client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Do sends a request; hdr is pairs of header names and values.
func (b *Browser) Do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.T.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.W.Srv.URL+path, body)
	if err != nil {
		b.T.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if h := b.W.Host(); h != "" {
		req.Host = h
	}
	if b.From != "" {
		req.Header.Set("X-Forwarded-For", b.From)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.T.Fatal(err)
	}
	return resp, string(out)
}

func (b *Browser) Get(path string) (*http.Response, string) { return b.Do(http.MethodGet, path, nil) }

var CSRFRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// Token returns the CSRF token of the first form on the page at path.
func (b *Browser) Token(path string) string {
	b.T.Helper()
	resp, body := b.Get(path)
	m := CSRFRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.T.Fatalf("GET %s: %d, no csrf_token in:\n%s", path, resp.StatusCode, body)
	}
	return html.UnescapeString(m[1])
}

// Login posts the sign-in form as a person would: token from the form, then the credentials.
func (b *Browser) Login(user, pw string, extra ...string) (*http.Response, string) {
	b.T.Helper()
	form := url.Values{"csrf_token": {b.Token("/login")}, "username": {user}, "password": {pw}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return b.Do(http.MethodPost, "/login", form)
}

// site is the URL whose cookies the browser keeps: the server's, under the Host it sends.
func (b *Browser) site() *url.URL {
	u, _ := url.Parse(b.W.Srv.URL)
	if h := b.W.Host(); h != "" {
		u.Host = h
	}
	return u
}

// Cookie is the value of the server's cookie called name (as rg_session: the server's own name
// for it is W.CookieName(name)).
func (b *Browser) Cookie(name string) string {
	for _, c := range b.Jar.Cookies(b.site()) {
		if c.Name == b.W.CookieName(name) {
			return c.Value
		}
	}
	return ""
}

func (b *Browser) SetCookie(name, value string) {
	b.Jar.SetCookies(b.site(), []*http.Cookie{{Name: b.W.CookieName(name), Value: value, Path: "/"}})
}

// SignedIn reports whether GET / shows the portal rather than sending the browser to sign in.
func (b *Browser) SignedIn() bool {
	b.T.Helper()
	resp, _ := b.Get("/")
	switch {
	case resp.StatusCode == http.StatusOK:
		return true
	case resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login?"):
		return false
	}
	b.T.Fatalf("GET /: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	return false
}

func SetCookieHeader(resp *http.Response, name string) string {
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

var alertRE = regexp.MustCompile(`<p class="alert" role="alert"[^>]*>([^<]*)</p>`)

func Alert(body string) string {
	if m := alertRE.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func WantRedirect(t testing.TB, resp *http.Response, body, loc string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != loc {
		t.Fatalf("got %d to %q; want 303 to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), loc, body)
	}
}

const GoodPassword = "correct horse battery"

// BrowserAt is a fresh browser at address from.
func (w *Web) BrowserAt(t testing.TB, from string) *Browser {
	b := w.Browser(t)
	b.From = from
	return b
}

// Rows counts what the store holds that a flood could grow: audit events and throttle counters.
func (w *Web) Rows(t testing.TB) (audit, throttles int) {
	t.Helper()
	ctx := context.Background()
	events, err := w.Store.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := w.Store.ListThrottles(ctx, "", w.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return len(events), len(ts)
}
