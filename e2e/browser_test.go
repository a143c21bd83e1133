package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/password"
	"rolegate/internal/testtools"
	"rolegate/store"
	"rolegate/store/sqlite"
)

const (
	chromiumPath = "/usr/bin/chromium"
	awsACS       = "https://signin.aws.amazon.com/saml"
	accountID    = "111122223333"
	alicePW      = "correct horse battery"
	testTimeout  = 60 * time.Second
)

// acsPost is one form the fake ACS received.
type acsPost struct {
	Host         string
	SAMLResponse string
	RelayState   string
	HasRelay     bool
}

// fixture is Rolegate on plain HTTP with a real SQLite store and keyring, the fake AWS ACS on TLS,
// and a headless Chromium whose signin.aws.amazon.com:443 is that TLS server.
type fixture struct {
	t       *testing.T
	base    string // Rolegate's base URL: http://localhost:PORT, so that it can be a WebAuthn RP ID
	acsSrv  *httptest.Server
	browser context.Context
	st      store.Store
	hasher  *password.Hasher

	mu          sync.Mutex
	posts       []acsPost
	logs        []string      // console, exception and browser-log messages
	sawCSP      chan struct{} // closed at the first message about a Content Security Policy
	loginOrigin string        // the Origin header of the last POST /login
	cspOnce     sync.Once
}

// newFixture starts the fixture; mods change Rolegate's settings (demo accounts, say).
func newFixture(t *testing.T, mods ...func(*idp.Config)) *fixture {
	t.Helper()
	requireChromium(t)
	f := &fixture{t: t, sawCSP: make(chan struct{})}

	// The fake AWS sign-in endpoint.
	acsMux := http.NewServeMux()
	acsMux.HandleFunc("POST /saml", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, hasRelay := r.PostForm["RelayState"]
		f.mu.Lock()
		f.posts = append(f.posts, acsPost{Host: r.Host, SAMLResponse: r.PostForm.Get("SAMLResponse"),
			RelayState: r.PostForm.Get("RelayState"), HasRelay: hasRelay})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>ACS received</title></head><body>
<h1 id="acs-received">ACS received</h1><p>A SAMLResponse of %d base64 characters arrived at %s%s.</p></body></html>`,
			len(r.PostForm.Get("SAMLResponse")), r.Host, r.URL.Path)
	})
	// A page that breaks its own CSP: proves that the console listener sees CSP violations at all.
	acsMux.HandleFunc("GET /csp-canary", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-canary'")
		io.WriteString(w, `<!doctype html><html><head><title>canary</title>`+
			`<script>document.title = "inline script ran"</script></head><body><p id="canary">canary</p></body></html>`)
	})
	f.acsSrv = httptest.NewTLSServer(acsMux)
	t.Cleanup(f.acsSrv.Close)

	// Rolegate, whose base URL is its own address, known only once the listener exists. The server
	// listens on 127.0.0.1, but the base URL and every address the browser opens say localhost:
	// WebAuthn's RP ID is the base URL's host and cannot be an IP address, and Chromium treats
	// http://localhost as a secure context and resolves it to the loopback address itself.
	st, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	keys := certs.NewKeyring(st, kek, 2048, "Rolegate e2e", nil)
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	hasher := password.New(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	f.st, f.hasher = st, hasher
	var h http.Handler
	rg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/login" {
			f.mu.Lock()
			f.loginOrigin = r.Header.Get("Origin") // observed only, for the failure message
			f.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(rg.Close)
	_, rgPort, err := net.SplitHostPort(rg.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f.base = "http://localhost:" + rgPort
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := idp.Config{BaseURL: f.base, Hasher: hasher, Secrets: kek}
	for _, m := range mods {
		m(&cfg)
	}
	h = idp.New(cfg, st, keys, log).Handler()

	// The directory: alice in devs; prod granted to devs (ReadOnly) and to alice (Admin); a team tag.
	hash, err := hasher.Hash(ctx, alicePW)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateUser(ctx, &store.User{Name: "alice", PasswordHash: hash, Email: "alice@example.com",
		Attributes: map[string]string{"team": "platform"}}))
	must(st.CreateGroup(ctx, &store.Group{Name: "devs"}))
	must(st.AddGroupMember(ctx, "devs", "alice"))
	must(st.CreateAccount(ctx, &store.Account{ID: accountID, Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS}))
	must(st.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: accountID, Role: "ReadOnly"}))
	must(st.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: accountID, Role: "Admin"}))
	must(st.CreateTagRule(ctx, &store.TagRule{AccountID: accountID, Key: "team", FromAttr: "team", Transitive: true}))

	// Chromium resolves signin.aws.amazon.com:443 to the fake ACS.
	_, port, err := net.SplitHostPort(f.acsSrv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f.startBrowser(chromedp.Flag("host-resolver-rules", "MAP signin.aws.amazon.com:443 127.0.0.1:"+port))
	return f
}

// requireChromium stops the test through testtools.Missing when Debian's Chromium is not installed.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testtools.Missing(t, "chromium", fmt.Sprintf("%s not found (apt-get install chromium)", chromiumPath))
	}
}

// startBrowser starts a headless Chromium (Debian's binary, never a downloaded one) for f, with
// extra options; it ends with the test, and a failed test logs what Chromium said.
func (f *fixture) startBrowser(extra ...chromedp.ExecAllocatorOption) {
	t := f.t
	t.Helper()
	var chromeOut testtools.SyncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.IgnoreCertErrors,
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&chromeOut),
	)
	opts = append(opts, extra...)
	tctx, cancelTimeout := context.WithTimeout(t.Context(), testTimeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(tctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(f.listen))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		if t.Failed() {
			var useful []string // without the noise of a machine with no D-Bus
			for _, l := range strings.Split(chromeOut.String(), "\n") {
				if l != "" && !strings.Contains(l, "dbus") {
					useful = append(useful, l)
				}
			}
			if len(useful) > 0 {
				t.Logf("Chromium's output:\n%s", strings.Join(useful, "\n"))
			}
		}
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	f.browser = bctx
}

// listen keeps every console message, uncaught exception and browser-log entry (where Chromium
// reports CSP violations). It runs in chromedp's read loop: it only appends.
func (f *fixture) listen(ev any) {
	var line string
	switch e := ev.(type) {
	case *cdplog.EventEntryAdded:
		line = fmt.Sprintf("log %s %s: %s (%s)", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, string(a.Value)+a.Description)
		}
		line = fmt.Sprintf("console %s: %s", e.Type, strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		line = fmt.Sprintf("exception: %s (%s)", e.ExceptionDetails.Text, e.ExceptionDetails.URL)
	default:
		return
	}
	f.mu.Lock()
	f.logs = append(f.logs, line)
	f.mu.Unlock()
	if strings.Contains(line, "Content Security Policy") {
		f.cspOnce.Do(func() { close(f.sawCSP) })
	}
}

// cspViolations returns the messages so far that report a Content Security Policy violation.
func (f *fixture) cspViolations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.logs {
		if strings.Contains(l, "Content Security Policy") {
			out = append(out, l)
		}
	}
	return out
}

func (f *fixture) acsPosts() []acsPost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.posts)
}

// stepTimeout bounds one step, so that a stuck step leaves time to say where the browser is.
const stepTimeout = 20 * time.Second

// do runs browser actions and fails the test on an error.
func (f *fixture) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.browser, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		f.fatal(what, err)
	}
}

func run[T any](f *fixture, what string, a chromedp.Action[T]) T {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.browser, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		f.fatal(what, err)
	}
	return v
}

// fatal fails the test with where the browser is, what it shows and what its console said.
func (f *fixture) fatal(what string, err error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.browser, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	f.mu.Lock()
	logs := strings.Join(f.logs, "\n")
	f.mu.Unlock()
	f.t.Fatalf("%s: %v\nthe browser is at %s, showing:\n%s\nconsole:\n%s", what, err, loc, text, logs)
}

// screenshot saves a full-page PNG as NAME.png in screenshotDir.
func (f *fixture) screenshot(name string) {
	f.t.Helper()
	png := run(f, "screenshot "+name, chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		f.t.Fatalf("screenshot %s is not a PNG", name)
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// screenshotDir is where screenshots go: $ROLEGATE_SCREENSHOT_DIR when set (the README's pictures
// are refreshed with ROLEGATE_SCREENSHOT_DIR=$PWD/test-artifacts/screenshots), else a folder under
// the system's temporary directory, so that a test run never rewrites tracked files.
func screenshotDir() string {
	if dir := os.Getenv("ROLEGATE_SCREENSHOT_DIR"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "rolegate-e2e-screenshots")
}

// signIn signs alice in with her password and expects the portal.
func (f *fixture) signIn() {
	f.t.Helper()
	if loc := f.signInAs("alice", alicePW, portalPage, "login"); loc != f.base+"/" {
		f.t.Fatalf("after sign-in the browser is at %s, not the portal", loc)
	}
}

// Elements that only one page has: waiting for one after a click waits for that page.
const (
	portalPage       = chromedp.CSS(`ul.accounts`)
	mfaPage          = chromedp.CSS(`#mfa-title`)
	totpSetupPage    = chromedp.CSS(`#totp-secret`)
	recoveryPage     = chromedp.CSS(`#recovery-codes`)
	signInPage       = chromedp.CSS(`form[action="/login"] input[name=username]`)
	acsPage          = chromedp.CSS("#acs-received")
	shownAlert       = `p.alert:not([hidden])` // an error the page shows, not a security key's hidden one
	signOutButton    = chromedp.CSS(`form[action="/logout"] button[type=submit]`)
	mfaSettingsLink  = chromedp.CSS(`header a[href="/account/mfa"]`)
	totpConfirm      = chromedp.CSS(`form[action="/account/mfa/totp/confirm"] button[type=submit]`)
	mfaCodeSubmit    = chromedp.CSS(`form[action="/login/mfa"] button[type=submit]`)
	mfaCodeField     = chromedp.CSS(`form[action="/login/mfa"] input[name=code]`)
	noFactorsMessage = chromedp.CSS(`section[aria-labelledby=factors-title] p.muted`)
	enrolRefusal     = chromedp.CSS(`p#ask`)
)

// signInAs opens /login, fills the form by its field names, clicks the button, waits for the
// element that marks the page the password should lead to (the portal, or /login/mfa), and returns
// where the browser is. A refused password fails the test with what the page says. With a shot
// name, the sign-in page is saved as that screenshot first.
func (f *fixture) signInAs(name, pw string, landing chromedp.CSS, shot string) string {
	f.t.Helper()
	f.do("open the sign-in page",
		chromedp.Navigate(f.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
	)
	if shot != "" {
		f.screenshot(shot)
	}
	f.do("type the password of "+name,
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), pw),
	)
	f.clickThrough("sign in as "+name, chromedp.CSS(`form[action="/login"] button[type=submit]`), landing)
	if alert := f.alert(); alert != "" {
		f.mu.Lock()
		origin := f.loginOrigin
		f.mu.Unlock()
		hint := ""
		if origin == "null" {
			// Fetch ("serializing a request origin") makes a browser send "Origin: null" with a
			// POST from a page whose referrer policy is no-referrer, even to its own origin.
			hint = "\n(the browser sent Origin: null, as browsers do for a POST under Referrer-Policy: no-referrer)"
		}
		f.t.Fatalf("signing in with the browser failed: POST /login with Origin %q; the page says %q%s", origin, alert, hint)
	}
	return run(f, "location", chromedp.Location())
}

// clickThrough clicks target, which leads to another page, and waits for landing, or an error
// alert, on that new page. The page it leaves is marked first, so that nothing still on it (an
// alert shown before, say) can end the wait early; only a security key's error, which its script
// shows without leaving the page, counts there too.
func (f *fixture) clickThrough(what string, target, landing chromedp.CSS) {
	f.t.Helper()
	f.do(what,
		chromedp.Evaluate[chromedp.Void](`document.documentElement.setAttribute("data-e2e-left", "")`),
		chromedp.Click(target),
		chromedp.WaitVisible(chromedp.CSS(`html:not([data-e2e-left]) :is(`+string(landing)+`, `+shownAlert+`), `+
			`[data-webauthn-error]:not([hidden])`)),
	)
}

// alert is the text of the error the page shows, or "".
func (f *fixture) alert() string {
	f.t.Helper()
	return run(f, "read the alert", chromedp.Evaluate[string](
		`(document.querySelector("`+shownAlert+`") || {textContent: ""}).textContent.trim()`))
}

// signOut clicks "Sign out" in the top bar and waits for the sign-in page.
func (f *fixture) signOut() {
	f.t.Helper()
	f.clickThrough("sign out", signOutButton, signInPage)
	if loc := run(f, "location", chromedp.Location()); loc != f.base+"/login" {
		f.t.Fatalf("after signing out the browser is at %s", loc)
	}
}

// takeRole clicks a role link on the portal (or any link) and returns the one post that reached the
// fake ACS because of it.
func (f *fixture) takeRole(link chromedp.CSS) acsPost {
	f.t.Helper()
	before := len(f.acsPosts())
	f.clickThrough("follow "+string(link)+" to AWS", link, acsPage)
	if alert := f.alert(); alert != "" {
		f.t.Fatalf("following %s: the page says %q", link, alert)
	}
	if loc := run(f, "location", chromedp.Location()); loc != awsACS {
		f.t.Errorf("the browser is at %s; want %s", loc, awsACS)
	}
	posts := f.acsPosts()
	if len(posts) != before+1 {
		f.t.Fatalf("the ACS got %d posts; want %d", len(posts), before+1)
	}
	return posts[before]
}

// metadataCerts reads the signing certificates from Rolegate's published metadata.
func (f *fixture) metadataCerts() []*x509.Certificate {
	f.t.Helper()
	resp, err := http.Get(f.base + "/saml/metadata")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET /saml/metadata: %d %v", resp.StatusCode, err)
	}
	var out []*x509.Certificate
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.t.Fatalf("metadata: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "X509Certificate" {
			continue
		}
		var text string
		if err := dec.DecodeElement(&text, &se); err != nil {
			f.t.Fatal(err)
		}
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			f.t.Fatalf("metadata certificate: %v", err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			f.t.Fatalf("metadata certificate: %v", err)
		}
		if !slices.ContainsFunc(out, func(o *x509.Certificate) bool { return o.Equal(c) }) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		f.t.Fatalf("the metadata publishes no certificate:\n%s", body)
	}
	return out
}

// inspect decodes a posted SAMLResponse and checks it as AWS would; a Response AWS would refuse
// fails the test.
func (f *fixture) inspect(p acsPost, certs []*x509.Certificate) ([]byte, *assertions.Verdict) {
	f.t.Helper()
	if p.Host != "signin.aws.amazon.com" {
		f.t.Errorf("the ACS got Host %q", p.Host)
	}
	raw, err := base64.StdEncoding.DecodeString(p.SAMLResponse)
	if err != nil {
		f.t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	v := assertions.InspectAWS(raw, assertions.Expect{EntityID: f.base + "/saml/metadata", ACS: awsACS, Certs: certs, Now: time.Now()})
	if !v.Accepted {
		f.t.Fatalf("AWS would refuse the Response: %q\n%s", v.Problems, raw)
	}
	return raw, v
}

// checkResponse checks a posted SAMLResponse as AWS would, and that it is alice's Admin role in prod
// with her tag; it returns the Response and what AWS would read from it.
func (f *fixture) checkResponse(p acsPost, certs []*x509.Certificate) ([]byte, *assertions.Verdict) {
	f.t.Helper()
	raw, v := f.inspect(p, certs)
	wantRoles := []assertions.RolePair{{RoleARN: "arn:aws:iam::" + accountID + ":role/Admin",
		ProviderARN: "arn:aws:iam::" + accountID + ":saml-provider/Rolegate"}}
	if !slices.Equal(v.Roles, wantRoles) {
		f.t.Errorf("roles %+v; want %+v", v.Roles, wantRoles)
	}
	if v.SessionName != "alice" {
		f.t.Errorf("session name %q; want alice", v.SessionName)
	}
	if want := []assertions.Tag{{Key: "team", Value: "platform", Transitive: true}}; !slices.Equal(v.Tags, want) {
		f.t.Errorf("tags %+v; want %+v", v.Tags, want)
	}
	if !v.ResponseSigned {
		f.t.Errorf("the Response itself is not signed")
	}
	return raw, v
}

// TestBrowserSignInReachesAWS signs in with a real browser, takes the Admin role from the portal, and
// follows the auto-POST page to the (fake) AWS sign-in endpoint; the Response that arrives there is
// checked as AWS would and with xmlsec1.
func TestBrowserSignInReachesAWS(t *testing.T) {
	testtools.RequireTool(t, "xmlsec1", "xmlsec1")
	f := newFixture(t)
	f.signIn()

	// The portal: account prod with the roles Admin (direct) and ReadOnly (through devs), sorted.
	heading := run(f, "account heading", chromedp.Text(chromedp.CSS(`li.account h3`)))
	if h := strings.Join(strings.Fields(heading), " "); h != "prod "+accountID+" Copy ID" { // the script adds the copy button
		t.Errorf("the portal's account heading is %q", heading)
	}
	type link struct{ Text, Href string }
	links := run(f, "role links", chromedp.Evaluate[[]link](
		`[...document.querySelectorAll("a.role")].map(a => ({Text: a.textContent.trim(), Href: a.getAttribute("href")}))`))
	wantLinks := []link{
		{"Admin", "/aws/signin?account=" + accountID + "&role=Admin"},
		{"ReadOnly", "/aws/signin?account=" + accountID + "&role=ReadOnly"},
	}
	for i, l := range links {
		// Each link carries this session's token, which makes a click on it sign in at once.
		if tok := portalTokenRE.FindString(l.Href); tok == "" {
			t.Errorf("the portal's link %s carries no portal token", l.Href)
		} else {
			links[i].Href = strings.Replace(l.Href, tok, "", 1)
		}
	}
	if !slices.Equal(links, wantLinks) {
		t.Fatalf("the portal's role links are %+v; want %+v", links, wantLinks)
	}
	f.screenshot("portal")

	// A real click on Admin: the aws_post page must submit itself (its script runs only by its CSP
	// nonce), and the browser lands on the fake ACS.
	f.do("take the Admin role",
		chromedp.Click(chromedp.CSS(`a.role[href$="role=Admin"]`)),
		chromedp.WaitVisible(chromedp.ID("acs-received")),
	)
	if loc := run(f, "location", chromedp.Location()); loc != awsACS {
		t.Errorf("the browser is at %s; want %s", loc, awsACS)
	}
	if txt := run(f, "ACS page", chromedp.Text(chromedp.ID("acs-received"))); txt != "ACS received" {
		t.Errorf("ACS page says %q", txt)
	}
	f.screenshot("acs")
	if v := f.cspViolations(); len(v) > 0 {
		t.Errorf("the browser reported CSP violations on the way to AWS:\n%s", strings.Join(v, "\n"))
	}
	posts := f.acsPosts()
	if len(posts) != 1 {
		t.Fatalf("the ACS got %d posts; want 1", len(posts))
	}
	if posts[0].HasRelay {
		t.Errorf("the form posted RelayState %q though none was asked for", posts[0].RelayState)
	}
	certs := f.metadataCerts()
	raw, v := f.checkResponse(posts[0], certs)
	if v.AuthnContext != assertions.ContextPassword {
		t.Errorf("a password-only sign-in has AuthnContext %s; want %s", v.AuthnContext, assertions.ContextPassword)
	}

	// xmlsec1, trusting only the metadata certificate, verifies both signatures; a one-character
	// change inside the signed Assertion breaks both.
	if len(certs) != 1 {
		t.Fatalf("the metadata publishes %d certificates; want the one current key", len(certs))
	}
	for _, xp := range []string{samltest.AssertionSignature, samltest.ResponseSignature} {
		if err := samltest.VerifyXMLSec(t, raw, certs[0], xp); err != nil {
			t.Errorf("xmlsec1 rejects %s: %v", xp, err)
		}
	}
	const signed = `>alice</` // the RoleSessionName value, inside the signed Assertion
	if !bytes.Contains(raw, []byte(signed)) {
		t.Fatalf("no %s in the Response:\n%s", signed, raw)
	}
	tampered := bytes.Replace(raw, []byte(signed), []byte(`>alicf</`), 1)
	for _, xp := range []string{samltest.AssertionSignature, samltest.ResponseSignature} {
		if err := samltest.VerifyXMLSec(t, tampered, certs[0], xp); err == nil {
			t.Errorf("xmlsec1 accepts %s of a tampered Response", xp)
		}
	}
	if v := assertions.InspectAWS(tampered, assertions.Expect{EntityID: f.base + "/saml/metadata", ACS: awsACS,
		Certs: certs, Now: time.Now()}); v.Accepted {
		t.Errorf("InspectAWS accepts a tampered Response")
	}

	// A role that is not granted: the 403 page says so.
	resp := run(f, "ask for a role not granted",
		chromedp.NavigateResponse(f.base+"/aws/signin?account=prod&role=NotGranted"))
	if resp.Status != http.StatusForbidden {
		t.Errorf("a role not granted gets %d; want 403", resp.Status)
	}
	f.do("wait for the error page", chromedp.WaitVisible(chromedp.CSS(`p.alert`)))
	msg := run(f, "error message", chromedp.Text(chromedp.CSS(`p.alert`)))
	if want := "you may not sign in with that link"; !strings.Contains(msg, want) || strings.Contains(msg, "NotGranted") {
		t.Errorf("the 403 page says %q; want %q", msg, want)
	}
	f.screenshot("forbidden")
	if len(f.acsPosts()) != 1 {
		t.Errorf("a refused sign-in posted to the ACS")
	}

	// The listener does see CSP violations: a page that breaks its own policy is reported.
	f.do("open the CSP canary", chromedp.Navigate("https://signin.aws.amazon.com/csp-canary"),
		chromedp.WaitVisible(chromedp.ID("canary")))
	if title := run(f, "canary title", chromedp.Title()); title != "canary" {
		t.Errorf("the canary's inline script ran despite its CSP (title %q)", title)
	}
	select {
	case <-f.sawCSP:
	case <-time.After(5 * time.Second):
		f.mu.Lock()
		t.Errorf("the console listener saw no CSP violation on a page that has one; messages:\n%s", strings.Join(f.logs, "\n"))
		f.mu.Unlock()
	}
}

// portalTokenRE finds the token of a portal link, with the separator before it.
var portalTokenRE = regexp.MustCompile(`&portal_token=[A-Za-z0-9_-]+`)

// TestBrowserWithoutJavaScriptContinuesByHand: with scripts off the aws_post page does not submit
// itself; it shows "Continue to AWS", and clicking it posts the Response to the ACS.
func TestBrowserWithoutJavaScriptContinuesByHand(t *testing.T) {
	f := newFixture(t)
	if _, err := chromedp.Call(f.browser, emulation.SetScriptExecutionDisabled,
		emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	f.signIn()
	signin := f.base + "/aws/signin?account=" + accountID + "&portal_token="
	button := chromedp.CSS(`#aws-form button[type=submit]`)
	f.do("take the Admin role",
		chromedp.Click(chromedp.CSS(`a.role[href$="role=Admin"]`)),
		chromedp.WaitVisible(button),
	)
	if loc := run(f, "location", chromedp.Location()); !strings.HasPrefix(loc, signin) || !strings.HasSuffix(loc, "&role=Admin") {
		t.Fatalf("the browser is at %s; want the portal's link %s…&role=Admin", loc, signin)
	}
	if txt := run(f, "button", chromedp.Text(button)); txt != "Continue to AWS" {
		t.Errorf("the button says %q", txt)
	}
	if n := len(f.acsPosts()); n != 0 {
		t.Fatalf("with scripts off the page posted %d times by itself", n)
	}
	f.screenshot("noscript")
	f.do("continue by hand",
		chromedp.Click(button),
		chromedp.WaitVisible(chromedp.ID("acs-received")),
	)
	posts := f.acsPosts()
	if len(posts) != 1 {
		t.Fatalf("the ACS got %d posts; want 1", len(posts))
	}
	f.checkResponse(posts[0], f.metadataCerts())
	if v := f.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(v, "\n"))
	}
}
