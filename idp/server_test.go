package idp_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rolegate/assertions/samltest"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/store/sqlstore"
)

type fixture struct {
	srv   *httptest.Server
	store *sqlstore.Store
	ring  *certs.Keyring
}

func newFixture(t *testing.T, proxies ...string) *fixture {
	t.Helper()
	st := idptest.NewStore(t)
	ring := idptest.NewRing(t, st, nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(idp.New(idp.Config{BaseURL: "https://idp.example.com", TrustedProxies: proxies}, st, ring, log).Handler())
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, store: st, ring: ring}
}

func (f *fixture) get(t *testing.T, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// metadataCerts returns the signing certificates the metadata publishes, in order.
func metadataCerts(t *testing.T, md []byte) []string {
	t.Helper()
	var doc struct {
		IDP struct {
			Keys []struct {
				Use  string `xml:"use,attr"`
				Cert string `xml:"KeyInfo>X509Data>X509Certificate"`
			} `xml:"IDPSSODescriptor>KeyDescriptor"`
		}
	}
	if err := xml.Unmarshal(md, &doc.IDP); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range doc.IDP.Keys {
		if k.Use != "signing" {
			t.Fatalf("KeyDescriptor use %q", k.Use)
		}
		out = append(out, k.Cert)
	}
	return out
}

func TestMetadataPublishesTheKeyringThroughARotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	resp, md := f.get(t, "/saml/metadata")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/samlmetadata+xml; charset=utf-8" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := samltest.ValidateSchema(t, md, "saml-schema-metadata-2.0.xsd"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), `entityID="https://idp.example.com/saml/metadata"`) {
		t.Fatalf("entityID missing:\n%s", md)
	}
	cur, err := f.ring.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bits := cur.Cert.PublicKey.(*rsa.PublicKey).N.BitLen(); bits < 2048 {
		t.Fatalf("signing key has %d bits", bits)
	}
	first := base64.StdEncoding.EncodeToString(cur.Cert.Raw)
	if got := metadataCerts(t, md); len(got) != 1 || got[0] != first {
		t.Fatalf("before rotation the metadata lists %d certificates", len(got))
	}

	step := func(want string) {
		t.Helper()
		if st, err := f.ring.Rotate(ctx, nil, false); err != nil || st.Action != want {
			t.Fatalf("rotate: %+v %v; want %s", st, err, want)
		}
	}
	step(certs.Staged)
	_, md = f.get(t, "/saml/metadata")
	got := metadataCerts(t, md)
	if len(got) != 2 || got[0] != first || got[1] == first {
		t.Fatalf("during rotation the metadata must list the current then the next certificate; got %d", len(got))
	}
	if err := samltest.ValidateSchema(t, md, "saml-schema-metadata-2.0.xsd"); err != nil {
		t.Fatal(err)
	}
	next := got[1]

	step(certs.Activated)
	_, md = f.get(t, "/saml/metadata")
	if got := metadataCerts(t, md); len(got) != 2 || got[0] != next || got[1] != first {
		t.Fatalf("after activation the metadata must list the activated certificate, then the previous one")
	}
	f.ring.Settle = 0 // no replica of this test signs with the previous key
	step(certs.Retired)
	_, md = f.get(t, "/saml/metadata")
	if got := metadataCerts(t, md); len(got) != 1 || got[0] != next {
		t.Fatalf("after retirement the metadata must list only the activated certificate")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, body := f.get(t, path); resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	f.store.Close() // the database goes away
	if resp, body := f.get(t, "/readyz"); resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), "sql") {
		t.Fatalf("/readyz with the database gone: %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.get(t, "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz must not depend on the database: %d", resp.StatusCode)
	}
}

func TestErrorsAreJSONThatNamesTheProblemForClientsThatAskForIt(t *testing.T) {
	f := newFixture(t)
	for _, accept := range []string{"application/json", "application/problem+json, text/html;q=0.5", "text/html;q=0, application/json"} {
		resp, body := f.get(t, "/no/such/page", "Accept", accept)
		var e struct{ Error, Code, RequestID string }
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 404 || e.Code != "not_found" || !strings.Contains(e.Error, "/no/such/page") {
			t.Fatalf("404 with Accept %q: %d %s", accept, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/healthz", strings.NewReader("x"))
	req.Header.Set("Accept", "application/json")
	post, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Error, Code string }
	err = json.NewDecoder(post.Body).Decode(&e)
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed || err != nil || !strings.Contains(e.Error, "POST is not allowed on /healthz") {
		t.Fatalf("POST /healthz asking for JSON: %d %+v %v", post.StatusCode, e, err)
	}
}

func TestBrowsersGetHTMLPagesFor404And405(t *testing.T) {
	f := newFixture(t)
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, tc := range []struct {
		name, method, path, accept string
		status                     int
		says                       string
	}{
		{"a browser's GET of no page", http.MethodGet, "/no/such/page", browser, 404, "no page at /no/such/page"},
		{"a GET that asks for nothing in particular", http.MethodGet, "/no/such/page", "", 404, "no page at /no/such/page"},
		{"a missing asset", http.MethodGet, "/assets/missing.css", "*/*", 404, "no page at /assets/missing.css"},
		{"a browser's POST to a GET-only page", http.MethodPost, "/healthz", browser, 405, "POST is not allowed on /healthz"},
		{"a browser's DELETE of the sign-in page", http.MethodDelete, "/login", browser, 405, "DELETE is not allowed on /login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := string(body)
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(page, "<!doctype html>") || !strings.Contains(idptest.Alert(page), tc.says) {
				t.Fatalf("%d %s; want a %d HTML page saying %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.says, page)
			}
			if tc.status == 405 && !strings.Contains(resp.Header.Get("Allow"), "GET") {
				t.Errorf("the 405 answer has Allow %q; want the methods that work, GET among them", resp.Header.Get("Allow"))
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'nonce-") {
				t.Errorf("the error page's CSP %q is not the pages' policy", csp)
			}
		})
	}
}

func TestRequestIDsAndSecurityHeaders(t *testing.T) {
	direct, proxied := newFixture(t), newFixture(t, "127.0.0.0/8") // the test client is 127.0.0.1
	for _, tc := range []struct {
		name, sent string
		f          *fixture
		kept       bool
	}{
		{"a well-formed ID from a trusted proxy is kept", "abc-123-DEF.456_x", proxied, true},
		{"a well-formed ID from an untrusted client is replaced", "abc-123-DEF.456_x", direct, false},
		{"an ID with odd characters is replaced", "abc 123\"<script>", proxied, false},
		{"an overlong ID is replaced", strings.Repeat("a", 65), proxied, false},
		{"no ID gets one", "", proxied, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := tc.f.get(t, "/healthz", "X-Request-ID", tc.sent)
			got := resp.Header.Get("X-Request-ID")
			if (got == tc.sent) != tc.kept || len(got) < 8 {
				t.Fatalf("sent %q, got %q", tc.sent, got)
			}
			for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
				"Cache-Control": "no-store", "Cross-Origin-Opener-Policy": "same-origin",
				"Strict-Transport-Security": "max-age=63072000; includeSubDomains"} {
				if resp.Header.Get(h) != want {
					t.Fatalf("%s = %q", h, resp.Header.Get(h))
				}
			}
			if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatalf("CSP = %q", resp.Header.Get("Content-Security-Policy"))
			}
		})
	}
}

func TestBootstrapAdminOnlyOnAnEmptyStore(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	h := idptest.NewHasher()
	pw, err := idp.BootstrapAdmin(ctx, f.store, h, time.Now())
	if err != nil || len(pw) < 20 {
		t.Fatalf("first bootstrap: %q %v", pw, err)
	}
	u, err := f.store.GetUser(ctx, "admin")
	if err != nil || !u.MustChangePassword {
		t.Fatalf("admin: %+v %v", u, err)
	}
	if ok, _, err := h.Verify(ctx, pw, u.PasswordHash); !ok || err != nil {
		t.Fatalf("the printed password does not verify: %v", err)
	}
	again, err := idp.BootstrapAdmin(ctx, f.store, h, time.Now())
	if err != nil || again != "" {
		t.Fatalf("second bootstrap returned %q, %v: the password is shown once", again, err)
	}
}

func TestTrustedProxiesThatSpanTheInternetAreRefused(t *testing.T) {
	for _, tc := range []struct {
		proxy string
		ok    bool
	}{
		{"0.0.0.0/0", false}, {"::/0", false}, {"128.0.0.0/1", false}, {"0.0.0.0/7", false},
		{"::ffff:0:0/96", false}, // every IPv4 address, written as IPv6
		// Every IPv4 client as an IPv6-only server behind NAT64/SIIT sees it, and every 6to4 address.
		{"64:ff9b::/96", false}, {"64:ff9b::/100", false}, {"2002::/16", false}, {"2002::/20", false},
		{"64:ff9b::a00:0/104", true}, {"64:ff9b::a00:1", true}, {"2002:c000:200::/40", true},
		{"2000::/3", false}, {"2001:db8::/15", false}, {"fc00::/6", false},
		{"10.0.0.0/8", true}, {"192.168.1.10", true}, {"::ffff:10.0.0.0/104", true},
		{"fc00::/7", true}, {"fd12:3456::/32", true}, {"2001:db8::/16", true}, {"2001:db8::1", true},
		{"not-an-ip", false},
	} {
		err := idp.CheckProxies([]string{tc.proxy})
		if (err == nil) != tc.ok {
			t.Errorf("CheckProxies(%q) = %v; want ok %v", tc.proxy, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.proxy) {
			t.Errorf("the refusal %q does not name %q", err, tc.proxy)
		}
	}
}
