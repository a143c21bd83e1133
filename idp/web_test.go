package idp

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// newTestServer is a server without a store: enough for pages shown to a browser with no session.
func newTestServer() *Server {
	return New(Config{BaseURL: "https://idp.example.com"}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func testContext(method, target string) (*gin.Context, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(method, target, nil)
	return c, rec
}

func TestPageSetsAStrictPolicyWithTheHandlersFormActions(t *testing.T) {
	s := newTestServer()
	c, rec := testContext(http.MethodGet, "/aws/signin")
	c.Set("form_action", []string{"https://signin.aws.amazon.com", "https://x; script-src *", "'unsafe-inline'", ""})
	s.page(c, http.StatusOK, "error", gin.H{"Title": "Check", "Message": "hello"})

	policy := rec.Header().Get("Content-Security-Policy")
	m := regexp.MustCompile(`^default-src 'none'; script-src 'nonce-([A-Za-z0-9_-]{22})'; style-src 'self'; img-src 'self' data:; connect-src 'self'; ` +
		`form-action 'self' https://signin\.aws\.amazon\.com; frame-ancestors 'none'; base-uri 'none'$`).FindStringSubmatch(policy)
	if m == nil {
		t.Fatalf("CSP %q", policy)
	}
	body := rec.Body.String()
	for _, want := range []string{`<html lang="en">`, "<title>Check · Rolegate</title>", "hello", `href="/assets/style.css?v=`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "no value") {
		t.Errorf("a missing field shows up in the page:\n%s", body)
	}
	if sc := rec.Header().Get("Set-Cookie"); !strings.HasPrefix(sc, s.cookieName(csrfCookie)+"=") || !strings.HasPrefix(sc, "__Host-rg_csrf_") || !strings.Contains(sc, "Secure") {
		t.Errorf("a page before sign-in sets the double-submit cookie: %q", sc)
	}

	c2, rec2 := testContext(http.MethodGet, "/login")
	s.page(c2, http.StatusOK, "login", nil)
	if strings.Contains(rec2.Header().Get("Content-Security-Policy"), m[1]) {
		t.Error("two responses share a nonce")
	}
}

func TestFailPageShowsTheMessageButNeverInternalDetails(t *testing.T) {
	s := newTestServer()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		shown  string
	}{
		{"an invalid request", store.Errorf(store.Invalid, "the account is unknown"), 400, "the account is unknown"},
		{"a forbidden one", store.Errorf(store.Forbidden, "not yours"), 403, "not yours"},
		{"an internal error", errors.New("sql: table sessions is locked"), 500, "internal error"},
		{"a wrapped internal error", &store.Error{Code: store.Internal, Message: "db down", Err: errors.New("dial tcp")}, 500, "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := testContext(http.MethodGet, "/x")
			s.failPage(c, tc.err)
			body := rec.Body.String()
			if rec.Code != tc.status || !strings.Contains(body, tc.shown) || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("%d %q\n%s", rec.Code, rec.Header().Get("Content-Type"), body)
			}
			if strings.Contains(body, "sql") || strings.Contains(body, "dial") || strings.Contains(body, "db down") {
				t.Fatalf("internal details shown:\n%s", body)
			}
			if !c.IsAborted() {
				t.Error("failPage does not abort the handler chain")
			}
		})
	}
}

func TestAssetsAreServedByExactNameWithLongCaching(t *testing.T) {
	srv := httptest.NewServer(newTestServer().Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/assets/style.css", 200},
		{"/assets/style.css?v=0123456789ab", 200},
		{"/assets/", 404},
		{"/assets", 404},
		{"/assets/missing.css", 404},
		{"/assets/../web.go", 404},
		{"/assets/%2e%2e/web.go", 404},
		{"/assets/assets/style.css", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%d; want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 200 {
				if resp.Header.Get("Content-Type") != "text/css; charset=utf-8" ||
					resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
					!strings.Contains(string(body), ":focus-visible") {
					t.Fatalf("headers %v", resp.Header)
				}
			}
		})
	}
}

func TestLocalNextKeepsOnlyPathsOfThisSite(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/aws/signin?account=1&role=R", "/aws/signin?account=1&role=R"},
		{"/a%20b", "/a%20b"},
		{"/caf\u00e9", "/caf\u00e9"},
		{"", "/"},
		{"a", "/"},
		{"//evil.com", "/"},
		{`/\evil.com`, "/"},
		{"/%2F%2Fevil.com", "/"},
		{"/%5cevil.com", "/"},
		{"http://evil.com/", "/"},
		{"/\x00", "/"},
		{"/\u0085", "/"},
		{"/%0a", "/"},
		{"/" + strings.Repeat("a", 2048), "/"},
		{"/\xff", "/"},
	} {
		if got := localNext(tc.in); got != tc.want {
			t.Errorf("localNext(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalOriginDropsDefaultPortsAndCase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://IdP.Example.com", "https://idp.example.com"},
		{"https://idp.example.com:443/base/path", "https://idp.example.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:80", "http://[::1]"},
		{"null", ""},
	} {
		if got := normalOrigin(tc.in); got != tc.want {
			t.Errorf("normalOrigin(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
