package idp_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

// routes lists every route the server has, demo ones included.
func routes(t *testing.T) gin.RoutesInfo {
	t.Helper()
	h := idp.New(idp.Config{BaseURL: "http://localhost", DemoAccounts: []string{idp.DemoAccount}}, nil, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
	e, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("the handler is a %T, not a gin engine whose routes can be listed", h)
	}
	return e.Routes()
}

// oneTimeAllowed are the routes a session with a one-time password may use.
var oneTimeAllowed = map[string]bool{
	"GET /account/password": true, "POST /account/password": true, "POST /logout": true,
	"GET /login": true, "POST /login": true, "GET /login/mfa": true, "POST /login/mfa": true,
	"POST /login/mfa/webauthn/begin": true, "POST /login/mfa/webauthn": true,
	"GET /assets/*filepath": true, "HEAD /assets/*filepath": true, "GET /favicon.ico": true, "HEAD /favicon.ico": true,
	"GET /healthz": true, "GET /readyz": true, "GET /saml/metadata": true,
}

func TestAOneTimePasswordSessionReachesNothingButThePasswordChange(t *testing.T) {
	w := idptest.NewAWSWeb(t, "111122223333") // demo mode too, for its routes
	ctx := context.Background()
	const oneTime = "one-time-password-1"
	w.AddUser(t, "admin", oneTime, func(u *store.User) {
		u.MustChangePassword, u.PasswordExpiresAt = true, w.Clock.Now().Add(idp.OneTimePasswordTTL)
	})
	if err := w.Store.CreateGrant(ctx, &store.Grant{User: "admin", AccountID: "prod", Role: "Admin"}); err != nil {
		t.Fatal(err)
	}
	w.OpenWindow(t, "", time.Hour) // so that alice's enrolment below is not refused for want of an invite
	admin, alice := w.Browser(t), w.Browser(t)
	admin.Login("admin", oneTime)
	alice.Login("alice", "correct horse battery")
	csrf := admin.Token("/account/password") // a valid token: the refusal must not come from a missing one

	var walked int
	for _, r := range routes(t) {
		route := r.Method + " " + r.Path
		if oneTimeAllowed[route] {
			continue
		}
		walked++
		path := strings.NewReplacer("*filepath", "style.css", ":id", "1").Replace(r.Path) + "?account=prod&role=Admin"
		t.Run(route, func(t *testing.T) {
			var form url.Values
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				form = url.Values{"csrf_token": {csrf}, "account": {"prod"}}
			}
			resp, body := admin.Do(r.Method, path, form)
			switch r.Method {
			case http.MethodGet, http.MethodHead:
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/account/password") {
					t.Fatalf("%d to %q; want 303 to the password change\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
				}
			default:
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(idptest.Alert(body), "change your one-time password first") {
					t.Fatalf("%d %q; want 403 saying to change the one-time password first", resp.StatusCode, idptest.Alert(body))
				}
			}
		})
	}
	if walked < 10 {
		t.Fatalf("walked only %d routes: the route list is not the server's", walked)
	}
	if got := w.AuditOf(t, "assertion"); len(got) != 0 {
		t.Fatalf("a one-time password session got assertions: %q", got)
	}
	// The same requests from a full session are not stopped: the gate above is what refused.
	if resp, body := alice.Get("/aws/signin?account=prod&role=Admin"); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice's sign-in: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := alice.Post("/account/mfa", "/account/mfa/totp", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice's enrollment: %d", resp.StatusCode)
	}
	// The password change itself works, and then everything does.
	resp, body := admin.Do(http.MethodPost, "/account/password", url.Values{"csrf_token": {csrf},
		"current_password": {oneTime}, "new_password": {"a much longer passphrase"}, "confirm_password": {"a much longer passphrase"}})
	idptest.WantRedirect(t, resp, body, "/")
	if resp, _ := admin.Get("/aws/signin?account=prod&role=Admin"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the change, the sign-in: %d", resp.StatusCode)
	}
}

func TestAnExpiredOneTimePasswordSignsNoOneIn(t *testing.T) {
	w := idptest.NewWeb(t)
	const oneTime = "one-time-password-1"
	w.AddUser(t, "admin", oneTime, func(u *store.User) {
		u.MustChangePassword, u.PasswordExpiresAt = true, w.Clock.Now().Add(idp.OneTimePasswordTTL)
	})
	w.Clock.Advance(idp.OneTimePasswordTTL - time.Minute)
	early := w.Browser(t)
	resp, body := early.Login("admin", oneTime)
	idptest.WantRedirect(t, resp, body, "/account/password")
	csrf := early.Token("/account/password")

	w.Clock.Advance(time.Minute)
	resp, body = w.Browser(t).Login("admin", oneTime)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(idptest.Alert(body), "rolegate user passwd admin") || w.Browser(t).SignedIn() {
		t.Fatalf("the expired one-time password: %d %q; want 401 saying to run rolegate user passwd admin", resp.StatusCode, idptest.Alert(body))
	}
	// A wrong password still gets the one answer: the expiry tells nothing to who lacks the password.
	if resp, body := w.Browser(t).Login("admin", "wrong-password-0"); idptest.Alert(body) != "Wrong username or password." {
		t.Fatalf("a wrong password after the expiry: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	// A session from before the expiry cannot use the expired password to set a new one.
	resp, body = early.Do(http.MethodPost, "/account/password", url.Values{"csrf_token": {csrf},
		"current_password": {oneTime}, "new_password": {"a much longer passphrase"}, "confirm_password": {"a much longer passphrase"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(idptest.Alert(body), "rolegate user passwd admin") {
		t.Fatalf("changing an expired one-time password: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	if u, _ := w.Store.GetUser(context.Background(), "admin"); !u.MustChangePassword {
		t.Fatal("the expired password was changed")
	}
	if got := w.AuditOf(t, "login"); !strings.Contains(strings.Join(got, ","), "admin expired") {
		t.Errorf("the refused sign-in is not audited as expired: %q", got)
	}
}

func TestAOneTimePasswordIsChangedBeforeASecondFactorIsSetUp(t *testing.T) {
	w := idptest.NewAWSWebWith(t, func(cfg *idp.Config) { cfg.RequireMFA = true })
	const oneTime = "one-time-password-1"
	w.AddUser(t, "admin", oneTime, func(u *store.User) { u.MustChangePassword = true })
	b := w.Browser(t)
	resp, body := b.Login("admin", oneTime)
	idptest.WantRedirect(t, resp, body, "/account/password")
	resp, body = b.Get("/account/mfa") // enrollment waits for the change
	idptest.WantRedirect(t, resp, body, "/account/password?next=%2Faccount%2Fmfa")
	resp, body = b.Do(http.MethodPost, "/account/password", url.Values{"csrf_token": {b.Token("/account/password")},
		"current_password": {oneTime}, "new_password": {"a much longer passphrase"}, "confirm_password": {"a much longer passphrase"}})
	idptest.WantRedirect(t, resp, body, "/")
	resp, body = b.Get("/")
	idptest.WantRedirect(t, resp, body, "/login/mfa")
}

var (
	requestIDRE = regexp.MustCompile(`<code>[0-9a-f]{24}</code>`)
	nonceAttrRE = regexp.MustCompile(`nonce="[^"]*"`)
)

func TestAnUnknownAccountAnUngrantedOneAndAnUngrantedRoleGetByteIdenticalRefusals(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	if err := w.Store.CreateAccount(context.Background(), &store.Account{ID: "777788889999", Alias: "sekrit-acct",
		ProviderName: "Rolegate", Partition: store.PartitionAWS, RequireMFA: true}); err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	var first string
	for _, path := range []string{
		"/aws/signin?account=999999999999",
		"/aws/signin?account=nosuch-alias",
		"/aws/signin?account=sekrit-acct",
		"/aws/signin?account=777788889999&role=Admin",
		"/aws/signin?account=prod&role=RootRole",
		"/aws/signin?account=sekrit-acct&relay_state=" + url.QueryEscape("https://evil.example/"), // grants come before RelayState
		"/aws/signin?account=nosuch-alias&region=cn-north-1",
	} {
		resp, body := b.Get(path)
		norm := nonceAttrRE.ReplaceAllString(requestIDRE.ReplaceAllString(body, ""), "")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d; want 403", path, resp.StatusCode)
		}
		for _, leak := range []string{"999999999999", "nosuch", "sekrit", "777788889999", "RootRole", "evil.example", "cn-north-1"} {
			if strings.Contains(html.UnescapeString(body), leak) {
				t.Errorf("%s: the refusal echoes %q", path, leak)
			}
		}
		if first == "" {
			first = norm
		} else if norm != first {
			t.Errorf("%s: the refusal differs from the first one:\n%s\n---\n%s", path, norm, first)
		}
	}
	if got := w.AuditOf(t, "assertion"); len(got) != 7 || strings.Contains(strings.Join(got, ","), "alice ok") {
		t.Errorf("refusals audited %q; want 7 refusals", got)
	}
}

func TestTheDemoAndAdminPasswordsExpireOnlyWhenOneTime(t *testing.T) {
	w := idptest.NewWeb(t)
	pw, err := idp.BootstrapAdmin(context.Background(), w.Store, w.Hasher, w.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, err := w.Store.GetUser(context.Background(), "admin")
	if err != nil || !u.PasswordExpiresAt.Equal(w.Clock.Now().Add(24*time.Hour)) || !u.MustChangePassword {
		t.Fatalf("the bootstrap admin: %+v %v; want a one-time password expiring in 24 h", u, err)
	}
	w.Clock.Advance(24*time.Hour - time.Second)
	if resp, body := w.Browser(t).Login("admin", pw); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a second before the expiry: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	w.Clock.Advance(time.Second)
	if resp, _ := w.Browser(t).Login("admin", pw); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("at the expiry: %d", resp.StatusCode)
	}
}

// A one-time password set before they expired (a store upgraded with the admin's password never
// changed, perhaps still in a kept log) gets 24 hours from the next start, not forever.
func TestAOneTimePasswordFromBeforeTheUpgradeExpiresAfterTheNextStart(t *testing.T) {
	w := idptest.NewWeb(t)
	w.AddUser(t, "admin", idptest.GoodPassword, func(u *store.User) { u.MustChangePassword = true })
	w.AddUser(t, "alice", idptest.GoodPassword)
	if pw, err := idp.BootstrapAdmin(context.Background(), w.Store, w.Hasher, w.Clock.Now()); err != nil || pw != "" {
		t.Fatalf("bootstrap on a store with users: %q %v", pw, err)
	}
	w.Clock.Advance(24 * time.Hour)
	if resp, _ := w.Browser(t).Login("admin", idptest.GoodPassword); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old one-time password a day after the start: %d", resp.StatusCode)
	}
	idptest.WantRedirect(t, first(w.Browser(t).Login("alice", idptest.GoodPassword)), "", "/")
	if u, err := w.Store.GetUser(context.Background(), "alice"); err != nil || !u.PasswordExpiresAt.IsZero() {
		t.Fatalf("an ordinary password got an expiry: %+v %v", u, err)
	}
}

// One reading of --trusted-proxies decides both whose X-Forwarded-For is believed and whose
// X-Request-ID is kept: a proxy written as an IPv4-mapped address is one proxy to both.
func TestAProxyWrittenAsAnIPv4MappedAddressIsTrustedForTheClientAddressToo(t *testing.T) {
	for _, proxy := range []string{"127.0.0.1", "::ffff:127.0.0.1", "::ffff:127.0.0.0/104"} {
		w := idptest.NewWebWith(t, func(cfg *idp.Config) { cfg.TrustedProxies = []string{proxy} })
		b := w.BrowserAt(t, "203.0.113.9")
		resp, _ := b.Do(http.MethodGet, "/login", nil, "X-Request-ID", "proxied-id-1234")
		if got := resp.Header.Get("X-Request-ID"); got != "proxied-id-1234" {
			t.Errorf("%s: the proxy's X-Request-ID was replaced by %q", proxy, got)
		}
		b.Login("nobody", "wrong")
		events, err := w.Store.ListAudit(context.Background(), store.AuditFilter{})
		if err != nil || len(events) != 1 || events[0].ClientAddr != "203.0.113.9" {
			t.Errorf("%s: the sign-in was seen from %+v (%v); want the client the proxy named", proxy, events, err)
		}
	}
}

// readLog records the store reads that decide a sign-in link's refusal.
type readLog struct {
	store.Store
	mu    sync.Mutex
	reads []string
}

func (l *readLog) note(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads = append(l.reads, what)
}

func (l *readLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := strings.Join(l.reads, ",")
	l.reads = nil
	return out
}

func (l *readLog) GetAccount(ctx context.Context, aliasOrID string) (*store.Account, error) {
	l.note("GetAccount")
	return l.Store.GetAccount(ctx, aliasOrID)
}

func (l *readLog) ListGrants(ctx context.Context, f store.GrantFilter) ([]*store.Grant, error) {
	l.note("ListGrants")
	return l.Store.ListGrants(ctx, f)
}

// Not even the work done tells an unknown account from one the user holds no role in: the same
// reads come before each refusal, so their timing is alike too.
func TestAnUnknownAccountAndAnUngrantedOneAreRefusedAfterTheSameReads(t *testing.T) {
	st := idptest.NewStore(t)
	w := &idptest.Web{Store: st, Clock: idptest.NewClock(time.Now().UTC()), Hasher: idptest.NewHasher()}
	log := &readLog{Store: st}
	w.Srv = httptest.NewServer(idp.New(idp.Config{BaseURL: "http://localhost", Hasher: w.Hasher, Now: w.Clock.Now}, log, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil))).Handler())
	t.Cleanup(w.Srv.Close)
	w.AddUser(t, "alice", idptest.GoodPassword)
	ctx := context.Background()
	for _, a := range []*store.Account{{ID: "111122223333", Alias: "prod"}, {ID: "777788889999", Alias: "sekrit"}} {
		a.ProviderName, a.Partition = "Rolegate", store.PartitionAWS
		if err := st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "prod", Role: "ReadOnly"}); err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
	var want string
	for _, link := range []string{"account=999999999999", "account=sekrit", "account=prod&role=Admin"} {
		log.take()
		if resp, _ := b.Get("/aws/signin?" + link); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %d; want 403", link, resp.StatusCode)
		}
		got := log.take()
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("%s: reads %q before the refusal; the unknown account's were %q", link, got, want)
		}
	}
}
